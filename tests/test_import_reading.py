"""Reading import files: file types, encodings, delimiters, header search and the end of the data.

The helpers at the top build every test file (all people invented) and are shared by the other
test_import_* modules.
"""
import csv
import zipfile
from datetime import date

import pytest
import xlsxwriter

from webapp.importing import Refused
from webapp.importing import dtsen
from webapp.importing import fields
from webapp.importing import reading

TODAY = date(2026, 6, 1)
KK1 = "3205221203150001"
KK2 = "3205221203150002"
HEADER = ["NO KK", "NIK", "NAMA", "HUBUNGAN", "JENIS KELAMIN", "TANGGAL LAHIR", "RT", "RW", "DUSUN", "DESIL",
          "KETERANGAN KEBERADAAN"]


def nik(serial, female=False):
    """A synthetic NIK: Cikajang area code, birth date 20-05-1980 (+40 for women), serial."""
    return f"320522{60 if female else 20}0580{serial:04d}"


def person(kk=KK1, serial=1, nama="Budi Santoso", hubungan="Kepala Keluarga", jk="L", lahir="20-05-1980",
           rt="1", rw="2", dusun="Sukamaju", desil="3", keberadaan="Tinggal bersama", **cells):
    """One person row in HEADER order; cells={"NIK": value} overrides a column by header."""
    row = dict(zip(HEADER, [kk, nik(serial, jk == "P"), nama, hubungan, jk, lahir, rt, rw, dusun, desil,
                            keberadaan]))
    row.update({key.replace("_", " "): value for key, value in cells.items()})
    return [row[h] for h in HEADER]


def family(kk=KK1, first=1, **kepala):
    """A kepala keluarga, an istri and a child on one No KK."""
    return [person(kk, first, **kepala), person(kk, first + 1, "Siti Aminah", "Istri", "P"),
            person(kk, first + 2, "Rina", "Anak", "P", "02-03-2010")]


def write_xlsx(path, rows, sheet="Data", options=None, build=None):
    """Write rows with XlsxWriter: str as text, int/float as number, date as a date cell, None as blank."""
    book = xlsxwriter.Workbook(str(path), options or {})
    when = book.add_format({"num_format": "dd-mm-yyyy"})
    ws = book.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if cell is None:
                continue
            if isinstance(cell, str):
                ws.write_string(r, c, cell)
            elif isinstance(cell, date):
                ws.write_datetime(r, c, cell, when)
            elif isinstance(cell, bool):
                ws.write_boolean(r, c, cell)
            else:
                ws.write_number(r, c, cell)
    if build:
        build(book, ws)
    book.close()
    return path


def write_csv(path, rows, delimiter=",", encoding="utf-8"):
    """Write rows as CSV text."""
    with open(path, "w", newline="", encoding=encoding) as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def staged_file(tmp_path, rows, name="data.xlsx", **kwargs):
    """Write rows to a file of the kind its name says and stage it as DTSEN data."""
    path = tmp_path / name
    if name.endswith(".csv"):
        write_csv(path, rows)
    else:
        write_xlsx(path, rows)
    return dtsen.stage(path, today=TODAY, **kwargs)


def messages(staged):
    """Every rejection message of a staged file, in order."""
    return [message for item in staged["rejected"] for message in item["messages"]]


def warning_texts(staged):
    """Every warning text of a staged file."""
    return [w["text"] for w in staged["warnings"]]


def table(path, **kwargs):
    """Open a file's table with the DTSEN fields."""
    return reading.open_table(path, fields.DTSEN, **kwargs)


def test_xlsx_rows_keep_their_spreadsheet_numbers_and_cell_types(tmp_path):
    rows = [["Data DTSEN Desa Mekarsari"], [], HEADER, person(), [], person(KK2, 7, NIK=3205222005800007)]
    found = table(write_xlsx(tmp_path / "a.xlsx", rows))
    assert (found.sheet, found.header_row, found.headers[:3]) == ("Data", 3, ["NO KK", "NIK", "NAMA"])
    data = list(found.rows)
    assert [number for number, _ in data] == [4, 6]
    assert data[0][1][1] == nik(1) and data[1][1][1] == 3205222005800007.0


def test_header_found_when_data_starts_at_a_later_column(tmp_path):
    rows = [[None, None, "Rekap"], [], [None, None, *HEADER], [None, None, *person()]]
    found = table(write_xlsx(tmp_path / "a.xlsx", rows))
    assert found.header_row == 3 and list(found.rows)[0][0] == 4
    assert found.columns[0] == "no_kk"


def test_header_must_be_within_15_rows(tmp_path):
    rows = [[f"catatan {n}"] for n in range(15)] + [HEADER, person()]
    with pytest.raises(Refused, match="Baris judul kolom tidak ditemukan dalam 15 baris pertama"):
        table(write_xlsx(tmp_path / "a.xlsx", rows))
    assert table(write_xlsx(tmp_path / "b.xlsx", rows[1:])).header_row == 15


def test_first_sheet_with_a_recognisable_header_is_used_hidden_sheets_are_skipped(tmp_path):
    def build(book, first):
        hidden = book.add_worksheet("Lama")
        hidden.write_row(0, 0, HEADER)
        hidden.hide()
        data = book.add_worksheet("Anggota")
        data.write_row(0, 0, HEADER)
        data.write_row(1, 0, person())

    path = write_xlsx(tmp_path / "a.xlsx", [["Petunjuk pengisian"], ["Isi lembar Anggota"]], "Petunjuk", build=build)
    assert table(path).sheet == "Anggota"


def test_data_ends_at_total_footer_notes_after_blank_rows_and_marker(tmp_path):
    rows = [HEADER, person(), [None] * 3, person(KK2, 5), ["JUMLAH", None, None, None, None, None, None, None,
                                                          None, "3"], person(KK2, 9)]
    assert [n for n, _ in table(write_xlsx(tmp_path / "a.xlsx", rows)).rows] == [2, 4]
    rows = [HEADER, person(), [], ["Mengetahui,"], ["Kepala Desa Mekarsari"]]
    assert [n for n, _ in table(write_xlsx(tmp_path / "b.xlsx", rows)).rows] == [2]
    rows = [HEADER, person(), ["###"], ["Catatan: kolom A wajib diisi"]]
    assert [n for n, _ in table(write_xlsx(tmp_path / "c.xlsx", rows)).rows] == [2]
    rows = [HEADER, person(), ["TOTAL"], person(KK2, 5)]
    assert [n for n, _ in table(write_xlsx(tmp_path / "d.xlsx", rows)).rows] == [2]


def test_a_row_without_keys_inside_the_data_is_read_and_rejected(tmp_path):
    rows = [HEADER, person(), person(NIK="", NO_KK=""), person(KK2, 5)]
    staged = staged_file(tmp_path, rows)
    assert messages(staged) == ['Baris 3, kolom "NO KK": kosong', 'Baris 3, kolom "NIK": kosong']
    assert [p["row"] for p in staged["persons"]] == [2, 4]


def test_too_many_rows_refused(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", [HEADER] + [person(serial=n) for n in range(1, 6)])
    with pytest.raises(Refused, match="lebih dari 4 baris data"):
        list(table(path, limits=reading.Limits(max_rows=4)).rows)


def test_messy_file_title_rows_merged_cells_blank_rows_and_footer(tmp_path):
    def build(book, ws):
        ws.merge_range(0, 0, 0, 10, "DATA DTSEN DESA MEKARSARI KECAMATAN CIKAJANG", book.add_format({"bold": True}))
        ws.merge_range(1, 0, 1, 10, "Triwulan IV 2025")

    rows = [[], [], ["Desa:", "Mekarsari"], [], HEADER, *family(), [], person(KK2, 11, "  AHMAD   hidayat "),
            [None] * 11, ["TOTAL", None, None, None, None, None, None, None, None, "2 KK"],
            [], ["Mekarsari, 1 Desember 2025"], [None, None, "Kepala Desa"]]
    staged = dtsen.stage(write_xlsx(tmp_path / "messy.xlsx", rows, build=build), today=TODAY)
    assert staged["refused"] is None and staged["rejected"] == []
    assert staged["header_row"] == 5
    assert [p["row"] for p in staged["persons"]] == [6, 7, 8, 10]
    assert staged["persons"][-1]["nama"] == "AHMAD hidayat"
    assert [h["no_kk"] for h in staged["households"]] == [KK1, KK2]


def test_xlsm_read_as_data(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", [HEADER, person()])
    macro = tmp_path / "a.xlsm"
    macro.write_bytes(path.read_bytes())
    assert dtsen.stage(macro, today=TODAY)["persons"][0]["nik"] == nik(1)


@pytest.mark.parametrize("content, name, reason", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "lama.xls", "format Excel lama (.xls)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100 + "EncryptionInfo".encode("utf-16-le"), "rahasia.xlsx",
     "dilindungi kata sandi"),
    (b"<html><table><tr><td>NIK</td></tr></table></html>", "unduhan.xls", "bukan buku kerja Excel yang sah"),
    (b"NO KK,NIK\n", "data.xlsx", "bukan buku kerja Excel yang sah"),
    (b"%PDF-1.4 ...", "data.pdf", "Jenis berkas tidak dikenali"),
    (b"", "kosong.xlsx", "Berkas kosong"),
])
def test_unreadable_files_refused_with_save_as_advice(tmp_path, content, name, reason):
    path = tmp_path / name
    path.write_bytes(content)
    staged = dtsen.stage(path)
    assert reason in staged["refused"]
    assert staged["persons"] == [] and staged["households"] == []
    if content:
        assert "simpan ulang sebagai .xlsx" in staged["refused"].lower()


@pytest.mark.parametrize("names, reason", [
    (["content.xml", "mimetype"], "dokumen OpenDocument (.ods)"),
    (["word/document.xml"], "bukan buku kerja .xlsx"),
])
def test_zip_files_that_are_not_workbooks_refused(tmp_path, names, reason):
    path = tmp_path / "data.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    assert reason in dtsen.stage(path)["refused"]


def test_zip_bomb_refused_before_parsing(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", [HEADER, person()])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * 3_000_000)
    assert table(path).header_row == 1
    with pytest.raises(Refused, match="terlalu besar untuk diimpor"):
        table(path, limits=reading.Limits(max_uncompressed=2_000_000))
    with pytest.raises(Refused, match="terlalu banyak bagian"):
        table(path, limits=reading.Limits(max_entries=5))
    with pytest.raises(Refused, match="Berkas terlalu besar"):
        table(path, limits=reading.Limits(max_bytes=1000))


def with_part(tmp_path, name, change):
    """A copy of a one-person workbook whose zip part `name` is replaced by change(its bytes)."""
    path = write_xlsx(tmp_path / "a.xlsx", [HEADER, person()])
    copy = tmp_path / "ubah.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(copy, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, change(data) if item.filename == name else data)
    return copy


def test_workbook_xml_with_an_entity_is_refused(tmp_path):
    entity = b'?><!DOCTYPE x [<!ENTITY a "a">]>'
    evil = with_part(tmp_path, "xl/workbook.xml", lambda xml: xml.replace(b"?>", entity, 1))
    assert "Berkas rusak" in dtsen.stage(evil)["refused"]


def test_corrupt_sheet_refused(tmp_path):
    broken = with_part(tmp_path, "xl/worksheets/sheet1.xml", lambda xml: b"<worksheet><sheetData><row><c")
    assert dtsen.stage(broken)["refused"].startswith('Lembar "Data" rusak dan tidak dapat dibaca.')


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiter_sniffed_on_the_header_line(tmp_path, delimiter):
    rows = [["Data desa; Mekarsari, 2025"], HEADER, person(nama="Siti, S.Pd; Bidan"), person(KK2, 5)]
    staged = dtsen.stage(write_csv(tmp_path / "a.csv", rows, delimiter), today=TODAY)
    assert staged["header_row"] == 2 and staged["rejected"] == []
    assert [p["nama"] for p in staged["persons"]] == ["Siti, S.Pd; Bidan", "Budi Santoso"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_csv_unicode_encodings(tmp_path, encoding):
    staged = dtsen.stage(write_csv(tmp_path / "a.csv", [HEADER, person(nama="Néng Ésih")], encoding=encoding),
                         today=TODAY)
    assert staged["persons"][0]["nama"] == "Néng Ésih" and staged["notices"] == []
    assert staged["columns"]["NO KK"] == "no_kk"


def test_csv_cp1252_read_with_a_notice_and_undecodable_refused(tmp_path):
    staged = dtsen.stage(write_csv(tmp_path / "a.csv", [HEADER, person(nama="Néng Ésih")], encoding="cp1252"),
                         today=TODAY)
    assert staged["persons"][0]["nama"] == "Néng Ésih"
    assert "dibaca sebagai Windows-1252 (cp1252)" in staged["notices"][0]
    bad = tmp_path / "b.csv"
    bad.write_bytes(b"NO KK,NIK,NAMA\n" + b"\x81\x8d\x8f" + b",x,y\n")
    assert "tidak dapat dibaca" in dtsen.stage(bad)["refused"]


def test_csv_with_an_unterminated_quote_is_refused(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(",".join(HEADER) + "\n" + '"' + "x" * 200_000 + "\n")
    assert "Berkas CSV rusak" in dtsen.stage(path)["refused"]


def test_file_sha256_is_of_the_bytes(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"abc")
    assert reading.file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

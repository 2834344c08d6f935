"""Every row of issue 4's normalising table, each through a file built for it, with its exact message."""
from datetime import date
from datetime import datetime

import pytest

from webapp.importing import dtsen
from webapp.importing import fields
from webapp.importing import normalise

from .test_import_reading import HEADER
from .test_import_reading import KK1
from .test_import_reading import KK2
from .test_import_reading import TODAY
from .test_import_reading import messages
from .test_import_reading import nik
from .test_import_reading import person
from .test_import_reading import staged_file
from .test_import_reading import warning_texts
from .test_import_reading import write_xlsx

NIK1 = nik(1)
SPACED = "3205 2220 0580 0001"


def one(tmp_path, name="data.xlsx", **cells):
    """Stage a file with one person row whose cells are overridden by header."""
    return staged_file(tmp_path, [HEADER, person(**cells)], name)


@pytest.mark.parametrize("cell", [
    SPACED, "3205.2220.0580.0001", "3205-2220-0580-0001", "'3205222005800001", "\u20183205222005800001",
    "3205\u00a02220\u00a005800001", "\u200b3205222005800001\u200b", "\uff13\uff12\uff10\uff15222005800001",
    " 3205222005800001 ", "32.05.22-200580 0001",
])
def test_nik_text_is_cleaned_then_accepted(tmp_path, cell):
    staged = one(tmp_path, NIK=cell)
    assert staged["rejected"] == [] and staged["warnings"] == []
    assert staged["persons"][0]["nik"] == NIK1


def test_no_kk_text_is_cleaned_the_same_way(tmp_path):
    staged = one(tmp_path, NO_KK="'3205.2212.0315.0001")
    assert staged["households"][0]["no_kk"] == KK1


def test_sixteen_digits_accepted_as_they_are(tmp_path):
    staged = one(tmp_path)
    assert (staged["persons"][0]["nik"], staged["households"][0]["no_kk"]) == (NIK1, KK1)
    assert staged["rejected"] == staged["warnings"] == []


def test_exact_number_cells_accepted_with_one_warning_listing_the_rows(tmp_path):
    rows = [HEADER, person(NIK=int(nik(1))), person(serial=2), person(NIK=float(nik(3)), serial=3),
            person(NIK=nik(4) + ".0", serial=4), person(NO_KK=int(KK1), serial=5)]
    staged = staged_file(tmp_path, rows)
    assert staged["rejected"] == []
    assert [p["nik"] for p in staged["persons"]] == [nik(n) for n in range(1, 6)]
    assert warning_texts(staged) == [
        'Baris 2, 4, kolom "NIK": sel berupa angka, bukan teks: periksa digit terakhir '
        "(Excel hanya menyimpan 15 digit; format kolom sebagai Teks)",
        'Baris 5, kolom "NIK": tertulis dengan akhiran .0 (pernah menjadi angka): periksa digit terakhir '
        "(Excel hanya menyimpan 15 digit)",
        'Baris 6, kolom "NO KK": sel berupa angka, bukan teks: periksa digit terakhir '
        "(Excel hanya menyimpan 15 digit; format kolom sebagai Teks)",
    ]


@pytest.mark.parametrize("cell, reason", [
    (9171010101010001, "sel angka 9171010101010000 terlalu besar: Excel/pembaca sudah membulatkan digit terakhir; "
                       "format kolom sebagai Teks dan ketik ulang"),
    (float(2 ** 53), "sel angka 9007199254740992 terlalu besar: Excel/pembaca sudah membulatkan digit terakhir; "
                     "format kolom sebagai Teks dan ketik ulang"),
    (320522200580.5, "sel angka berpecahan (320522200580.5): digit tidak dapat dipercaya, ketik ulang sebagai Teks"),
    ("9171010101010001.0", "tertulis dengan akhiran .0 (9171010101010001.0) dan terlalu besar untuk angka: "
                           "digit terakhir tidak dapat dipercaya, ketik ulang sebagai Teks"),
])
def test_untrustworthy_numbers_rejected(tmp_path, cell, reason):
    staged = one(tmp_path, NIK=cell)
    assert messages(staged) == [f'Baris 2, kolom "NIK": {reason}']
    assert staged["refused"].startswith("Tidak ada baris yang sah: semua 1 baris ditolak")


@pytest.mark.parametrize("cell, reason", [
    ("3.20522E+15", "tertulis dalam notasi ilmiah (3.20522E+15): digit sudah hilang, ketik ulang sebagai Teks"),
    ("3,20522e15", "tertulis dalam notasi ilmiah (3,20522e15): digit sudah hilang, ketik ulang sebagai Teks"),
    ("320522200580001", "harus 16 angka (terbaca 15 angka)"),
    ("32052220058000012", "harus 16 angka (terbaca 17 angka)"),
    ("35.2318.00000000000", "harus 16 angka (terbaca 17 angka)"),
    ("0205222005800001", "tidak boleh diawali 0 (kode provinsi dimulai dari 11)"),
    ("32O5222005800001", "berisi huruf atau tanda selain angka (32O5222005800001)"),
    ("NIK belum ada", "berisi huruf atau tanda selain angka (NIK belum ada)"),
    ("", "kosong"),
    ("   ", "kosong"),
    ("0000000000000000", "berisi nol semua"),
    ("0", "berisi nol semua"),
    (0, "berisi nol semua"),
    (True, "berisi nilai benar/salah, bukan nomor"),
    (date(1980, 5, 20), "berisi tanggal atau waktu, bukan nomor"),
])
def test_bad_nik_rejected_with_its_reason(tmp_path, cell, reason):
    staged = staged_file(tmp_path, [HEADER, person(serial=9), person(NIK=cell)])
    assert messages(staged) == [f'Baris 3, kolom "NIK": {reason}']
    assert [p["nik"] for p in staged["persons"]] == [nik(9)]


def test_nik_with_an_impossible_birth_date_warns(tmp_path):
    staged = one(tmp_path, NIK="3205229913800001")
    assert staged["persons"][0]["nik"] == "3205229913800001"
    assert warning_texts(staged) == ['Baris 2, kolom "NIK": digit 7–12 bukan tanggal lahir yang mungkin '
                                     "(hari 01–31, perempuan 41–71)"]


@pytest.mark.parametrize("cell, value", [
    ("3", 3), ("3.0", 3), ("Desil 3", 3), ("DESIL 3", 3), ("desil  10", 10), (3, 3), (3.0, 3), (" 7 ", 7),
    ("", None), ("-", None), ("BELUM ADA DESIL", None), ("Belum ada desil", None), (None, None),
])
def test_desil_read(tmp_path, cell, value):
    staged = one(tmp_path, DESIL=cell)
    assert staged["rejected"] == [] and staged["households"][0]["desil"] == value


@pytest.mark.parametrize("cell, reason", [
    ("0", "desil harus 1–10 (terbaca 0)"), ("11", "desil harus 1–10 (terbaca 11)"),
    (11, "desil harus 1–10 (terbaca 11)"), (3.5, "desil harus 1–10 (terbaca 3.5)"),
    ("III", "desil tidak dikenali (III): isi angka 1–10 atau kosongkan"),
    ("miskin", "desil tidak dikenali (miskin): isi angka 1–10 atau kosongkan"),
])
def test_bad_desil_rejects_the_row(tmp_path, cell, reason):
    staged = one(tmp_path, DESIL=cell)
    assert messages(staged) == [f'Baris 2, kolom "DESIL": {reason}']


@pytest.mark.parametrize("cell, value", [
    (date(1980, 5, 20), "1980-05-20"), (datetime(1980, 5, 20, 0, 0), "1980-05-20"), (29361, "1980-05-20"),
    ("29361", "1980-05-20"), ("20-05-1980", "1980-05-20"), ("20/05/1980", "1980-05-20"), ("03/04/1980", "1980-04-03"),
    ("3-4-1980", "1980-04-03"), ("20.05.1980", "1980-05-20"), ("1980-05-20", "1980-05-20"),
    ("1980-05-20 00:00:00", "1980-05-20"), ("1980/5/20", "1980-05-20"),
])
def test_birth_dates_read(tmp_path, cell, value):
    staged = one(tmp_path, TANGGAL_LAHIR=cell)
    assert staged["rejected"] == [] and staged["persons"][0]["tanggal_lahir"] == value


def test_serial_dates_use_the_workbook_epoch(tmp_path):
    rows = [HEADER, person(TANGGAL_LAHIR=29361)]
    path = write_xlsx(tmp_path / "mac.xlsx", rows, options={"date_1904": True})
    assert dtsen.stage(path, today=TODAY)["persons"][0]["tanggal_lahir"] == "1984-05-21"
    path = write_xlsx(tmp_path / "mac-date.xlsx", [HEADER, person(TANGGAL_LAHIR=date(1980, 5, 20))],
                      options={"date_1904": True})
    assert dtsen.stage(path, today=TODAY)["persons"][0]["tanggal_lahir"] == "1980-05-20"


@pytest.mark.parametrize("cell, reason", [
    ("31/02/1990", "tanggal tidak ada (31/02/1990)"),
    ("20-13-1980", "tanggal tidak ada (20-13-1980)"),
    ("20 Mei 1980", "tanggal tidak dikenali (20 Mei 1980): tulis hh-bb-tttt, mis. 20-05-1970"),
    ("80-05-20", "tanggal tidak dikenali (80-05-20): tulis hh-bb-tttt, mis. 20-05-1970"),
    (-5, "angka -5 bukan tanggal Excel"),
    (True, "berisi nilai benar/salah, bukan tanggal"),
])
def test_bad_dates_reject_the_row(tmp_path, cell, reason):
    staged = one(tmp_path, TANGGAL_LAHIR=cell)
    assert messages(staged) == [f'Baris 2, kolom "TANGGAL LAHIR": {reason}']


def test_future_dates_and_great_ages_warn(tmp_path):
    rows = [HEADER, person(TANGGAL_LAHIR="02-06-2026"), person(KK2, 2, TANGGAL_LAHIR="31-05-1905"),
            person(KK2, 3, TANGGAL_LAHIR=date(2027, 1, 1)), person(KK2, 4, TANGGAL_LAHIR="01-06-1906")]
    staged = staged_file(tmp_path, rows)
    assert [p["tanggal_lahir"] for p in staged["persons"]] == ["2026-06-02", "1905-05-31", "2027-01-01",
                                                              "1906-06-01"]
    assert warning_texts(staged) == ['Baris 2, 4, kolom "TANGGAL LAHIR": tanggal di masa depan',
                                     'Baris 3, kolom "TANGGAL LAHIR": umur lebih dari 120 tahun']


@pytest.mark.parametrize("cell", ["1", "01", "001", 1, 1.0, "RT 01", "RT.001", "rt1"])
def test_rt_rw_get_one_canonical_form(tmp_path, cell):
    staged = one(tmp_path, RT=cell, RW=cell)
    assert (staged["households"][0]["rt"], staged["households"][0]["rw"]) == ("001", "001")


@pytest.mark.parametrize("cell, expected", [("", None), ("-", None), ("0", None), ("000", None)])
def test_rt_without_a_number_is_not_given(tmp_path, cell, expected):
    assert one(tmp_path, RT=cell)["households"][0].get("rt", expected) is expected


@pytest.mark.parametrize("cell, reason", [("1000", "harus angka 1–999 (terbaca 1000)"),
                                          ("001/002", "harus angka 1–999 (terbaca 001/002)"),
                                          (2.5, "harus bilangan bulat 1–999 (terbaca 2.5)")])
def test_bad_rt_rejects_the_row(tmp_path, cell, reason):
    assert messages(one(tmp_path, RT=cell)) == [f'Baris 2, kolom "RT": {reason}']


@pytest.mark.parametrize("cell, value", [
    ("  siti   AMINAH ", "siti AMINAH"), ("Siti\u00a0Aminah", "Siti Aminah"), ("Siti\tAminah\n", "Siti Aminah"),
    ("Siti\u200bAminah", "SitiAminah"), ("'Aini", "Aini"), ("Hj. Siti Aminah, S.Pd.", "Hj. Siti Aminah, S.Pd."),
    ("Ni Luh Putu Éka", "Ni Luh Putu Éka"),
])
def test_names_have_spaces_collapsed_and_keep_their_case(tmp_path, cell, value):
    assert one(tmp_path, NAMA=cell)["persons"][0]["nama"] == value


def test_blank_or_overlong_name_rejected(tmp_path):
    assert messages(one(tmp_path, NAMA="  ")) == ['Baris 2, kolom "NAMA": kosong']
    assert messages(one(tmp_path, NAMA="A" * 201)) == [
        'Baris 2, kolom "NAMA": terlalu panjang (201 huruf, paling banyak 200)']


@pytest.mark.parametrize("column, cell, value", [
    ("HUBUNGAN", "Kepala Keluarga", "kepala"), ("HUBUNGAN", "KEPALA RUMAH TANGGA", "kepala"),
    ("HUBUNGAN", "isteri", "istri"), ("HUBUNGAN", "Famili Lain", "famili_lain"), ("HUBUNGAN", "orang_tua", "orang_tua"),
    ("HUBUNGAN", "1", "kepala"), ("HUBUNGAN", 3, "istri"), ("HUBUNGAN", "11", "lainnya"),
    ("HUBUNGAN", 9.0, "famili_lain"),
    ("JENIS KELAMIN", "L", "L"), ("JENIS KELAMIN", "p", "P"), ("JENIS KELAMIN", "LAKI-LAKI", "L"),
    ("JENIS KELAMIN", "Laki laki", "L"), ("JENIS KELAMIN", "PEREMPUAN", "P"), ("JENIS KELAMIN", 1, "L"),
    ("JENIS KELAMIN", "2", "P"),
    ("KETERANGAN KEBERADAAN", "Tinggal bersama", "tinggal"), ("KETERANGAN KEBERADAAN", "Anggota baru", "baru"),
    ("KETERANGAN KEBERADAAN", "MENINGGAL", "meninggal"), ("KETERANGAN KEBERADAAN", "Pindah", "pindah"),
    ("KETERANGAN KEBERADAAN", "Tidak ditemukan", "tidak_ditemukan"), ("KETERANGAN KEBERADAAN", "1", "tinggal"),
    ("KETERANGAN KEBERADAAN", 2, "meninggal"), ("KETERANGAN KEBERADAAN", "3", "pindah"),
    ("KETERANGAN KEBERADAAN", "4", "tidak_ditemukan"),
])
def test_coded_words_and_codes(tmp_path, column, cell, value):
    key = {"HUBUNGAN": "hubungan", "JENIS KELAMIN": "jenis_kelamin", "KETERANGAN KEBERADAAN": "keberadaan"}[column]
    staged = one(tmp_path, **{column.replace(" ", "_"): cell})
    assert staged["rejected"] == [] and staged["persons"][0][key] == value


@pytest.mark.parametrize("column, cell, reason", [
    ("HUBUNGAN", "Keponakan", "hubungan keluarga tidak dikenali (Keponakan): isi Kepala Keluarga, Suami, "
                              "Istri, Anak, Menantu, Cucu, Orang Tua, Mertua, Famili Lain, Pembantu, Lainnya "
                              "(atau kode 1–11)"),
    ("HUBUNGAN", "12", "hubungan keluarga tidak dikenali (12): isi Kepala Keluarga, Suami, Istri, Anak, Menantu, "
                       "Cucu, Orang Tua, Mertua, Famili Lain, Pembantu, Lainnya (atau kode 1–11)"),
    ("JENIS KELAMIN", "X", "jenis kelamin tidak dikenali (X): isi L atau P (Laki-laki/Perempuan, kode 1/2)"),
    ("JENIS KELAMIN", 3, "kode jenis kelamin tidak dikenali (3)"),
    ("KETERANGAN KEBERADAAN", "5", "keberadaan tidak dikenali (5): isi Tinggal bersama, Anggota baru, Meninggal, "
                                   "Pindah, Tidak ditemukan (atau kode 1–4)"),
])
def test_unknown_codes_reject_the_row(tmp_path, column, cell, reason):
    assert messages(one(tmp_path, **{column.replace(" ", "_"): cell})) == [f'Baris 2, kolom "{column}": {reason}']


def test_a_row_with_several_bad_cells_lists_every_reason(tmp_path):
    staged = one(tmp_path, NIK="123", DESIL="12", RT="abc")
    assert messages(staged) == ['Baris 2, kolom "NIK": harus 16 angka (terbaca 3 angka)',
                                'Baris 2, kolom "RT": harus angka 1–999 (terbaca ABC)',
                                'Baris 2, kolom "DESIL": desil harus 1–10 (terbaca 12)']
    assert staged["rejected"][0]["values"]["NIK"] == "123"


def test_same_nik_twice_rejects_every_occurrence(tmp_path):
    rows = [HEADER, person(), person(KK2, 2), person(KK2, 1, "Budi Lain"), person(KK2, 3),
            person(KK2, 1, "Budi Ketiga", DESIL="x")]
    staged = staged_file(tmp_path, rows)
    assert messages(staged) == [
        'Baris 2, kolom "NIK": NIK ganda di berkas (sama dengan baris 4, 6)',
        'Baris 4, kolom "NIK": NIK ganda di berkas (sama dengan baris 2, 6)',
        'Baris 6, kolom "DESIL": desil tidak dikenali (x): isi angka 1–10 atau kosongkan',
        'Baris 6, kolom "NIK": NIK ganda di berkas (sama dengan baris 2, 4)',
    ]
    assert [p["row"] for p in staged["persons"]] == [3, 5]
    assert staged["rejected"][0]["values"]["NAMA"] == "Budi Santoso"
    assert staged["rejected"][1]["values"]["NAMA"] == "Budi Lain"


def test_household_takes_the_kepala_keluarga_values_with_a_warning(tmp_path):
    rows = [HEADER, person(KK1, 2, "Siti", "Istri", "P", DESIL="5", RT="2"), person(KK1, 1, DESIL="3", RT="1"),
            person(KK1, 3, "Rina", "Anak", "P", DESIL="3", DUSUN="Babakan")]
    staged = staged_file(tmp_path, rows)
    household = staged["households"][0]
    assert (household["desil"], household["rt"], household["dusun"]) == (3, "001", "Sukamaju")
    assert warning_texts(staged) == [
        f'Baris 2, 3, 4, kolom "DUSUN": No KK {KK1}: anggota berbeda nilai (baris 2: Sukamaju; baris 3: Sukamaju; '
        "baris 4: Babakan); dipakai Sukamaju (nilai kepala keluarga)",
        f'Baris 2, 3, 4, kolom "RT": No KK {KK1}: anggota berbeda nilai (baris 2: 002; baris 3: 001; baris 4: 001); '
        "dipakai 001 (nilai kepala keluarga)",
        f'Baris 2, 3, 4, kolom "DESIL": No KK {KK1}: anggota berbeda nilai (baris 2: 5; baris 3: 3; baris 4: 3); '
        "dipakai 3 (nilai kepala keluarga)",
    ]


def test_household_without_kepala_takes_the_most_common_value(tmp_path):
    rows = [HEADER, person(KK1, 1, "A", "Anak", DESIL="5"), person(KK1, 2, "B", "Anak", DESIL=""),
            person(KK1, 3, "C", "Anak", DESIL="")]
    staged = staged_file(tmp_path, rows)
    assert staged["households"][0]["desil"] is None
    assert warning_texts(staged) == [f'Baris 2, 3, 4, kolom "DESIL": No KK {KK1}: anggota berbeda nilai '
                                     "(baris 2: 5; baris 3: kosong; baris 4: kosong); dipakai kosong (nilai terbanyak)"]


def test_file_without_no_kk_column_refused(tmp_path):
    rows = [["NIK", "NAMA", "DESIL"], [nik(1), "Budi", "3"]]
    staged = staged_file(tmp_path, rows)
    assert staged["refused"] == ('Kolom No KK tidak ditemukan pada judul kolom (baris 1). Tambahkan kolom "NO KK", '
                                 "atau petakan kolomnya secara manual.")


def test_file_without_nik_or_no_kk_header_refused(tmp_path):
    staged = staged_file(tmp_path, [["NOMOR", "KETERANGAN"], ["1", "x"]])
    assert staged["refused"].startswith("Baris judul kolom tidak ditemukan dalam 15 baris pertama")


def test_nik_without_nama_column_refused(tmp_path):
    staged = staged_file(tmp_path, [["NO KK", "NIK"], [KK1, nik(1)]])
    assert staged["refused"].startswith("Kolom NAMA tidak ditemukan pada judul kolom (baris 1)")


def test_file_with_no_valid_row_refused_but_its_rejections_are_listed(tmp_path):
    staged = staged_file(tmp_path, [HEADER, person(NIK="1"), person(NIK="2")])
    assert staged["refused"] == ("Tidak ada baris yang sah: semua 2 baris ditolak. Perbaiki baris yang ditolak "
                                 "(lihat alasannya), lalu impor ulang.")
    assert len(staged["rejected"]) == 2 and staged["persons"] == [] and staged["households"] == []


def test_file_with_header_only_refused(tmp_path):
    assert staged_file(tmp_path, [HEADER])["refused"] == "Tidak ada baris data di bawah judul kolom (baris 1)."


ISSUE_ALIASES = {
    "no_kk": ["NO KK", "NO. KK", "NOMOR KK", "NO_KK", "NKK", "NOMOR KARTU KELUARGA", "no kk", "No.KK"],
    "nik": ["NIK", "NO NIK", "NIK ART", "NIK ANGGOTA", "nik", "N.I.K."],
    "nama": ["NAMA", "NAMA LENGKAP", "NAMA ART", "NAMA ANGGOTA", "Nama"],
    "hubungan": ["HUBUNGAN", "HUB KELUARGA", "HUBUNGAN DENGAN KEPALA KELUARGA", "SHDK", "STATUS HUBUNGAN", "kk_level"],
    "jenis_kelamin": ["JENIS KELAMIN", "JK", "L/P", "sex", "Jenis Kelamin (L/P)"],
    "tanggal_lahir": ["TANGGAL LAHIR", "TGL LAHIR", "TGL. LAHIR", "tanggallahir", "TANGGAL LAHIR (DD-MM-YYYY)"],
    "alamat": ["ALAMAT", "alamat"], "rt": ["RT", "rt"], "rw": ["RW", "rw"],
    "dusun": ["DUSUN", "KAMPUNG", "DUSUN/LINGKUNGAN", "dusun"],
    "desil": ["DESIL", "DESIL NASIONAL", "PERINGKAT DESIL", "DESIL KESEJAHTERAAN", "Desil"],
    "keberadaan": ["KETERANGAN KEBERADAAN", "STATUS KEBERADAAN", "status_dasar"],
}
SAMPLE = {"no_kk": KK1, "nik": NIK1, "nama": "Budi", "hubungan": "1", "jenis_kelamin": "L",
          "tanggal_lahir": "20-05-1980", "alamat": "Jl. Mawar 1", "rt": "3", "rw": "4", "dusun": "Babakan",
          "desil": "2", "keberadaan": "1"}
EXPECTED = {"no_kk": KK1, "nik": NIK1, "nama": "Budi", "hubungan": "kepala", "jenis_kelamin": "L",
            "tanggal_lahir": "1980-05-20", "alamat": "Jl. Mawar 1", "rt": "003", "rw": "004", "dusun": "Babakan",
            "desil": 2, "keberadaan": "tinggal"}


@pytest.mark.parametrize("name, alias", [(name, alias) for name, aliases in ISSUE_ALIASES.items() for alias in aliases])
def test_every_header_alias_is_recognised(tmp_path, name, alias):
    headers = {"no_kk": "NO KK", "nik": "NIK", "nama": "NAMA", name: alias}
    staged = staged_file(tmp_path, [list(headers.values()), [SAMPLE[f] for f in headers]])
    assert staged["columns"][alias] == name and staged["rejected"] == []
    record = staged["persons"][0] if name in dtsen.PERSON_FIELDS + ("nik", "no_kk") else staged["households"][0]
    assert record[name] == EXPECTED[name]


def test_manual_mapping_names_unrecognised_columns(tmp_path):
    rows = [["NOMOR KARTU", "NOMOR INDUK", "NAMA", "KATEGORI", "DESIL"], [KK1, NIK1, "Budi", "2", "4"]]
    staged = staged_file(tmp_path, rows, mapping={"Nomor Kartu": "no_kk", "nomor induk": "nik", "DESIL": ""})
    assert staged["columns"] == {"NOMOR KARTU": "no_kk", "NOMOR INDUK": "nik", "NAMA": "nama"}
    assert staged["persons"][0]["nik"] == NIK1 and "desil" not in staged["households"][0]
    refused = staged_file(tmp_path, rows, mapping={"KATEGORI": "kategori"})["refused"]
    assert refused.startswith('Pemetaan kolom "KATEGORI" ke "kategori" tidak dikenal. Pilihan: no_kk, nik, nama')


def test_a_second_column_for_the_same_field_is_ignored_with_a_notice(tmp_path):
    staged = staged_file(tmp_path, [["NO KK", "NIK", "NAMA", "NAMA LENGKAP"], [KK1, NIK1, "Budi", "Budi S"]])
    assert staged["persons"][0]["nama"] == "Budi"
    assert staged["notices"][0] == 'Kolom "NAMA LENGKAP" diabaikan: kolom "NAMA" sudah dipakai untuk Nama.'


def test_family_per_row_file_imports_households_only(tmp_path):
    rows = [["NO KK", "NAMA KEPALA", "DESIL", "DUSUN", "RT"], [KK1, "Budi", "2", "Babakan", "1"],
            [KK2, "Asep", "", "Babakan", "2"]]
    staged = staged_file(tmp_path, rows)
    assert staged["persons"] == []
    assert [(h["no_kk"], h["desil"], h["rt"]) for h in staged["households"]] == [(KK1, 2, "001"), (KK2, None, "002")]


def test_one_row_per_family_with_nik_makes_each_person_kepala(tmp_path):
    rows = [["NO KK", "NIK", "NAMA", "DESIL"], [KK1, nik(1), "Budi", "2"], [KK2, nik(2), "Asep", "4"]]
    staged = staged_file(tmp_path, rows)
    assert staged["defaults"] == {"hubungan": "kepala"}
    assert "orang baru dicatat sebagai Kepala Keluarga" in staged["notices"][0]


def test_serials_out_of_range_or_not_finite_are_invalid():
    ctx = normalise.Context(normalise.EPOCH_1904, TODAY)
    for value in (2958465.0, float("nan"), float("inf"), 0.0):
        with pytest.raises(normalise.Invalid, match="bukan tanggal Excel"):
            normalise.birth_date(value, ctx)


def test_header_keys_ignore_case_punctuation_and_notes():
    assert fields.header_key("No. KK (16 digit)") == fields.header_key("NO_KK") == "NOKK"
    assert fields.DTSEN.match("Tgl. Lahir") == "tanggal_lahir"
    assert [name for name, _ in fields.DTSEN.choices()][:3] == ["no_kk", "nik", "nama"]


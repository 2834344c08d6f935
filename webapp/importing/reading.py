"""Open an uploaded spreadsheet safely and find its table: header row, columns, data rows.

.xlsx/.xlsm go through python-calamine (perf.md §2: 10× faster than openpyxl), which returns each
cell with its type: str for text cells, float for number cells, date/datetime for date cells. That
type is what tells a trustworthy NIK from a rounded one, so it is kept all the way to the normalisers.
Before calamine parses anything, the zip directory is checked (size, entry count, encryption) so a
zip bomb is refused unread; workbook.xml is read with defusedxml for the 1900/1904 date system.
CSV is decoded as UTF-8 (with or without BOM) or UTF-16, else cp1252 with a notice.
Row numbers are those the operator sees in Excel (1-based, blank rows included).
"""
import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from dataclasses import field
from itertools import chain
from itertools import islice
from pathlib import Path

from . import Refused
from . import normalise

HEADER_SEARCH_ROWS = 15
BLANK_RUN_END = 50
CSV_DELIMITERS = (",", ";", "\t")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
FOOTER = re.compile(r"(?:GRAND\s*)?(?:TOTAL|JUMLAH)\b")
FOOTER_INITIALS = ("#", "T", "J", "G")
SAVE_AS_XLSX = "Buka di Excel atau LibreOffice, lalu simpan ulang sebagai .xlsx (Buku Kerja Excel)."


@dataclass(frozen=True)
class Limits:
    """Bounds checked before and while reading, so no upload can exhaust memory or time."""

    max_bytes: int = 50 * 1024 * 1024
    max_uncompressed: int = 768 * 1024 * 1024
    max_entries: int = 2000
    max_rows: int = 250_000


@dataclass
class Sheet:
    """One worksheet (or a whole CSV) as (row number, cells) pairs."""

    name: str
    rows: object
    total: int = 0
    first_column: int = 0


@dataclass
class Table:
    """The table found in a file: its header and an iterator over its data rows."""

    filename: str
    sheet: str
    header_row: int
    headers: list
    columns: dict
    epoch: object
    rows: object
    total: int = 0
    notices: list = field(default_factory=list)
    preamble: list = field(default_factory=list)


def file_sha256(path):
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_size(path, limits):
    """Refuse an empty file or one larger than the limit."""
    size = Path(path).stat().st_size
    if size == 0:
        raise Refused("Berkas kosong.")
    if size > limits.max_bytes:
        raise Refused(f"Berkas terlalu besar ({size // (1024 * 1024)} MB; paling besar "
                      f"{limits.max_bytes // (1024 * 1024)} MB).")


def open_table(path, fieldset, mapping=None, filename=None, limits=Limits(), sheet=None):
    """Open a file and return the Table of its first sheet (or the named one) with a recognisable header."""
    path = Path(path)
    filename = filename or path.name
    check_size(path, limits)
    mapping = fieldset.check_mapping(mapping)
    notices = []
    if sniff(path, filename) == "xlsx":
        epoch = workbook_epoch(path, limits)
        sheets = xlsx_sheets(path, sheet)
    else:
        epoch = normalise.EPOCH_1900
        sheets = csv_sheets(path, fieldset, mapping, notices)
    for found in sheets:
        head = list(islice(found.rows, HEADER_SEARCH_ROWS))
        index = find_header(head, fieldset, mapping)
        if index is None:
            continue
        number, cells = head[index]
        headers = header_texts(cells, found.first_column)
        columns, more = fieldset.resolve(headers, mapping)
        keys = [i for i, name in columns.items() if name in fieldset.keys]
        rows = data_rows(chain(head[index + 1:], found.rows), keys, limits.max_rows)
        preamble = [" ".join(normalise.display(c) for c in line if not normalise.is_blank(c))
                    for _, line in head[:index]]
        return Table(filename, found.name, number, headers, columns, epoch, rows,
                     max(0, found.total - number), notices + more, [line for line in preamble if line])
    if sheet is not None:
        raise Refused(f'Baris judul kolom tidak ditemukan dalam 15 baris pertama lembar "{sheet}".')
    raise Refused("Baris judul kolom tidak ditemukan dalam 15 baris pertama. Pastikan ada judul kolom "
                  "seperti NO KK, NIK, NAMA, DESIL, atau unduh dan pakai templat impor.")


def sniff(path, filename):
    """'xlsx' or 'csv' from the file's first bytes and its name; refuse everything else."""
    with open(path, "rb") as fh:
        magic = fh.read(8)
    suffix = Path(filename).suffix.lower()
    if magic.startswith(OLE2_MAGIC):
        if ole_encrypted(path):
            raise Refused("Berkas dilindungi kata sandi (terenkripsi) dan tidak dapat dibaca. "
                          "Buka di Excel, hapus kata sandinya, lalu simpan ulang sebagai .xlsx.")
        raise Refused(f"Berkas ini berformat Excel lama (.xls) yang tidak dapat dibaca. {SAVE_AS_XLSX}")
    if magic.startswith(ZIP_MAGICS):
        return "xlsx"
    if suffix in XLSX_SUFFIXES or suffix == ".xls":
        raise Refused(f"Berkas {suffix} ini bukan buku kerja Excel yang sah (mungkin rusak, halaman web "
                      f"hasil unduhan, atau hanya diganti namanya). {SAVE_AS_XLSX}")
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise Refused(f"Jenis berkas tidak dikenali. Gunakan .xlsx atau .csv. {SAVE_AS_XLSX}")


def ole_encrypted(path):
    """True when an OLE2 container holds an EncryptionInfo stream (a password-protected .xlsx)."""
    return "EncryptionInfo".encode("utf-16-le") in Path(path).read_bytes()


def workbook_epoch(path, limits):
    """Check the zip directory against the limits and return the workbook's date epoch."""
    from defusedxml import ElementTree

    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > limits.max_entries:
                raise Refused(f"Berkas berisi terlalu banyak bagian ({len(infos)}); bukan lembar kerja biasa.")
            if sum(info.file_size for info in infos) > limits.max_uncompressed:
                raise Refused("Isi berkas setelah dibuka terlalu besar untuk diimpor. "
                              "Pecah menjadi beberapa berkas yang lebih kecil.")
            if any(info.flag_bits & 0x1 for info in infos):
                raise Refused("Berkas dilindungi kata sandi. Hapus kata sandinya, lalu simpan ulang sebagai .xlsx.")
            names = {info.filename for info in infos}
            if "xl/workbook.xml" not in names:
                kind = "dokumen OpenDocument (.ods)" if "content.xml" in names else "bukan buku kerja .xlsx"
                raise Refused(f"Berkas ini {kind}. {SAVE_AS_XLSX}")
            root = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, SyntaxError, OSError, EOFError):
        raise Refused(f"Berkas rusak atau bukan .xlsx yang sah. {SAVE_AS_XLSX}") from None
    date1904 = any(element.tag.rsplit("}", 1)[-1] == "workbookPr"
                   and element.get("date1904", "").lower() in ("1", "true") for element in root.iter())
    return normalise.EPOCH_1904 if date1904 else normalise.EPOCH_1900


def visible_worksheets(path):
    """The calamine workbook and the metadata of its visible worksheets, in order."""
    from python_calamine import CalamineWorkbook
    from python_calamine import SheetTypeEnum
    from python_calamine import SheetVisibleEnum

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        metadata = workbook.sheets_metadata
    except Exception:
        raise Refused(f"Berkas rusak dan tidak dapat dibaca. {SAVE_AS_XLSX}") from None
    return workbook, [meta for meta in metadata
                      if meta.typ == SheetTypeEnum.WorkSheet and meta.visible == SheetVisibleEnum.Visible]


def sheet_names(path, filename=None, limits=Limits()):
    """The names of a workbook's visible worksheets ([] for a CSV), after the same checks as open_table."""
    path = Path(path)
    check_size(path, limits)
    if sniff(path, filename or path.name) != "xlsx":
        return []
    workbook_epoch(path, limits)
    return [meta.name for meta in visible_worksheets(path)[1]]


def sheet_rows(path, name, limits=Limits(), max_rows=HEADER_SEARCH_ROWS * 4):
    """(date epoch, first rows as (number, cells)) of the named worksheet of a checked workbook."""
    epoch = workbook_epoch(path, limits)
    for sheet in xlsx_sheets(path, name):
        return epoch, list(islice(sheet.rows, max_rows))
    raise Refused(f'Lembar "{name}" tidak ditemukan.')


def xlsx_sheets(path, only=None):
    """The visible worksheets of a workbook (or only the one named), in order, read by python-calamine."""
    workbook, metadata = visible_worksheets(path)
    for meta in metadata:
        if only is not None and meta.name.casefold() != only.casefold():
            continue
        try:
            sheet = workbook.get_sheet_by_name(meta.name)
        except Exception:
            raise Refused(f'Lembar "{meta.name}" rusak dan tidak dapat dibaca. {SAVE_AS_XLSX}') from None
        # iter_rows() starts at the first row of the sheet and at its first used column.
        yield Sheet(meta.name, enumerate(sheet.iter_rows(), start=1), sheet.end[0] + 1 if sheet.end else 0,
                    sheet.start[1] if sheet.start else 0)


def decode_csv(raw, notices):
    """Text of a CSV file: UTF-8 (BOM or not), UTF-16 with BOM, else cp1252 with a notice."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise Refused("Berkas CSV UTF-16 ini rusak. Simpan ulang sebagai CSV UTF-8 atau .xlsx.") from None
    if b"\x00" in raw:
        raise Refused("Berkas ini bukan teks CSV. Simpan ulang sebagai CSV UTF-8 atau .xlsx.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        raise Refused("Huruf dalam berkas CSV tidak dapat dibaca (bukan UTF-8 maupun Windows-1252). "
                      "Simpan ulang sebagai CSV UTF-8 atau .xlsx.") from None
    notices.append("Berkas CSV tidak berenkode UTF-8; dibaca sebagai Windows-1252 (cp1252). "
                   "Periksa huruf khusus pada nama dan alamat.")
    return text


def csv_sheets(path, fieldset, mapping, notices):
    """A CSV file as one sheet, split on the delimiter (, ; or TAB) that best reveals the header."""
    text = decode_csv(Path(path).read_bytes(), notices)

    def reader(delimiter):
        """A CSV reader over the whole text."""
        return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    try:
        scores = {d: max((fieldset.score(row, mapping) for row in islice(reader(d), HEADER_SEARCH_ROWS)),
                         default=0) for d in CSV_DELIMITERS}
        delimiter = max(CSV_DELIMITERS, key=lambda d: scores[d])
        yield Sheet("", csv_rows(reader(delimiter)), text.count("\n") + 1)
    except csv.Error:
        raise Refused("Berkas CSV rusak (tanda kutip tidak berpasangan atau sel terlalu panjang). "
                      "Simpan ulang sebagai .xlsx.") from None


def csv_rows(reader):
    """Numbered CSV records, with csv.Error turned into a refusal naming the row."""
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells
    except csv.Error:
        raise Refused(f"Berkas CSV rusak sesudah baris {number}. Simpan ulang sebagai .xlsx.") from None


def find_header(head, fieldset, mapping):
    """Index of the row naming the most known fields among the first rows, or None."""
    best, best_score = None, 0
    for index, (_, cells) in enumerate(head):
        score = fieldset.score(cells, mapping)
        if score > best_score:
            best, best_score = index, score
    return best


def header_texts(cells, first_column):
    """Display names of the header cells: blank ones get their column letter, repeats a suffix."""
    from xlsxwriter.utility import xl_col_to_name

    texts, seen = [], {}
    for index, cell in enumerate(cells):
        text = normalise.clean_text(cell) or f"Kolom {xl_col_to_name(first_column + index)}"
        seen[text] = seen.get(text, 0) + 1
        texts.append(text if seen[text] == 1 else f"{text} ({seen[text]})")
    return texts


def looks_like_id(cell):
    """True for a number cell or a text that is mostly digits (a NIK/No KK, even a damaged one)."""
    if normalise.is_number_cell(cell):
        return True
    text = normalise.clean_text(cell).replace(" ", "")
    return bool(text) and sum(ch.isdigit() for ch in text) * 2 >= len(text)


def data_rows(rows, keys, max_rows):
    """Data rows until ###, a TOTAL/JUMLAH footer, a row without an id after blanks (notes) or 50 blanks."""
    blank_run = count = 0
    for number, cells in rows:
        first = cells[0] if cells and not normalise.is_blank(cells[0]) else next(
            (cell for cell in cells if not normalise.is_blank(cell)), None)
        if first is None:
            blank_run += 1
            if blank_run >= BLANK_RUN_END:
                return
            continue
        if type(first) is str and first.lstrip()[:1].upper() in FOOTER_INITIALS:
            marker = normalise.clean_text(first).upper()
            if marker.startswith("###") or FOOTER.match(marker):
                return
        if blank_run and not any(looks_like_id(cells[i]) for i in keys if i < len(cells)):
            return
        blank_run = 0
        count += 1
        if count > max_rows:
            raise Refused(f"Berkas berisi lebih dari {max_rows:,} baris data. Pecah menjadi beberapa berkas."
                          .replace(",", "."))
        yield number, cells

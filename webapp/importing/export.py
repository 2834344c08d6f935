"""Workbooks the operator downloads: rejected rows to fix and re-import, and empty import templates.

Written with XlsxWriter. Rejected rows are written as text cells in text-formatted ('@') columns, so a
NIK or No KK keeps its 16 digits when the operator edits it. A text starting with = + - @ TAB or CR
gets a leading apostrophe, so no spreadsheet program runs it as a formula (reliability.md §5); the
importer strips that apostrophe again on re-import.
"""
import io

from ..models import HUBUNGAN
from ..models import KEBERADAAN

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ROW_HEADER = "BARIS ASAL"
REASON_HEADER = "ALASAN DITOLAK"

# (header, text-formatted, allowed values or None)
DTSEN_TEMPLATE = [
    ("NO KK", True, None),
    ("NIK", True, None),
    ("NAMA", False, None),
    ("HUBUNGAN", False, [label for _, label in HUBUNGAN]),
    ("JENIS KELAMIN", False, ["L", "P"]),
    ("TANGGAL LAHIR", False, None),
    ("ALAMAT", False, None),
    ("RT", True, None),
    ("RW", True, None),
    ("DUSUN", False, None),
    ("DESIL", False, [str(n) for n in range(1, 11)]),
    ("KETERANGAN KEBERADAAN", False, [label for _, label in KEBERADAAN]),
]
DTSEN_NOTES = [
    "Templat impor data DTSEN (KK dan anggota keluarga): isi lembar pertama, satu baris per orang.",
    "NO KK dan NIK: 16 angka, diketik sebagai Teks (kolomnya sudah berformat Teks). Jangan ditempel sebagai "
    "angka: Excel hanya menyimpan 15 digit dan mengubah digit terakhir menjadi 0.",
    "HUBUNGAN: Kepala Keluarga, Suami, Istri, Anak, Menantu, Cucu, Orang Tua, Mertua, Famili Lain, Pembantu, "
    "Lainnya (atau kode SHDK 1–11).",
    "JENIS KELAMIN: L atau P. TANGGAL LAHIR: hh-bb-tttt, mis. 20-05-1970.",
    "RT dan RW: angka, mis. 1 atau 001. DESIL: 1–10, kosongkan bila belum ada desil.",
    "KETERANGAN KEBERADAAN: Tinggal bersama, Anggota baru, Meninggal, Pindah, Tidak ditemukan.",
    "Baris yang sama No KK-nya menjadi satu keluarga; desil, dusun dan RT keluarga diambil dari kepala keluarga.",
    "Judul kolom boleh diubah urutannya; kolom lain yang tidak dikenal diabaikan.",
]
PENERIMA_TEMPLATE = [
    ("NO KK", True, None),
    ("NIK", True, None),
    ("NAMA", False, None),
    ("STATUS", False, ["Belum cair", "Sudah cair", "Tidak cair"]),
    ("TANGGAL", False, None),
    ("NOMINAL", False, None),
    ("JALUR", False, ["Bank", "Pos", "Tunai"]),
    ("ALASAN", False, None),
    ("KETERANGAN", False, None),
]
PENERIMA_NOTES = [
    "Templat impor daftar penerima satu program dan satu periode: pilih program dan periode saat mengunggah.",
    "Cukup NO KK (program keluarga) atau NIK (program jiwa, atau bila No KK tidak ada) dan NAMA; kolom lain boleh "
    "dikosongkan atau dihapus. NO KK dan NIK: 16 angka sebagai Teks.",
    "STATUS: Belum cair, Sudah cair, Tidak cair (kata seperti “sudah salur”, “dibayar”, “retur”, “gagal” juga "
    "dikenali). Tanpa kolom STATUS semua tercatat belum cair.",
    "TANGGAL: hh-bb-tttt. NOMINAL: angka rupiah. JALUR: Bank/KKS, Pos, Tunai.",
    "ALASAN wajib bila tidak cair, mis. Rekening tidak aktif, Meninggal, Pindah, Tidak ditemukan, SP2D belum turun.",
]
TEMPLATES = {"dtsen": ("Data DTSEN", DTSEN_TEMPLATE, DTSEN_NOTES),
             "penerima": ("Daftar penerima", PENERIMA_TEMPLATE, PENERIMA_NOTES)}


def neutralise(text):
    """Prefix an apostrophe to text a spreadsheet could run as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def workbook(build):
    """Run build(workbook) on a new in-memory XlsxWriter workbook and return the .xlsx bytes."""
    import xlsxwriter

    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True})
    build(book)
    book.close()
    return output.getvalue()


def rejected_workbook(rejected, headers=None):
    """The rejected rows ({"row", "messages", "values"}) as .xlsx, original columns first, reasons last."""
    headers = list(headers or (rejected[0]["values"] if rejected else []))

    def build(book):
        """One text-formatted sheet of the rejected rows."""
        text = book.add_format({"num_format": "@"})
        bold = book.add_format({"num_format": "@", "bold": True})
        sheet = book.add_worksheet("Ditolak")
        columns = [*headers, ROW_HEADER, REASON_HEADER]
        sheet.set_column(0, len(columns) - 1, 18, text)
        for col, header in enumerate(columns):
            sheet.write_string(0, col, neutralise(header), bold)
        for line, item in enumerate(rejected, start=1):
            cells = [item["values"].get(header, "") for header in headers]
            for col, value in enumerate([*cells, str(item["row"]), "; ".join(item["messages"])]):
                sheet.write_string(line, col, neutralise(value), text)
        sheet.freeze_panes(1, 0)

    return workbook(build)


def template_workbook(kind="dtsen"):
    """An empty import template: text-formatted ID columns, value lists, and a sheet of instructions."""
    title, columns, notes = TEMPLATES[kind]

    def build(book):
        """The data sheet with its headers and value lists, then the instructions."""
        text = book.add_format({"num_format": "@"})
        bold = book.add_format({"bold": True})
        sheet = book.add_worksheet(title)
        for col, (header, is_text, allowed) in enumerate(columns):
            sheet.set_column(col, col, max(12, len(header) + 2), text if is_text else None)
            sheet.write_string(0, col, header, bold)
            if allowed:
                sheet.data_validation(1, col, 100_000, col, {"validate": "list", "source": allowed,
                                                             "error_type": "warning"})
        sheet.freeze_panes(1, 0)
        guide = book.add_worksheet("Petunjuk")
        guide.set_column(0, 0, 110)
        for line, note in enumerate(notes):
            guide.write_string(line, 0, note)

    return workbook(build)

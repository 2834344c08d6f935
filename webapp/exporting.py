"""Excel exports: XlsxWriter streaming rows in constant memory (perf.md §3), NIK and No KK always as
text cells, and any text that a spreadsheet could run as a formula marked as plain text (quotePrefix).
"""
import io
import re

from flask import send_file
from .formatting import kode_wilayah
from .formatting import waktu
from .models import LABELS
from .models import Desa
from .models import Disbursement
from .models import Person
from .models import utcnow

FORMULA_START = re.compile(r"^\s*[=+\-@\t\r\0]")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Sheet:
    """A worksheet written row by row, with text/number/date cell types decided per value."""

    def __init__(self, book, name):
        self.ws = book.add_worksheet(name)
        self.row = 0
        self.text = book.add_format({"num_format": "@"})
        self.quoted = book.add_format({"num_format": "@", "quote_prefix": True})
        self.bold = book.add_format({"bold": True})
        self.header = book.add_format({"bold": True, "bg_color": "#E8EEF6", "border": 1, "text_wrap": True})
        self.date = book.add_format({"num_format": "dd/mm/yyyy"})
        self.money = book.add_format({"num_format": "#,##0"})

    def title(self, *lines):
        """Write the header block (bold first line) and leave one empty row."""
        for i, line in enumerate(lines):
            self.ws.write_string(self.row, 0, line, self.bold if i == 0 else None)
            self.row += 1
        self.row += 1

    def columns(self, names, widths):
        """Write the column header row and set column widths."""
        for col, (name, width) in enumerate(zip(names, widths)):
            self.ws.set_column(col, col, width)
            self.ws.write_string(self.row, col, name, self.header)
        self.ws.freeze_panes(self.row + 1, 0)
        self.row += 1

    def cells(self, values, text_columns=()):
        """Write one data row; strings never become formulas, ID columns are always text."""
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if col in text_columns or isinstance(value, str):
                text = str(value)
                self.ws.write_string(self.row, col, text, self.quoted if FORMULA_START.match(text) else self.text)
            elif hasattr(value, "year"):
                self.ws.write_datetime(self.row, col, value, self.date)
            elif isinstance(value, int) and col in self.money_columns:
                self.ws.write_number(self.row, col, value, self.money)
            else:
                self.ws.write_number(self.row, col, value)
        self.row += 1

    money_columns = ()


def workbook():
    """A streaming XlsxWriter workbook in memory, with its buffer."""
    import xlsxwriter

    buffer = io.BytesIO()
    return xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True}), buffer


def header_lines(title, scope):
    """The lines naming desa, subject, scope and time on top of every export."""
    desa = Desa.current()
    return [title, f"Desa {desa.nama} ({kode_wilayah(desa.kode)}), Kec. {desa.kecamatan}, Kab. {desa.kabupaten}",
            scope, f"Dibuat {waktu(utcnow())}"]


PERIOD_COLUMNS = ["ID baris", "No KK", "NIK", "Nama penerima", "Kepala keluarga", "Dusun", "RW", "RT", "Desil",
                  "Jalur", "Status", "Tanggal status", "Alasan", "Keterangan", "Nominal"]
PERIOD_WIDTHS = [9, 19, 19, 26, 26, 14, 6, 6, 7, 13, 12, 13, 26, 30, 12]


def period_workbook(period, f, rows, config):
    """The .xlsx bytes of a period's list as filtered; the ID column lets a filled copy come back."""
    from .ledger import period_rows

    kepala = dict(Person.select(Person.household, Person.nama)
                  .where((Person.hubungan == "kepala") & Person.deleted_at.is_null()
                         & Person.household.in_(period_rows(period).select(Disbursement.household)))
                  .tuples())
    book, buffer = workbook()
    sheet = Sheet(book, "Daftar penerima")
    sheet.money_columns = (14,)
    sheet.title(*header_lines(f"Daftar penerima {period.program.code} — {period.label}",
                              f"Program {period.program.nama}; saringan: {f.describe()}"))
    sheet.columns(PERIOD_COLUMNS, PERIOD_WIDTHS)
    for d in rows:
        household, person = d.household, d.person if d.person_id else None
        sheet.cells([
            d.id, household.no_kk, person.nik if person else "", person.nama if person else kepala.get(household.id, ""),
            kepala.get(household.id, ""), household.dusun, household.rw, household.rt,
            household.desil if household.desil else "", LABELS["channel"][d.channel], LABELS["status"][d.status],
            d.status_date, LABELS["reason"].get(d.reason, "") if d.reason else "", d.note, d.amount,
        ], text_columns=(1, 2, 6, 7))
    book.close()
    return buffer.getvalue()


def xlsx_response(data, filename):
    """Send .xlsx bytes as a download with a server-chosen file name."""
    return send_file(io.BytesIO(data), mimetype=XLSX_MIME, as_attachment=True, download_name=filename,
                     max_age=0)

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
from .models import Household
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
    # No in_memory: it silently turns constant_memory off (525 MB for a 66,000-row list). Rows are
    # streamed through XlsxWriter's temporary files and only the finished .xlsx is held in memory.
    return xlsxwriter.Workbook(buffer, {"constant_memory": True}), buffer


def header_lines(title, scope):
    """The lines naming desa, subject, scope and time on top of every export."""
    desa = Desa.current()
    return [title, f"Desa {desa.nama} ({kode_wilayah(desa.kode)}), Kec. {desa.kecamatan}, Kab. {desa.kabupaten}",
            scope, f"Dibuat {waktu(utcnow())}"]


PERIOD_COLUMNS = ["ID baris", "No KK", "NIK", "Nama penerima", "Kepala keluarga", "Dusun", "RW", "RT", "Desil",
                  "Jalur", "Status", "Tanggal status", "Alasan", "Keterangan", "Nominal", "Versi baris"]
PERIOD_WIDTHS = [9, 19, 19, 26, 26, 14, 6, 6, 7, 13, 12, 13, 26, 30, 12, 8]


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
    # Plain tuples, not model instances: a kecamatan list has tens of thousands of rows.
    columns = rows.select(Disbursement.id, Household.id, Household.no_kk, Person.nik, Person.nama, Household.dusun,
                          Household.rw, Household.rt, Household.desil, Disbursement.channel, Disbursement.status,
                          Disbursement.status_date, Disbursement.reason, Disbursement.note, Disbursement.amount,
                          Disbursement.version).tuples().iterator()
    channel, status, reason = LABELS["channel"], LABELS["status"], LABELS["reason"]
    for (row_id, household_id, no_kk, nik, nama, dusun, rw, rt, desil, chan, stat, when, why, note, amount,
         version) in columns:
        head = kepala.get(household_id, "")
        sheet.cells([row_id, no_kk, nik or "", nama or head, head, dusun, rw, rt, desil or "", channel[chan],
                     status[stat], when, reason.get(why, "") if why else "", note, amount, version],
                    text_columns=(1, 2, 6, 7))
    book.close()
    return buffer.getvalue()


def xlsx_response(data, filename):
    """Send .xlsx bytes as a download with a server-chosen file name."""
    return send_file(io.BytesIO(data), mimetype=XLSX_MIME, as_attachment=True, download_name=filename,
                     max_age=0)


def recap_workbook(data):
    """The recap as .xlsx: one sheet per table, numbers as numbers, a header block naming the scope."""
    book, buffer = workbook()
    head = header_lines(f"Rekap bantuan sosial Desa {data.desa.nama}", f"Cakupan: {data.scope.text()}")
    head.append(f"Data DTSEN: {data.dtsen_version or 'belum ada'}")
    n = data.scope.desil_max

    sheet = Sheet(book, "Ringkasan")
    sheet.title(*head)
    sheet.columns(["Angka", "KK", "Jiwa"], [48, 12, 12])
    for label, count in (("Dalam data", data.totals.data), ("Desil 1–4", data.totals.desil_1_4),
                         (f"Desil 1–{n}", data.totals.desil_1_max), ("Belum ada desil", data.totals.tanpa_desil),
                         ("Menerima bantuan", data.totals.menerima), (f"Desil 1–{n} belum menerima bantuan", data.no_aid)):
        sheet.cells([label, count.kk, count.jiwa])
    sheet.cells([])
    sheet.columns(["Status penyaluran", "Penyaluran", "Rupiah"], [48, 12, 16])
    for label, figures in (("Sudah cair", data.cair), ("Belum cair", data.belum), ("Tidak cair", data.tidak_cair)):
        sheet.cells([label, figures.total.n, figures.total.rupiah])

    sheet = Sheet(book, "Program dan periode")
    sheet.title(*head)
    sheet.columns(["Program", "Periode", "KK", "Jiwa", "Bank", "Pos", "Tunai", "Lainnya", "Cair", "Belum", "Tidak cair",
                   "Rp tersalur", "Rp belum tersalur"], [12, 22, 9, 9, 9, 9, 9, 9, 9, 9, 10, 15, 17])
    for program in data.programs:
        for label, item in [("(semua periode)", program)] + [(pf.period.label, pf) for pf in program.periods]:
            rows = item.rows
            sheet.cells([program.program.code, label, item.penerima.kk, item.penerima.jiwa,
                         *[rows.channel[c].n for c in ("bank", "pos", "tunai", "lainnya")],
                         *[rows.status[s].n for s in ("cair", "belum", "tidak_cair")],
                         rows.status["cair"].rupiah, rows.tidak_tersalur.rupiah])

    sheet = Sheet(book, "Desil")
    sheet.title(*head)
    sheet.columns(["Desil", "Menerima (KK)", "Menerima (jiwa)", "Belum menerima (KK)", "Belum menerima (jiwa)"],
                  [18, 14, 15, 19, 20])
    for row in data.desil:
        sheet.cells([row.label, row.menerima.kk, row.menerima.jiwa, row.tidak_menerima.kk, row.tidak_menerima.jiwa])
    sheet.cells([])
    sheet.columns(["Program", "Batas desil", "Inklusi (KK)", "Inklusi (jiwa)", "Eksklusi (KK)", "Eksklusi (jiwa)"],
                  [12, 12, 13, 14, 14, 15])
    for program in data.programs:
        if program.inklusi is not None:
            sheet.cells([program.program.code, program.program.desil_max, program.inklusi.kk, program.inklusi.jiwa,
                         program.eksklusi.kk, program.eksklusi.jiwa])

    sheet = Sheet(book, "Tidak cair")
    sheet.title(*head)
    sheet.columns(["Alasan", "Penyaluran", "Rupiah"], [34, 12, 16])
    for key, money in data.tidak_cair.by_reason.items():
        sheet.cells([LABELS["reason"][key], money.n, money.rupiah])
    sheet.cells([])
    sheet.columns(["Jalur", "Tidak cair", "Belum cair"], [34, 12, 12])
    for key, label in LABELS["channel"].items():
        sheet.cells([label, data.tidak_cair.by_channel[key].n, data.belum.by_channel[key].n])

    sheet = Sheet(book, "Wilayah")
    sheet.title(*head)
    sheet.columns(["Dusun", "RW", "RT", "KK", "Jiwa", "KK desil 1–4", f"KK desil 1–{n}", "KK menerima",
                   f"KK desil 1–{n} belum menerima", "Tidak cair", "Belum cair"], [16, 6, 6, 9, 9, 12, 12, 12, 20, 10, 10])

    def area_rows(area):
        yield area
        for child in area.children:
            yield from area_rows(child)

    for dusun in data.wilayah:
        for area in area_rows(dusun):
            sheet.cells([area.dusun, area.rw or "", area.rt or "", area.total.kk, area.total.jiwa, area.desil_1_4.kk,
                         area.desil_1_max.kk, area.menerima.kk, area.no_aid.kk, area.tidak_cair.n, area.belum.n],
                        text_columns=(1, 2))

    sheet = Sheet(book, "Definisi")
    sheet.title(*head)
    sheet.columns(["Definisi"], [120])
    for line in data.definitions:
        sheet.cells([line])
    book.close()
    return buffer.getvalue()


def drill_workbook(title, applied, drill, query):
    """The list behind a recap number as .xlsx (NIK and No KK as text)."""
    book, buffer = workbook()
    sheet = Sheet(book, "Daftar")
    sheet.title(*header_lines(title, f"Cakupan: {applied.text()}"))
    rows = list(query)
    if drill.daftar == "penyaluran":
        kepala = Person.kepala_names({d.household_id for d in rows})
        sheet.money_columns = (12,)
        sheet.columns(["No KK", "NIK", "Nama", "Dusun", "RW", "RT", "Desil", "Program", "Periode", "Jalur", "Status",
                       "Alasan", "Nominal"], [19, 19, 26, 14, 6, 6, 7, 12, 16, 13, 12, 26, 12])
        for d in rows:
            h = d.household
            sheet.cells([h.no_kk, d.person.nik if d.person_id else "", d.person.nama if d.person_id else kepala.get(h.id, ""),
                         h.dusun, h.rw, h.rt, h.desil or "", d.period.program.code, d.period.label,
                         LABELS["channel"][d.channel], LABELS["status"][d.status],
                         LABELS["reason"].get(d.reason, "") if d.reason else "", d.amount], text_columns=(0, 1, 4, 5))
    elif drill.daftar == "kk":
        kepala = Person.kepala_names({h.id for h in rows})
        sheet.columns(["No KK", "Kepala keluarga", "Dusun", "RW", "RT", "Desil"], [19, 28, 14, 6, 6, 7])
        for h in rows:
            sheet.cells([h.no_kk, kepala.get(h.id, ""), h.dusun, h.rw, h.rt, h.desil or ""], text_columns=(0, 3, 4))
    else:
        sheet.columns(["NIK", "Nama", "No KK", "Hubungan", "Dusun", "RW", "RT", "Desil"], [19, 28, 19, 16, 14, 6, 6, 7])
        for p in rows:
            h = p.household
            sheet.cells([p.nik, p.nama, h.no_kk, LABELS["hubungan"][p.hubungan], h.dusun, h.rw, h.rt, h.desil or ""],
                        text_columns=(0, 2, 5, 6))
    book.close()
    return buffer.getvalue()

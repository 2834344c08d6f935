"""Verifikasi data: every check with its open count, each check's list, reviews (usulan) and .xlsx exports.

The checks and reviews live in webapp/checks.py; the views read a request, call it and render. Operators
and staf see the lists (staf with NIK and No KK masked); only operators review and export.
"""
from dataclasses import dataclass

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from jinja2_fragments.flask import render_blocks

from . import checks
from . import db as database
from . import exporting
from .access import OPERATOR
from .access import STAF
from .access import allow
from .access import record
from .formatting import waktu
from .htmx import is_htmx
from .models import Desa
from .models import FindingReview
from .models import ImportBatch

bp = Blueprint("verification", __name__, url_prefix="/verifikasi")
TEMPLATE = "verification/check.html"
PAGE_SIZE = 50
STATE_LABELS = dict(FindingReview.STATES)


@dataclass
class ListView:
    """What a check's list shows: open, reviewed or all findings, one programme or all, which page."""

    show: str = "terbuka"
    program: str | None = None
    page: int = 1

    @classmethod
    def from_values(cls, values):
        """Read the list's arguments (from the URL, or from a form's hidden fields), dropping bad values."""
        show = values.get("tampil") if values.get("tampil") in checks.SHOW else "terbuka"
        program = (values.get("program") or "").strip().upper()[:32] or None
        page = values.get("page", type=int) or 1
        return cls(show, program, max(1, page))

    def args(self, **changes):
        """The list's URL arguments, defaults left out."""
        values = {"tampil": self.show, "program": self.program, "page": self.page, **changes}
        defaults = {"tampil": "terbuka", "program": None, "page": 1}
        return {key: value for key, value in values.items() if value != defaults[key]}


def load_check(check_id):
    """The registered check, or 404."""
    return checks.get(check_id) or abort(404)


@bp.get("/")
@allow(OPERATOR, STAF)
def index():
    """Every check by section: its open and total count, its why-line, per programme where it applies."""
    run = checks.Run()
    results = checks.run_checks(run=run)
    return render_template("verification/index.html", sections=checks.by_section(results),
                           open_total=checks.open_count(results), total=sum(r.total for r in results),
                           scope=run.applied, dtsen=ImportBatch.latest_dtsen())


def list_context(result, view, rows=None, total_rows=0):
    """What the list page and its fragments need."""
    return {"check": result.check, "result": result, "view": view, "rows": rows or [], "matching": total_rows,
            "pages": max(1, -(-total_rows // PAGE_SIZE)), "can_review": g.user.role == OPERATOR,
            "show_labels": checks.SHOW, "levels": checks.LEVELS, "state_labels": STATE_LABELS,
            "programs": sorted(code for code in result.by_program() if code)}


@bp.get("/<check_id>")
@allow(OPERATOR, STAF)
def findings(check_id):
    """One check's findings (the open ones unless asked otherwise) in wilayah order, 50 a page."""
    load_check(check_id)
    view = ListView.from_values(request.args)
    result = checks.run_one(check_id)
    chosen = checks.select(result, view.show, view.program)
    view.page = min(view.page, max(1, -(-len(chosen) // PAGE_SIZE)))
    start = (view.page - 1) * PAGE_SIZE
    rows = checks.rows_for(result, chosen[start:start + PAGE_SIZE])
    return render_template(TEMPLATE, **list_context(result, view, rows, len(chosen)))


def row_response(result, view, finding, key, code, **extra):
    """After a review or a reopening: the row and the refreshed counts (htmx), else back to the list."""
    anchor = checks.Finding(key, "").anchor
    if not is_htmx():
        url = url_for("verification.findings", check_id=result.check.id, **view.args())
        return redirect(f"{url}#{anchor}", 303)
    row = checks.rows_for(result, [finding])[0] if finding is not None else None
    context = {**list_context(result, view), "row": row, "anchor": anchor, "oob": True, **extra}
    return make_response(render_blocks(TEMPLATE, ["row", "counts"], **context), code)


@bp.post("/<check_id>/tinjau")
@allow(OPERATOR)
def review(check_id):
    """Mark a finding reviewed or proposed (usulan) at the data version the operator saw; audited."""
    found = load_check(check_id)
    view = ListView.from_values(request.form)
    key, fingerprint = request.form.get("key", ""), request.form.get("fingerprint", "")
    wanted = checks.ReviewRequest.from_form(request.form, found)
    try:
        result, finding = checks.review(check_id, key, fingerprint, wanted, g.user)
    except checks.ReviewError as exc:
        result, finding = checks.current(check_id, key)
        if finding is None:
            abort(404)
        if not is_htmx():
            flash(str(exc))
            return row_response(result, view, finding, key, 422)
        return row_response(result, view, finding, key, 422, errors=[str(exc)], form=request.form)
    except checks.Stale as stale:
        if not is_htmx():
            flash("Data temuan ini sudah berubah sejak halaman dimuat; periksa lagi lalu ulangi.")
        return row_response(stale.result, view, stale.finding, key, 409, conflict=True)
    if not is_htmx():
        flash(f"Temuan ditandai “{STATE_LABELS[wanted.state]}”.")
    return row_response(result, view, finding, key, 200)


@bp.post("/<check_id>/buka")
@allow(OPERATOR)
def reopen(check_id):
    """Withdraw a finding's review so it counts as open again; audited."""
    load_check(check_id)
    view = ListView.from_values(request.form)
    key = request.form.get("key", "")
    result, finding = checks.reopen(check_id, key)
    if not is_htmx():
        flash("Tinjauan dibatalkan; temuan kembali terbuka." if finding else "Temuan ini sudah tidak ada.")
    return row_response(result, view, finding, key, 200)


@bp.get("/<check_id>/ekspor.xlsx")
@allow(OPERATOR)
def export(check_id):
    """The check's list as shown (open, reviewed or all; one programme or all) as .xlsx; audited."""
    load_check(check_id)
    view = ListView.from_values(request.args)
    run = checks.Run()
    result = checks.run_one(check_id, run)
    rows = checks.rows_for(result, checks.select(result, view.show, view.program))
    scope = f"Daftar: {checks.SHOW[view.show].lower()}" + (f", program {view.program}" if view.program else "")
    data = findings_workbook(result, rows, scope, run.applied.text())
    with database.db.atomic("IMMEDIATE"):
        record("ekspor.verifikasi", entity="check", field=check_id, new=f"{scope} ({len(rows)} temuan)")
    return exporting.xlsx_response(data, f"verifikasi-{check_id}.xlsx".replace("_", "-"))


@bp.get("/usulan.xlsx")
@allow(OPERATOR)
def export_proposals():
    """Every finding proposed for SIKS-NG (usulan perbaikan, pencoretan, baru) in one .xlsx; audited."""
    run = checks.Run()
    items = checks.proposals(checks.run_checks(run=run))
    data = proposals_workbook(items, run.applied.text())
    with database.db.atomic("IMMEDIATE"):
        record("ekspor.usulan", entity="check", new=f"{len(items)} usulan")
    return exporting.xlsx_response(data, "usulan-musdes.xlsx")


FINDING_COLUMNS = ["No", "Dusun", "RW", "RT", "Nama", "NIK", "No KK", "Program", "Temuan", "Hasil pemeriksaan",
                   "Catatan operator", "Diperiksa oleh", "Waktu periksa"]
FINDING_WIDTHS = [5, 14, 6, 6, 26, 19, 19, 11, 50, 20, 40, 14, 20]
PROPOSAL_COLUMNS = ["No", "Usulan", "Dusun", "RW", "RT", "Nama", "NIK", "No KK", "Program", "Pemeriksaan", "Temuan",
                    "Catatan operator", "Diperiksa oleh", "Waktu periksa"]
PROPOSAL_WIDTHS = [5, 18, 14, 6, 6, 26, 19, 19, 11, 34, 50, 40, 14, 20]


def subject_lines(row):
    """(dusun, rw, rt, name, NIK, No KK) of a row's subject and of every other person in its group."""
    household = row.household
    place = (household.dusun, household.rw, household.rt) if household else ("", "", "")
    if household is None and row.person is None:
        desa = Desa.current()
        return [("", "", "", f"Desa {desa.nama}", "", "")]
    kk = household.no_kk if household else ""
    lines = [(*place, row.person.nama if row.person else "", row.person.nik if row.person else "", kk)]
    lines += [(*place, other.nama, other.nik, kk) for other in row.others]
    return lines


def review_cells(row):
    """(state, note, who, when) of a row's valid review, or the finding as open."""
    if row.review is None:
        note = f"Pernah ditinjau, data sudah berubah: {row.earlier.note}" if row.earlier else ""
        return ["Terbuka", note, "", ""]
    return [STATE_LABELS[row.review.state], row.review.note, row.review.username, waktu(row.review.ts)]


def findings_workbook(result, rows, scope, aid_scope):
    """The .xlsx bytes of one check's list, one line per person (NIK and No KK as text)."""
    book, buffer = exporting.workbook()
    sheet = exporting.Sheet(book, "Temuan")
    sheet.title(*exporting.header_lines(f"Verifikasi data: {result.check.title}",
                                        f"{scope}. Cakupan bantuan: {aid_scope}"))
    sheet.columns(FINDING_COLUMNS, FINDING_WIDTHS)
    number = 0
    for row in rows:
        for dusun, rw, rt, name, nik, kk in subject_lines(row):
            number += 1
            sheet.cells([number, dusun, rw, rt, name, nik, kk, row.finding.program or "", row.finding.detail,
                         *review_cells(row)], text_columns=(2, 3, 5, 6))
    book.close()
    return buffer.getvalue()


def proposals_workbook(items, aid_scope):
    """The .xlsx bytes of every usulan, by kind and wilayah, laid out for the musyawarah desa."""
    book, buffer = exporting.workbook()
    sheet = exporting.Sheet(book, "Usulan")
    sheet.title(*exporting.header_lines("Usulan hasil verifikasi data untuk musyawarah desa",
                                        f"Cakupan bantuan: {aid_scope} Hanya usulan yang datanya belum berubah "
                                        "sejak ditinjau."))
    sheet.columns(PROPOSAL_COLUMNS, PROPOSAL_WIDTHS)
    number = 0
    for result, row in items:
        state, note, who, when = review_cells(row)
        for dusun, rw, rt, name, nik, kk in subject_lines(row):
            number += 1
            sheet.cells([number, state, dusun, rw, rt, name, nik, kk, row.finding.program or "", result.check.title,
                         row.finding.detail, note, who, when], text_columns=(3, 4, 6, 7))
    book.close()
    return buffer.getvalue()

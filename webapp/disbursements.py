"""A period's recipient list: filters, inline status changes, bulk changes, history and export."""
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from jinja2_fragments.flask import render_block
from jinja2_fragments.flask import render_blocks
from playhouse.flask_utils import PaginatedQuery
from playhouse.flask_utils import get_object_or_404

from . import ledger
from .access import OPERATOR
from .access import STAF
from .access import allow
from .access import record
from .htmx import is_htmx
from .models import REASONS
from .models import STATUSES
from .models import Period
from .models import Person
from .models import Program

bp = Blueprint("disbursements", __name__)
TEMPLATE = "disbursements/period.html"
# Lists a row can be edited in: view name -> (template, row block, number of columns).
ROW_VIEWS = {"periode": (TEMPLATE, "row", 9), "keluarga": ("households/detail.html", "aid_row", 7),
             "rekap": (TEMPLATE, "row", 9)}


def row_view():
    """The list the request's row belongs to (?v= or the form's v), the period list by default."""
    name = request.values.get("v")
    return name if name in ROW_VIEWS else "periode"


def load_period(period_id):
    """The period with its programme, or 404."""
    return get_object_or_404(Period.select(Period, Program).join(Program), Period.id == period_id)


def row_context(d, **extra):
    """What the row blocks need to draw one disbursement in the requested list."""
    view = row_view()
    return {"d": d, "period": d.period, "kepala": Person.kepala_names([d.household_id]),
            "can_edit": g.user.role == OPERATOR and not d.period.closed, "v": view,
            "colspan": ROW_VIEWS[view][2], **extra}


def render_row(d, **extra):
    """The row block of the requested list for one disbursement."""
    template, block, _ = ROW_VIEWS[row_view()]
    return render_block(template, block, **row_context(d, **extra))


@bp.get("/periode/<int:period_id>")
@allow(OPERATOR, STAF)
def period_list(period_id):
    """The recipients of one period, filtered by status, channel, wilayah, desil or a search."""
    period = load_period(period_id)
    f = ledger.ListFilter.from_args(request.args)
    rows = PaginatedQuery(ledger.listing(period, f), ledger.PAGE_SIZE, check_bounds=False)
    page_rows = list(rows.get_object_list())
    context = {
        "period": period, "f": f, "rows": rows, "page_rows": page_rows,
        "kepala": Person.kepala_names({d.household_id for d in page_rows}),
        "facets": ledger.facets(period, f), "totals": ledger.totals(period),
        "can_edit": g.user.role == OPERATOR and not period.closed,
        "matching": rows.query.count(), "statuses": STATUSES, "reasons": REASONS, "v": "periode",
        "desil_names": {**{d: f"Desil {d}" for d in range(1, 11)}, "none": "Belum ada desil"},
    }
    return render_template(TEMPLATE, **context)


@bp.get("/penyaluran/<int:disbursement_id>/baris")
@allow(OPERATOR, STAF)
def show_row(disbursement_id):
    """One list row (used to cancel an edit)."""
    d = ledger.row(disbursement_id) or abort(404)
    return render_row(d)


@bp.get("/penyaluran/<int:disbursement_id>/ubah")
@allow(OPERATOR)
def edit_row(disbursement_id):
    """The status form of one row: in place for htmx, as a small page otherwise."""
    d = ledger.row(disbursement_id) or abort(404)
    context = row_context(d, form={}, errors=[])
    if is_htmx():
        return render_block(TEMPLATE, "edit_row", **context)
    return render_template("disbursements/edit.html", **context)


@bp.post("/penyaluran/<int:disbursement_id>/status")
@allow(OPERATOR)
def change_status(disbursement_id):
    """Change one row's status at the version the operator saw (409 with the fresh row when stale)."""
    change = ledger.StatusChange.from_form(request.form)
    version = request.form.get("version", type=int)
    try:
        d = ledger.change_status(disbursement_id, version, change, g.user)
    except LookupError:
        abort(404)
    except ledger.Conflict as conflict:
        return status_response(conflict.row, 409, conflict=True)
    except ledger.LedgerError as exc:
        d = ledger.row(disbursement_id)
        if is_htmx():
            return make_response(render_block(TEMPLATE, "edit_row", **row_context(
                d, form=request.form, errors=[str(exc)])), 422)
        return make_response(render_template("disbursements/edit.html", **row_context(
            d, form=request.form, errors=[str(exc)])), 422)
    return status_response(d, 200)


def status_response(d, code, conflict=False):
    """After a status change: the row (and the period's refreshed counts) for htmx, else back to the list."""
    if not is_htmx():
        if conflict:
            flash(f"Baris sudah diubah orang lain ({d.updated_by.username if d.updated_by else 'impor'}); "
                  "periksa lalu ulangi.")
        if row_view() == "keluarga":
            return redirect(url_for("households.detail", household_id=d.household_id) + f"#d-{d.id}", 303)
        return redirect(url_for("disbursements.period_list", period_id=d.period_id) + f"#d-{d.id}", 303)
    if row_view() != "periode":
        return make_response(render_row(d, conflict=conflict), code)
    context = row_context(d, conflict=conflict, totals=ledger.totals(d.period), oob=True)
    return make_response(render_blocks(TEMPLATE, ["row", "counts"], **context), code)


@bp.post("/periode/<int:period_id>/massal")
@allow(OPERATOR)
def bulk(period_id):
    """Set one status on the selected rows, or on every row matching the current filters."""
    period = load_period(period_id)
    # The filters travel as f_* fields: "status" is the new status here, not a filter.
    f = ledger.ListFilter.from_args(request.form, prefix="f_")
    if request.form.get("scope") == "filter":
        ids = [d.id for d in ledger.apply_filter(ledger.period_rows(period), period, f).select(
            ledger.Disbursement.id)]
    else:
        ids = request.form.getlist("ids", type=int)
    change = ledger.StatusChange.from_form(request.form)
    back = url_for("disbursements.period_list", period_id=period.id, **f.as_args())
    if not ids:
        flash("Tidak ada baris yang dipilih.")
        return redirect(back, 303)
    try:
        changed = ledger.bulk_change(period, ids, change, g.user)
    except ledger.LedgerError as exc:
        flash(str(exc))
        return redirect(back, 303)
    flash(f"{changed} baris diubah menjadi “{dict(STATUSES)[change.status]}”.")
    return redirect(back, 303)


@bp.get("/penyaluran/<int:disbursement_id>/riwayat")
@allow(OPERATOR, STAF)
def history(disbursement_id):
    """Who changed a row, when, and from what to what."""
    d = ledger.row(disbursement_id) or abort(404)
    context = {"d": d, "events": list(ledger.history(disbursement_id)), "kepala": Person.kepala_names([d.household_id]),
               "history_fields": ledger.FIELD_LABELS, "history_value": ledger.describe_value}
    if is_htmx():
        return render_block("disbursements/history.html", "events", **context)
    return render_template("disbursements/history.html", **context)


@bp.get("/periode/<int:period_id>/ekspor.xlsx")
@allow(OPERATOR)
def export(period_id):
    """The period's list exactly as filtered, as .xlsx (NIK and No KK as text); audited."""
    from . import exporting

    period = load_period(period_id)
    f = ledger.ListFilter.from_args(request.args)
    rows = ledger.listing(period, f)
    data = exporting.period_workbook(period, f, rows, current_app.config)
    record("ekspor.daftar_penerima", entity="period", entity_id=period.id, field="saringan", new=f.describe())
    filename = f"penerima-{period.program.code}-{period.label}.xlsx".replace(" ", "-").lower()
    return exporting.xlsx_response(data, filename)

"""Programmes and their periods (tahap): list, add, close and reopen, start from a previous list."""
import re
from datetime import date

from flask import Blueprint
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from peewee import IntegrityError
from peewee import fn
from playhouse.flask_utils import get_object_or_404

from . import db as database
from . import ledger
from .access import ALL_ROLES
from .access import OPERATOR
from .access import admin_only
from .access import allow
from .access import record
from .htmx import redirect_to
from .models import CHANNELS
from .models import SASARAN
from .models import Disbursement
from .models import Period
from .models import Program
from .models import utcnow

bp = Blueprint("programs", __name__)


class FormError(ValueError):
    """A form value that cannot be accepted, with its message."""


def period_counts():
    """{period id: {status: count}} for every period."""
    counts = {}
    rows = (Disbursement.select(Disbursement.period, Disbursement.status, fn.COUNT(Disbursement.id))
            .where(Disbursement.deleted_at.is_null()).group_by(Disbursement.period, Disbursement.status).tuples())
    for period_id, status, n in rows:
        counts.setdefault(period_id, {"belum": 0, "cair": 0, "tidak_cair": 0})[status] = n
    return counts


def list_context():
    """Programmes, their periods newest first, and per-period status counts."""
    programs = list(Program.select().order_by(Program.active.desc(), Program.id))
    periods = {}
    for p in Period.select().order_by(Period.year.desc(), Period.start_date.desc(nulls="LAST"), Period.label.desc()):
        periods.setdefault(p.program_id, []).append(p)
    return {"programs": programs, "periods": periods, "counts": period_counts(), "sasaran": SASARAN}


@bp.get("/program")
@allow(*ALL_ROLES)
def index():
    """Every programme with its periods and their status counts."""
    return render_template("programs/index.html", **list_context(), form={}, error=None)


def number(form, name, label, low=None, high=None, required=False):
    """An optional whole number from a form field (dots and 'Rp' allowed), range-checked."""
    raw = re.sub(r"[^\d]", "", form.get(name, "") or "")
    if not raw:
        if required:
            raise FormError(f"{label} wajib diisi.")
        return None
    value = int(raw)
    if (low is not None and value < low) or (high is not None and value > high):
        raise FormError(f"{label} harus antara {low} dan {high}.")
    return value


def program_fields(form):
    """Validated programme fields from a form."""
    nama = (form.get("nama") or "").strip()
    if not nama:
        raise FormError("Nama program wajib diisi.")
    if form.get("sasaran") not in dict(SASARAN):
        raise FormError("Pilih sasaran: keluarga atau jiwa.")
    return {"nama": nama[:120], "sasaran": form["sasaran"],
            "desil_max": number(form, "desil_max", "Batas desil", 1, 10),
            "default_amount": number(form, "default_amount", "Nominal bawaan", 0, 100_000_000) or 0,
            "sumber_dana": (form.get("sumber_dana") or "").strip()[:60] or "Pusat"}


@bp.post("/program")
@allow(OPERATOR)
def create_program():
    """Add a programme (e.g. a desa's own aid)."""
    code = (request.form.get("code") or "").strip().upper()
    try:
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{1,19}", code):
            raise FormError("Kode program: 2–20 huruf besar, angka atau tanda hubung (mis. BLT-DD).")
        fields = program_fields(request.form)
        with database.db.atomic("IMMEDIATE"):
            program = Program.create(code=code, **fields)
            record("program.dibuat", entity="program", entity_id=program.id, new=code)
    except FormError as exc:
        error = str(exc)
    except IntegrityError:
        error = f"Kode program {code} sudah ada."
    else:
        flash(f"Program {code} ditambahkan.")
        return redirect(url_for("programs.detail", code=code), 303)
    return render_template("programs/index.html", **list_context(), form=request.form, error=error), 422


@bp.get("/program/<code>")
@allow(*ALL_ROLES)
def detail(code):
    """One programme: its settings and periods, with forms to add a period or change settings."""
    return render_detail(get_object_or_404(Program, Program.code == code))


def render_detail(program, error=None, form=None, status=200):
    """Render a programme page, optionally with a form error."""
    periods = list(program.periods.order_by(Period.year.desc(), Period.start_date.desc(nulls="LAST"),
                                            Period.label.desc()))
    return render_template("programs/detail.html", program=program, periods=periods, counts=period_counts(),
                           sasaran=SASARAN, channels=CHANNELS, error=error, form=form or {},
                           today=date.today()), status


@bp.post("/program/<code>")
@allow(OPERATOR)
def update_program(code):
    """Change a programme's name, sasaran, desil ceiling, amount, source or active flag."""
    program = get_object_or_404(Program, Program.code == code)
    try:
        fields = program_fields(request.form)
    except FormError as exc:
        return render_detail(program, error=str(exc), form=request.form, status=422)
    fields["active"] = request.form.get("active") == "1"
    with database.db.atomic("IMMEDIATE"):
        for name, new in fields.items():
            old = getattr(program, name)
            if old != new:
                record("program.diubah", entity="program", entity_id=program.id, field=name, old=old, new=new)
        Program.update(**fields).where(Program.id == program.id).execute()
    flash("Pengaturan program disimpan.")
    return redirect(url_for("programs.detail", code=code), 303)


def parse_date(form, name, label):
    """An optional ISO date from a form field."""
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise FormError(f"{label} tidak valid.") from exc


def period_year(label, start):
    """A period's year: a four-digit year in its label, else its start date's, else this year."""
    found = re.search(r"\b(19|20)\d{2}\b", label)
    if found:
        return int(found.group(0))
    return start.year if start else date.today().year


@bp.post("/program/<code>/periode")
@allow(OPERATOR)
def create_period(code):
    """Add a period, optionally starting from another period's list (statuses reset to belum)."""
    program = get_object_or_404(Program, Program.code == code)
    form = request.form
    try:
        label = re.sub(r"\s+", " ", form.get("label") or "").strip()
        if not label:
            raise FormError("Nama periode wajib diisi, mis. “Tahap 1 2026”.")
        start, end = parse_date(form, "start_date", "Tanggal mulai"), parse_date(form, "end_date", "Tanggal selesai")
        if start and end and end < start:
            raise FormError("Tanggal selesai tidak boleh sebelum tanggal mulai.")
        channel = form.get("default_channel") if form.get("default_channel") in dict(CHANNELS) else "bank"
        amount = number(form, "amount", "Nominal", 0, 100_000_000)
        source_id = form.get("copy_from", type=int)
        source = Period.get_or_none((Period.id == source_id) & (Period.program == program)) if source_id else None
        with database.db.atomic("IMMEDIATE"):
            period = Period.create(program=program, label=label[:60], year=period_year(label, start), start_date=start,
                                   end_date=end, amount=program.default_amount if amount is None else amount,
                                   default_channel=channel)
            record("periode.dibuat", entity="period", entity_id=period.id, new=label)
            copied = ledger.copy_list(source, period, g.user) if source else 0
    except FormError as exc:
        return render_detail(program, error=str(exc), form=form, status=422)
    except IntegrityError:
        return render_detail(program, error=f"Periode “{label}” sudah ada di program ini.", form=form, status=422)
    flash(f"Periode {label} dibuat" + (f"; {copied} penerima disalin dari {source.label} (status: belum cair)."
                                       if source else "."))
    return redirect(url_for("disbursements.period_list", period_id=period.id), 303)


@bp.post("/periode/<int:period_id>/tutup")
@allow(OPERATOR)
def close_period(period_id):
    """Close a period: its list and statuses become read-only."""
    period = get_object_or_404(Period, Period.id == period_id)
    with database.db.atomic("IMMEDIATE"):
        Period.update(closed=True, closed_at=utcnow()).where(Period.id == period.id).execute()
        record("periode.ditutup", entity="period", entity_id=period.id, new=period.label)
    flash(f"Periode {period.label} ditutup. Daftar dan statusnya kini hanya dapat dibaca.")
    return redirect_to(url_for("disbursements.period_list", period_id=period.id))


@bp.post("/periode/<int:period_id>/buka")
@admin_only
def reopen_period(period_id):
    """Reopen a closed period (admin only, audited)."""
    period = get_object_or_404(Period, Period.id == period_id)
    with database.db.atomic("IMMEDIATE"):
        Period.update(closed=False, closed_at=None).where(Period.id == period.id).execute()
        record("periode.dibuka", entity="period", entity_id=period.id, new=period.label)
    flash(f"Periode {period.label} dibuka kembali.")
    return redirect(url_for("disbursements.period_list", period_id=period.id), 303)

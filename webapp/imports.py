"""Uploading files: DTSEN data, programme recipient lists and filled-in status files.

Upload → the file is staged in a background job → the operator sees the preview (new, changed,
unchanged, rejected rows, warnings, records not in the file) → confirms with a data version → a
verified backup is made and the batch applied in one transaction, in the background, with progress.
Nothing is written to the data before the confirmation.
"""
import shutil
from pathlib import Path

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from jinja2_fragments.flask import render_block
from playhouse.flask_utils import PaginatedQuery
from playhouse.flask_utils import get_object_or_404
from werkzeug.utils import secure_filename

from . import backups
from .access import OPERATOR
from .access import allow
from .access import record
from .exporting import xlsx_response
from .jobs import DISK_FULL_MESSAGE
from .jobs import Job
from .jobs import disk_full
from .models import ImportBatch
from .models import ImportRejection

bp = Blueprint("imports", __name__, url_prefix="/impor")
ACCEPTED = (".xlsx", ".xlsm", ".csv")
KIND_TITLES = {"dtsen": "Data DTSEN (keluarga dan anggota)", "penerima": "Daftar penerima program",
               "status": "Status penyaluran (isian dari unduhan daftar)"}
FIELDSETS = {"dtsen": "DTSEN", "penerima": "PENERIMA", "status": "STATUS"}


def engine(kind):
    """The importing module of a kind."""
    from .importing import dtsen
    from .importing import penerima
    from .importing import statuses
    return {"dtsen": dtsen, "penerima": penerima, "status": statuses}[kind]


def field_choices(kind):
    """(field, label) pairs for the column-mapping dropdowns of a kind."""
    from .importing import fields
    return getattr(fields, FIELDSETS[kind]).choices()


def upload_params(kind, form):
    """The choices made with the upload (programme, period, year, channel; or the period of a status file)."""
    if kind == "penerima":
        year = form.get("year", type=int)
        return {"program": (form.get("program") or "").strip() or None, "period": (form.get("period") or "").strip() or None,
                "year": year, "channel": form.get("channel") or None}
    if kind == "status":
        return {"period": form.get("period", type=int)}
    return {}


def job_root():
    """Where job folders live: IMPORT_DIR, by default beside the database."""
    return current_app.config.get("IMPORT_DIR") or str(Path(current_app.config["DATABASE"]).resolve().parent / "imports")


def load_job(job_id):
    """The job, or 404."""
    return Job.find(job_root(), job_id) or abort(404)


def stage_work(mapping=None, status_map=None):
    """The staging step of a job: read and check the file, then compute the preview."""
    def work(job):
        status = job.status()
        kind, params, path = status["kind"], status.get("params", {}), job.path(status["upload"])
        progress = job.progress("Membaca berkas")
        if kind == "penerima":
            staged = engine(kind).stage(path, filename=status["filename"], mapping=mapping, status_map=status_map,
                                        progress=progress, **params)
        elif kind == "status":
            staged = engine(kind).stage(path, params["period"], filename=status["filename"], mapping=mapping,
                                        status_map=status_map, progress=progress)
        else:
            staged = engine(kind).stage(path, filename=status["filename"], mapping=mapping, progress=progress)
        job.save("staged.json", staged)
        job.write(step="Membandingkan dengan data", done=0, total=0)
        job.save("preview.json", make_preview(kind, staged))
        job.write(phase="preview", mapping=mapping, status_map=status_map)
    return work


def make_preview(kind, staged):
    """The preview of a staged file (recipient lists are checked for double aid with the settings)."""
    if kind == "penerima":
        return engine(kind).preview(staged, exclusive=current_app.config["EXCLUSIVE_PROGRAMS"])
    return engine(kind).preview(staged)


def index_page(error=None):
    """The upload page with the batch history, optionally with an upload error (422)."""
    from .models import CHANNELS
    from .models import Period
    from .models import Program
    batches = PaginatedQuery(ImportBatch.select().where(ImportBatch.state == "applied")
                             .order_by(ImportBatch.applied_at.desc()), 30, check_bounds=False)
    periods = list(Period.select(Period, Program).join(Program).where(~Period.closed)
                   .order_by(Period.year.desc(), Program.id, Period.label))
    return render_template("imports/index.html", batches=batches, kinds=KIND_TITLES, error=error,
                           programs=list(Program.ordered()), periods=periods, channels=CHANNELS,
                           chosen_period=request.args.get("periode", type=int)), 422 if error else 200


@bp.get("/")
@allow(OPERATOR)
def index():
    """Upload forms, templates and the history of applied batches."""
    return index_page()


@bp.post("/<kind>")
@allow(OPERATOR)
def upload(kind):
    """Receive a file and start staging it."""
    if kind not in KIND_TITLES:
        abort(404)
    file = request.files.get("file")
    if not file or not file.filename:
        return index_page("Pilih berkas .xlsx atau .csv terlebih dahulu.")
    suffix = Path(file.filename).suffix.lower()
    if suffix not in ACCEPTED:
        message = ("Berkas .xls (Excel lama) tidak dapat dibaca dengan aman. Buka di Excel lalu simpan ulang "
                   "sebagai .xlsx (Excel Workbook)." if suffix == ".xls" else
                   "Hanya berkas .xlsx atau .csv yang dapat diimpor. Simpan ulang berkas sebagai .xlsx.")
        return index_page(message)
    params = upload_params(kind, request.form)
    if kind == "status" and not params["period"]:
        return index_page("Pilih periode dari daftar yang diunduh.")
    job = None
    try:
        job = Job.create(job_root(), kind=kind, filename=secure_filename(file.filename) or f"berkas{suffix}",
                         upload=f"upload{suffix}", user=g.user.username, params=params)
        file.save(job.path(f"upload{suffix}"))
    except OSError as exc:
        if not disk_full(exc):
            raise
        if job is not None:
            shutil.rmtree(job.dir, ignore_errors=True)  # a partial upload holds personal data
        return index_page(DISK_FULL_MESSAGE)
    job.run(current_app._get_current_object(), "staging", stage_work())
    return redirect(url_for("imports.job_page", job_id=job.id), 303)


@bp.get("/tugas/<job_id>")
@allow(OPERATOR)
def job_page(job_id):
    """The job: progress while it runs, the preview, or the outcome."""
    job = load_job(job_id)
    status = job.status()
    context = {"job": job, "status": status, "kind_title": KIND_TITLES.get(status["kind"], status["kind"])}
    if status["phase"] == "preview":
        context["preview"] = job.load("preview.json")
        context["field_choices"] = field_choices(status["kind"])
    elif status["phase"] == "done":
        context["result"] = job.load("result.json")
    return render_template("imports/job.html", **context)


@bp.get("/tugas/<job_id>/progres")
@allow(OPERATOR)
def progress(job_id):
    """The progress fragment polled by htmx; a finished job makes the page reload itself."""
    job = load_job(job_id)
    status = job.status()
    if status["phase"] in ("staging", "applying") and not status["stale"]:
        return render_block("imports/job.html", "progress", job=job, status=status)
    response = make_response("", 204)
    response.headers["HX-Refresh"] = "true"
    return response


@bp.post("/tugas/<job_id>/petakan")
@allow(OPERATOR)
def remap(job_id):
    """Stage the file again with columns mapped by hand."""
    job = load_job(job_id)
    status = job.status()
    if status["phase"] != "preview" or not job.path(status["upload"]).exists():
        abort(409, "Berkas ini sudah diproses; unggah ulang untuk memetakan kolom.")
    mapping = {key[len("map:"):]: value for key, value in request.form.items() if key.startswith("map:")}
    mapping = mapping or status.get("mapping")
    words = {key[len("word:"):]: value for key, value in request.form.items() if key.startswith("word:") and value}
    status_map = {**(status.get("status_map") or {}), **words} or None
    job.run(current_app._get_current_object(), "staging", stage_work(mapping, status_map))
    return redirect(url_for("imports.job_page", job_id=job.id), 303)


@bp.post("/tugas/<job_id>/terapkan")
@allow(OPERATOR)
def confirm(job_id):
    """Apply the previewed file: backup first, then one transaction, in the background."""
    job = load_job(job_id)
    status = job.status()
    if status["phase"] != "preview":
        abort(409, "Impor ini sudah diterapkan atau sedang berjalan.")
    kind = status["kind"]
    label = " ".join((request.form.get("version_label") or "").split())[:120]
    if kind == "dtsen" and not label:
        context = {"job": job, "status": status, "preview": job.load("preview.json"),
                   "kind_title": KIND_TITLES[kind], "label_error": "Beri nama versi data, "
                   "mis. “DTSEN Triwulan IV 2025”."}
        return render_template("imports/job.html", field_choices=field_choices(kind), **context), 422
    user, username = g.user.id, g.user.username
    accept_unmatched = request.form.get("accept_unmatched") == "1"

    def work(job):
        from .models import User
        config = current_app.config
        job.write(step="Membuat cadangan sebelum impor")
        backups.backup(config["DATABASE"], config["BACKUP_DIR"], label="sebelum-impor")
        staged, who, progress = job.load("staged.json"), User.get_by_id(user), job.progress("Menerapkan perubahan")
        if kind == "penerima":
            result = engine(kind).apply(staged, user=who, username=username, accept_unmatched=accept_unmatched,
                                        progress=progress, exclusive=config["EXCLUSIVE_PROGRAMS"])
        elif kind == "status":
            result = engine(kind).apply(staged, user=who, username=username, progress=progress)
        else:
            result = engine(kind).apply(staged, label, user=who, username=username, progress=progress)
        job.save("result.json", result)
        job.forget(status["upload"], "staged.json")
        job.write(phase="done")

    job.run(current_app._get_current_object(), "applying", work)
    return redirect(url_for("imports.job_page", job_id=job.id), 303)


@bp.get("/tugas/<job_id>/ditolak.xlsx")
@allow(OPERATOR)
def job_rejected(job_id):
    """The rejected rows of a previewed file, to fix and import again."""
    from .importing import export
    job = load_job(job_id)
    preview = job.load("preview.json")
    record("ekspor.baris_ditolak", entity="import_job", field="berkas", new=preview["filename"])
    return xlsx_response(export.rejected_workbook(preview["rejected"], preview["headers"]),
                         f"ditolak-{Path(preview['filename']).stem}.xlsx")


@bp.get("/batch/<int:batch_id>")
@allow(OPERATOR)
def batch(batch_id):
    """One applied batch: its counts and its rejected rows."""
    item = get_object_or_404(ImportBatch, ImportBatch.id == batch_id)
    return render_template("imports/batch.html", batch=item, rejected=ImportRejection.of_batch(item))


@bp.get("/batch/<int:batch_id>/ditolak.xlsx")
@allow(OPERATOR)
def batch_rejected(batch_id):
    """The rejected rows of an applied batch as .xlsx (audited: it holds NIKs)."""
    from .importing import export
    item = get_object_or_404(ImportBatch, ImportBatch.id == batch_id)
    record("ekspor.baris_ditolak", entity="import_batch", entity_id=item.id)
    return xlsx_response(export.rejected_workbook(ImportRejection.of_batch(item)),
                         f"ditolak-batch-{item.id}.xlsx")


@bp.get("/templat/<kind>.xlsx")
@allow(OPERATOR)
def template(kind):
    """An empty file in the layout the import understands (ID columns formatted as text)."""
    from .importing import export
    if kind not in export.TEMPLATES:
        abort(404)
    return xlsx_response(export.template_workbook(kind), f"templat-impor-{kind}.xlsx")

"""The status round-trip: a filled copy of a period's list export read back into that period's statuses.

The export (webapp/exporting.period_workbook) names each row by its "ID baris". Only rows of the chosen
period are touched, and only their status, status date, reason and note, validated as an inline edit is
(ledger.StatusChange). A column left out of the file keeps what the application has; a blank cell in a
column that is there means "empty", except a blank status (keeps the status) and a blank date beside an
unchanged status (keeps the date). The export's header block says when it was made, to the minute: a row
changed in the application in that minute or later and different in the file is left out, like a stale
inline edit (409), never overwritten; a false alarm costs a fresh export, a missed one a lost status.
"""
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from datetime import timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from peewee import JOIN

from .. import db as database
from ..formatting import waktu
from ..ledger import AUDITED_FIELDS
from ..ledger import StatusChange
from ..ledger import today_wib
from ..models import Disbursement
from ..models import Household
from ..models import ImportBatch
from ..models import Period
from ..models import Person
from ..models import Program
from ..models import User
from ..models import utcnow
from . import Refused
from . import applying
from . import fields
from . import normalise
from . import reading
from . import staging
from .dtsen import audit_text
from .penerima import checked_status_map
from .penerima import map_status
from .penerima import unknown_message
from .penerima import unknown_words

KIND = "status"
MONTHS = {name: number for number, name in enumerate(
    ("januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus", "september", "oktober",
     "november", "desember"), start=1)}
EXPORTED = re.compile(r"Dibuat (\d{1,2}) (\w+) (\d{4}) (\d{1,2})[.:](\d{2}) WIB")
UPDATED = AUDITED_FIELDS


def stage(path, period, filename=None, mapping=None, status_map=None, limits=reading.Limits(), progress=None,
          today=None):
    """Read and check a filled period export into a JSON-serialisable dict; a refused file carries 'refused'."""
    path = Path(path)
    staged = staging.new_staged(KIND, path, filename, mapping, period_id=int(period), exported_at=None,
                                status_map=dict(status_map or {}), unknown_statuses=[], records=[])
    try:
        read(path, staged, limits, progress, today or today_wib())
    except Refused as exc:
        staged.update(refused=str(exc), records=[])
    return staged


def read(path, staged, limits, progress, today):
    """Fill a staged dict from the file; raise Refused when it cannot be used at all."""
    status_map = checked_status_map(staged)

    def reopen():
        """The file's table, read again from the start."""
        return reading.open_table(path, fields.STATUS, staged["mapping"], staged["filename"], limits)

    table = reopen()
    present, header = staging.describe_table(staged, table, fields.STATUS)
    staged["exported_at"] = exported_at(table.preamble)
    if "id" not in present:
        raise Refused(f'Kolom "ID baris" tidak ditemukan pada judul kolom (baris {table.header_row}). Impor status '
                      "hanya membaca salinan daftar penerima yang diekspor dari Rekap Bansos.")
    if not present & set(UPDATED):
        raise Refused("Tidak ada kolom Status, Tanggal status, Alasan atau Keterangan untuk diperbarui.")
    if staged["exported_at"] is None:
        staged["notices"].append('Waktu ekspor ("Dibuat …") tidak ditemukan di atas judul kolom: perubahan di '
                                 "aplikasi sesudah berkas ini dibuat tidak dapat dikenali.")
    report = staging.Report(table.headers)
    ctx = normalise.Context(table.epoch, today)
    records = staging.normalise_rows(table, fields.STATUS, report, ctx, progress, keep_cells=True)
    records = staging.reject_duplicates(records, "id", header["id"], report, reopen)
    unknown = {}
    for record in records:
        map_status(record, status_map, unknown)
    staged["rows"] = len(records) + len(report.rejected)
    staged.update(records=records, rejected=report.rejected_rows(), warnings=report.warnings(),
                  unknown_statuses=unknown_words(unknown, header.get("status")))
    if not staged["rows"]:
        raise Refused(f"Tidak ada baris data di bawah judul kolom (baris {table.header_row}).")


def exported_at(preamble):
    """When the export was made (naive UTC, ISO text) from its "Dibuat 1 Juni 2026 10.05 WIB" line, or None."""
    for line in preamble:
        found = EXPORTED.search(line)
        if found and found.group(2).lower() in MONTHS:
            day, _, year, hour, minute = found.groups()
            try:
                local = datetime(int(year), MONTHS[found.group(2).lower()], int(day), int(hour), int(minute),
                                 tzinfo=ZoneInfo("Asia/Jakarta"))
            except ValueError:
                return None
            return local.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    return None


def stored_rows(ids):
    """{id: row dict} of the active disbursements with these ids, with their recipient and last editor."""
    names = ("id", "period_id", "no_kk", "nik", "nama", *UPDATED, "updated_at", "updated_by", "version")

    def query(chunk):
        """One chunk of rows, read raw (dates stay ISO text)."""
        return (Disbursement.select(Disbursement.id, Disbursement.period, Household.no_kk, Person.nik, Person.nama,
                                    *(getattr(Disbursement, name) for name in UPDATED), Disbursement.updated_at,
                                    User.username, Disbursement.version)
                .join(Household).switch(Disbursement).join(Person, JOIN.LEFT_OUTER)
                .switch(Disbursement).join(User, JOIN.LEFT_OUTER, on=(Disbursement.updated_by == User.id))
                .where(Disbursement.id.in_(chunk) & Disbursement.deleted_at.is_null()))

    return {row[0]: dict(zip(names, row)) for row in applying.in_chunks(query, ids)}


def period_names(period_ids):
    """{period id: "PKH Tahap 1 2026"} for messages about rows of other periods."""
    query = Period.select(Period.id, Program.code, Period.label).join(Program).where(Period.id.in_(list(period_ids)))
    return {pid: f"{code} {label}" for pid, code, label in query.tuples()}


def digits(text):
    """The digits of a NIK or No KK as typed."""
    return re.sub(r"\D", "", text or "")


@dataclass
class Plan:
    """What applying a staged status file would change now."""

    period: object = None
    refused: str = None
    changes: list = dc_field(default_factory=list)
    unchanged: list = dc_field(default_factory=list)

    @property
    def version_label(self):
        """The batch's label: programme and period."""
        return f"{self.period.program.code} — {self.period.label}"


def make_plan(staged):
    """Compare a staged status file with the period's rows (read only)."""
    plan = Plan()
    plan.period = Period.select(Period, Program).join(Program).where(Period.id == staged["period_id"]).first()
    if plan.period is None:
        plan.refused = f"Periode dengan ID {staged['period_id']} tidak ada."
        return plan, None
    if plan.period.closed:
        plan.refused = (f"Periode {plan.period.label} ({plan.period.program.code}) sudah ditutup; statusnya tidak "
                        "dapat diubah. Minta admin membukanya kembali bila perlu.")
        return plan, None
    report = staging.Report(staged["headers"])
    header = {name: h for h, name in staged["columns"].items()}
    stored = stored_rows({r["id"] for r in staged["records"]})
    others = period_names({row["period_id"] for row in stored.values()} - {plan.period.id})
    exported = datetime.fromisoformat(staged["exported_at"]) if staged["exported_at"] else None
    for record in staged["records"]:
        old = stored.get(record["id"])
        problem = mismatch(record, old, plan.period, others, header)
        if problem:
            report.reject(record["row"], *problem, record["cells"])
            continue
        change, messages = requested(record, old, header, report)
        if messages:
            for column, message in messages:
                report.reject(record["row"], column, message, record["cells"])
            continue
        changes = {name: [value_text(old[name]), value_text(change[name])] for name in UPDATED
                   if (old[name] or None) != (value_text(change[name]) or None)}
        item = {"row": record["row"], "id": record["id"], "no_kk": old["no_kk"], "nik": old["nik"],
                "nama": old["nama"] or record.get("nama")}
        if not changes:
            plan.unchanged.append(item)
            continue
        changed_at = datetime.fromisoformat(str(old["updated_at"]))
        # The export's "Versi baris" says exactly whether the row changed since; without it, the export time.
        stale = (record["version"] != old["version"] if record.get("version") is not None
                 else bool(exported and changed_at >= exported))
        if stale:
            report.reject(record["row"], header["id"],
                          f"baris ini diubah di aplikasi{' oleh ' + old['updated_by'] if old['updated_by'] else ''} "
                          f"pada {waktu(changed_at)}, tidak sebelum berkas ini diekspor ({waktu(exported)}): ekspor "
                          "ulang daftarnya lalu isi kembali", record["cells"])
            continue
        plan.changes.append({**item, "changes": changes, "values": {n: value_text(change[n]) for n in UPDATED}})
    if not (plan.changes or plan.unchanged):
        plan.refused = "Tidak ada baris yang dapat diterapkan: semua baris ditolak (lihat alasannya)."
    return plan, report


def mismatch(record, old, period, others, header):
    """(column, reason) when a row's id does not name a row of this period and recipient, else None."""
    column = header["id"]
    if old is None:
        return column, f"ID baris {record['id']} tidak ada di data (mungkin sudah dihapus)"
    if old["period_id"] != period.id:
        return column, (f"ID baris {record['id']} milik periode {others.get(old['period_id'], old['period_id'])}, "
                        f"bukan {period.program.code} {period.label}")
    for name, label in (("no_kk", "No KK"), ("nik", "NIK")):
        given = digits(record.get(name))
        if given and old[name] and given != old[name]:
            return header[name], (f"{label} di berkas ({given}) berbeda dengan {label} baris ini ({old[name]}): "
                                  "kolom ID baris tertukar?")
    return None


def requested(record, old, header, report):
    """(the values a row asks for, [(column, error)]) validated as an inline edit (ledger.StatusChange)."""
    status = record.get("status") or old["status"]
    given_date = record.get("status_date")
    note = record.get("note", "") if "note" in header else old["note"]
    if "reason" not in header:
        reason = old["reason"] if status == "tidak_cair" else None
    elif status != "tidak_cair":
        reason = None
        if record.get("reason"):
            report.warn(record["row"], header["reason"], "alasan diabaikan: hanya status Tidak cair yang beralasan")
    else:
        reason = normalise.reason_key(record["reason"]) if record.get("reason") else None
        if record.get("reason") and reason is None:
            reason, note = "lainnya", "; ".join(dict.fromkeys(t for t in (record["reason"], note) if t))
    change = StatusChange.from_form({"status": status, "status_date": given_date or "", "reason": reason or "",
                                     "note": note or ""})
    values = change.values()
    if not given_date and status == old["status"]:
        values["status_date"] = old["status_date"]
    return values, [(error_column(error, header), error.rstrip(".")) for error in change.errors]


def error_column(error, header):
    """The file column a StatusChange error is about."""
    text = error.lower()
    for word, name in (("keterangan", "note"), ("alasan", "reason"), ("tanggal", "status_date")):
        if word in text and name in header:
            return header[name]
    return header.get("status") or header["id"]


def value_text(value):
    """A stored or requested value as the text the database keeps (dates as ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def preview(staged):
    """Every change old → new, the rows unchanged and the rows left out (read only; needs a connection)."""
    result = {key: staged[key] for key in ("kind", "filename", "sha256", "sheet", "header_row", "headers", "columns",
                                           "fields", "notices", "refused", "rows", "period_id", "exported_at",
                                           "unknown_statuses")}
    result.update(ignored=[h for h in staged["headers"] if h not in staged["columns"]], already_applied=None,
                  period=None, changes=[], unchanged=[])
    rejected, warnings = list(staged["rejected"]), list(staged["warnings"])
    if not staged["refused"]:
        plan, report = make_plan(staged)
        if plan.period is not None:
            result["period"] = {"id": plan.period.id, "label": plan.period.label, "program": plan.period.program.code,
                                "closed": plan.period.closed}
        result.update(refused=plan.refused, changes=plan.changes, unchanged=plan.unchanged)
        if report:
            rejected += report.rejected_rows()
            warnings += report.warnings()
        if not plan.refused:
            earlier = applying.applied_batch(KIND, staged["sha256"], plan.version_label)
            result["already_applied"] = applying.batch_summary(earlier) if earlier else None
    if not result["refused"] and staged["unknown_statuses"]:
        result["refused"] = unknown_message(staged["unknown_statuses"])
    result["rejected"] = sorted(rejected, key=lambda r: r["row"])
    result["warnings"] = sorted(warnings, key=lambda w: w["rows"][0])
    result["counts"] = {"rows": staged["rows"], "changed": len(result["changes"]),
                        "unchanged": len(result["unchanged"]), "rejected": len(result["rejected"]),
                        "warnings": len(result["warnings"]),
                        "fields_changed": sum(len(item["changes"]) for item in result["changes"])}
    return result


def apply(staged, user=None, username="", progress=None):
    """Apply a staged status file in one transaction; return the batch summary (already_applied when seen)."""
    if staged["refused"]:
        raise Refused(staged["refused"])
    if staged["unknown_statuses"]:
        raise Refused(unknown_message(staged["unknown_statuses"]))
    with database.db.atomic("IMMEDIATE"):
        plan, report = make_plan(staged)
        if plan.refused:
            raise Refused(plan.refused)
        earlier = applying.applied_batch(KIND, staged["sha256"], plan.version_label)
        if earlier:
            return {**applying.batch_summary(earlier), "already_applied": True, "period_id": plan.period.id}
        rejected = sorted(staged["rejected"] + report.rejected_rows(), key=lambda r: r["row"])
        batch = ImportBatch.create(
            kind=KIND, filename=staged["filename"], sha256=staged["sha256"], version_label=plan.version_label,
            user=user, state="applied", applied_at=utcnow(), new_count=0, changed_count=len(plan.changes),
            unchanged_count=len(plan.unchanged), rejected_count=len(rejected))
        writer = applying.Writer(batch, user, username, len(plan.changes), progress)
        writer.update(Disbursement, [*UPDATED, "updated_by"],
                      ((*(item["values"][name] for name in UPDATED), writer.user_id, item["id"])
                       for item in plan.changes))
        writer.audit([
            ("import.apply", "import_batch", batch.id, "", None, batch.version_label),
            *(("penyaluran.ubah", "disbursement", item["id"], name, audit_text(old), audit_text(new))
              for item in plan.changes for name, (old, new) in item["changes"].items()),
        ])
        writer.rejections(rejected)
    return {**applying.batch_summary(batch), "already_applied": False, "period_id": plan.period.id}

"""The DTSEN import: families (KK) and members (jiwa) from SIKS-NG and DTSEN desil exports, OpenSID's
population file or hand-kept sheets, one row per person (with No KK) or one row per family (no NIK).

stage() reads and checks a file without touching the database; preview() compares a staged file with
the database; apply() writes it in one IMMEDIATE transaction. The staged dict is plain JSON data, so
the web flow can keep it (staging.save) until the operator confirms. apply() compares again inside its
transaction, so an edit made between preview and confirmation is neither lost nor blindly overwritten.

A blank optional cell keeps what the database has, except desil: DTSEN leaves unranked families empty,
so a blank desil means "no desil". Nobody is deleted for missing from a file (reliability.md §3.5);
the preview lists them as "tidak ada di file".
"""
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from pathlib import Path

from .. import db as database
from ..models import Desa
from ..models import Household
from ..models import ImportBatch
from ..models import Person
from ..models import utcnow
from . import Refused
from . import applying
from . import fields
from . import normalise
from . import reading
from . import staging

KIND = "dtsen"
HOUSEHOLD_DEFAULTS = {"dusun": "", "rw": "", "rt": "", "alamat": "", "desil": None}
PERSON_DEFAULTS = {"nama": "", "hubungan": "lainnya", "jenis_kelamin": None, "tanggal_lahir": None,
                   "keberadaan": "tinggal"}
HOUSEHOLD_FIELDS = tuple(HOUSEHOLD_DEFAULTS)
PERSON_FIELDS = tuple(PERSON_DEFAULTS)


def stage(path, filename=None, mapping=None, limits=reading.Limits(), progress=None, today=None):
    """Read and check a DTSEN file into a JSON-serialisable dict; a refused file carries 'refused'."""
    path = Path(path)
    staged = staging.new_staged(KIND, path, filename, mapping, defaults={}, households=[], persons=[])
    try:
        read(path, staged, mapping, limits, progress, today or date.today())
    except Refused as exc:
        staged.update(refused=str(exc), households=[], persons=[])
    return staged


def read(path, staged, mapping, limits, progress, today):
    """Fill a staged dict from the file; raise Refused when the file cannot be imported at all."""
    def reopen():
        """The file's table, read again from the start."""
        return reading.open_table(path, fields.DTSEN, mapping, staged["filename"], limits)

    table = reopen()
    present, header = staging.describe_table(staged, table, fields.DTSEN)
    if "no_kk" not in present:
        raise Refused(f'Kolom No KK tidak ditemukan pada judul kolom (baris {table.header_row}). '
                      'Tambahkan kolom "NO KK", atau petakan kolomnya secara manual.')
    if "nik" in present and "nama" not in present:
        raise Refused(f'Kolom NAMA tidak ditemukan pada judul kolom (baris {table.header_row}): setiap orang '
                      '(NIK) perlu nama. Tambahkan kolom "NAMA", atau petakan kolomnya secara manual.')
    report = staging.Report(table.headers)
    rows = staging.normalise_rows(table, fields.DTSEN, report, normalise.Context(table.epoch, today), progress)
    if "nik" in present:
        rows = staging.reject_duplicates(rows, "nik", header["nik"], report, reopen)
    staged["rows"] = len(rows) + len(report.rejected)
    households = group_households(rows, present, header, report)
    staged.update(households=households, rejected=report.rejected_rows(), warnings=report.warnings())
    if "nik" in present:
        staged["persons"] = rows
        if "hubungan" not in present and len(households) == len(rows):
            staged["defaults"]["hubungan"] = "kepala"
            staged["notices"].append("Tidak ada kolom hubungan keluarga dan setiap No KK hanya satu baris: "
                                     "orang baru dicatat sebagai Kepala Keluarga.")
    elif present & set(PERSON_FIELDS):
        ignored = ", ".join(header[name] for name in PERSON_FIELDS if name in present)
        staged["notices"].append(f"Berkas tanpa kolom NIK: hanya data keluarga (KK) yang diimpor; "
                                 f"kolom {ignored} diabaikan.")
    if not staged["rows"]:
        raise Refused(f"Tidak ada baris data di bawah judul kolom (baris {table.header_row}).")
    if not rows:
        raise Refused(f"Tidak ada baris yang sah: semua {staged['rows']} baris ditolak. "
                      "Perbaiki baris yang ditolak (lihat alasannya), lalu impor ulang.")


def group_households(rows, present, header, report):
    """One household per No KK, its fields settled across its members' rows (moved out of the rows)."""
    groups = {}
    for values in rows:
        groups.setdefault(values["no_kk"], []).append(values)
    households = []
    for no_kk, members in groups.items():
        household = {"no_kk": no_kk, "row": members[0]["row"], "rows": [m["row"] for m in members]}
        for name in HOUSEHOLD_FIELDS:
            if name in present:
                given = [(m["row"], m.pop(name), m.get("hubungan") == "kepala") for m in members if name in m]
                if given:
                    household[name] = staging.settle(given, header[name], f"No KK {no_kk}", report)
        households.append(household)
    return households


@dataclass
class Plan:
    """What applying a staged file would do to the database now."""

    new_households: list = dc_field(default_factory=list)
    changed_households: list = dc_field(default_factory=list)
    unchanged_households: int = 0
    new_persons: list = dc_field(default_factory=list)
    changed_persons: list = dc_field(default_factory=list)
    unchanged_persons: int = 0
    household_ids: dict = dc_field(default_factory=dict)
    missing_households: list = dc_field(default_factory=list)
    missing_persons: list = dc_field(default_factory=list)
    warnings: list = dc_field(default_factory=list)
    rows: dict = dc_field(default_factory=dict)


# The stored values are read raw (dates stay ISO text, as staged): Peewee's conversions of a
# kecamatan's 200,000 persons cost 2.5 s per comparison (import benchmark).
def existing_households():
    """{no_kk: (id, (values of HOUSEHOLD_FIELDS))} of the active households."""
    query = (Household.select(Household.id, Household.no_kk, *(getattr(Household, f) for f in HOUSEHOLD_FIELDS))
             .where(Household.deleted_at.is_null()))
    return {row[1]: (row[0], row[2:]) for row in database.db.execute(query)}


def existing_persons():
    """{nik: (id, no_kk, (values of PERSON_FIELDS))} of the active persons."""
    query = (Person.select(Person.id, Person.nik, Household.no_kk, *(getattr(Person, f) for f in PERSON_FIELDS))
             .join(Household).where(Person.deleted_at.is_null()))
    return {row[1]: (row[0], row[2], row[3:]) for row in database.db.execute(query)}


def deleted_keys(model, key, keys):
    """The keys among `keys` that exist only on soft-deleted rows of a model."""
    column = getattr(model, key)
    gone = {k for (k,) in model.select(column).where(model.deleted_at.is_null(False)).tuples()}
    return gone & set(keys)


def compare(record, old, names):
    """{field: [old, new]} for the fields a record gives that differ from the stored values (in names order)."""
    return {name: [value, record[name]] for name, value in zip(names, old)
            if name in record and record[name] != value}


def merged(record, old, names):
    """The stored values with the record's given fields laid over them, in names order."""
    return tuple(record.get(name, value) for name, value in zip(names, old))


def make_plan(staged):
    """Compare a staged file with the database (read only)."""
    plan = Plan()
    report = staging.Report(staged["headers"])
    header = {name: h for h, name in staged["columns"].items()}
    households = existing_households()
    for no_kk in deleted_keys(Household, "no_kk", [h["no_kk"] for h in staged["households"]]) - set(households):
        row = next(h["row"] for h in staged["households"] if h["no_kk"] == no_kk)
        report.warn(row, header["no_kk"], "No KK ini pernah dihapus dari data; akan dicatat sebagai KK baru")
    action_of = {}
    for record in staged["households"]:
        found = households.get(record["no_kk"])
        if found is None:
            plan.new_households.append(record)
            action_of[record["no_kk"]] = "new"
            continue
        changes = compare(record, found[1], HOUSEHOLD_FIELDS)
        plan.household_ids[record["no_kk"]] = found[0]
        if changes:
            plan.changed_households.append((found[0], record, changes, merged(record, found[1], HOUSEHOLD_FIELDS)))
        else:
            plan.unchanged_households += 1
        action_of[record["no_kk"]] = "changed" if changes else "unchanged"
    in_file = {h["no_kk"] for h in staged["households"]}
    plan.missing_households = [{"id": hid, "no_kk": no_kk, **dict(zip(HOUSEHOLD_FIELDS, values))}
                               for no_kk, (hid, values) in households.items() if no_kk not in in_file]
    if staged["persons"]:
        plan_persons(staged, plan, action_of, header, report)
    else:
        for record in staged["households"]:
            for row in record["rows"]:
                plan.rows[row] = action_of[record["no_kk"]]
    plan.warnings = report.warnings()
    return plan


def plan_persons(staged, plan, action_of, header, report):
    """The person part of a plan: new, changed (moves included) and missing persons."""
    persons = existing_persons()
    niks = [p["nik"] for p in staged["persons"]]
    gone = deleted_keys(Person, "nik", niks) - set(persons)
    for record in staged["persons"]:
        found = persons.get(record["nik"])
        if found is None:
            plan.new_persons.append(record)
            plan.rows[record["row"]] = "new"
            if record["nik"] in gone:
                report.warn(record["row"], header["nik"],
                            "NIK ini pernah dihapus dari data; akan dicatat sebagai orang baru")
            continue
        person_id, old_no_kk, old = found
        changes = compare(record, old, PERSON_FIELDS)
        if old_no_kk != record["no_kk"]:
            changes["no_kk"] = [old_no_kk, record["no_kk"]]
        if changes:
            plan.changed_persons.append((person_id, record, changes, merged(record, old, PERSON_FIELDS)))
        else:
            plan.unchanged_persons += 1
        household_changed = action_of[record["no_kk"]] != "unchanged"
        plan.rows[record["row"]] = "changed" if changes or household_changed else "unchanged"
    in_file = set(niks)
    plan.missing_persons = [{"id": pid, "nik": nik, "nama": values[0], "no_kk": no_kk}
                            for nik, (pid, no_kk, values) in persons.items() if nik not in in_file]


def row_counts(staged, plan):
    """Rows of the file by outcome: new, changed, unchanged, rejected."""
    outcomes = list(plan.rows.values())
    return {"new": outcomes.count("new"), "changed": outcomes.count("changed"),
            "unchanged": outcomes.count("unchanged"), "rejected": len(staged["rejected"])}


def preview(staged):
    """What applying would do, as a JSON-serialisable dict (read only; needs a database connection)."""
    result = {key: staged[key] for key in ("kind", "filename", "sha256", "sheet", "header_row", "headers",
                                           "columns", "fields", "notices", "refused", "rows", "rejected")}
    result["ignored"] = [h for h in staged["headers"] if h not in staged["columns"]]
    earlier = applying.applied_batch(KIND, staged["sha256"])
    result["already_applied"] = applying.batch_summary(earlier) if earlier else None
    if staged["refused"]:
        return {**result, "counts": {"rows": staged["rows"], "rejected": len(staged["rejected"])},
                "households": {"new": [], "changed": []}, "persons": {"new": [], "changed": []},
                "missing": {"households": [], "persons": []}, "warnings": staged["warnings"]}
    plan = make_plan(staged)
    result["counts"] = {
        "rows": staged["rows"], **{f"rows_{k}": v for k, v in row_counts(staged, plan).items()},
        "households_new": len(plan.new_households), "households_changed": len(plan.changed_households),
        "households_unchanged": plan.unchanged_households, "persons_new": len(plan.new_persons),
        "persons_changed": len(plan.changed_persons), "persons_unchanged": plan.unchanged_persons,
        "persons_moved": sum("no_kk" in changes for _, _, changes, _ in plan.changed_persons),
        "rejected": len(staged["rejected"]),
        "households_missing": len(plan.missing_households), "persons_missing": len(plan.missing_persons),
    }
    result["households"] = {
        "new": [strip_rows(record) for record in plan.new_households],
        "changed": [{"id": hid, "no_kk": record["no_kk"], "row": record["row"], "changes": changes}
                    for hid, record, changes, _ in plan.changed_households]}
    result["persons"] = {
        "new": plan.new_persons,
        "changed": [{"id": pid, "nik": record["nik"], "nama": record.get("nama", ""), "no_kk": record["no_kk"],
                     "row": record["row"], "changes": changes, "move": changes.get("no_kk")}
                    for pid, record, changes, _ in plan.changed_persons]}
    result["missing"] = {"households": plan.missing_households, "persons": plan.missing_persons}
    result["warnings"] = sorted(staged["warnings"] + plan.warnings, key=lambda w: w["rows"][0])
    result["counts"]["warnings"] = len(result["warnings"])
    return result


def strip_rows(record):
    """A staged household without its list of source rows."""
    return {key: value for key, value in record.items() if key != "rows"}


def apply(staged, version_label="", user=None, username="", progress=None):
    """Apply a staged file in one transaction; return the batch summary (already_applied when seen before)."""
    if staged["refused"]:
        raise Refused(staged["refused"])
    desa = Desa.current()
    if desa is None:
        raise Refused("Data desa belum ada: jalankan `flask init-db` dahulu.")
    with database.db.atomic("IMMEDIATE"):
        earlier = applying.applied_batch(KIND, staged["sha256"])
        if earlier:
            return {**applying.batch_summary(earlier), "already_applied": True}
        plan = make_plan(staged)
        counts = row_counts(staged, plan)
        batch = ImportBatch.create(
            kind=KIND, filename=staged["filename"], sha256=staged["sha256"], version_label=version_label,
            user=user, state="applied", applied_at=utcnow(), new_count=counts["new"],
            changed_count=counts["changed"], unchanged_count=counts["unchanged"], rejected_count=counts["rejected"])
        total = (len(plan.new_households) + len(plan.changed_households) + len(plan.new_persons)
                 + len(plan.changed_persons))
        writer = applying.Writer(batch, user, username, total, progress)
        write(staged, plan, writer, desa)
    database.optimize()
    return {**applying.batch_summary(batch), "already_applied": False}


def write(staged, plan, writer, desa):
    """Insert and update households and persons with their audit events."""
    writer.insert(Household, ["no_kk", "desa", *HOUSEHOLD_FIELDS],
                  ((h["no_kk"], desa.id, *(h.get(f, HOUSEHOLD_DEFAULTS[f]) for f in HOUSEHOLD_FIELDS))
                   for h in plan.new_households))
    writer.update(Household, HOUSEHOLD_FIELDS, ((*values, hid) for hid, _, _, values in plan.changed_households))
    created = writer.ids(Household, "no_kk")
    plan.household_ids.update(created)
    ids = plan.household_ids
    defaults = {**PERSON_DEFAULTS, **staged["defaults"]}
    with database.bulk_person_inserts():
        writer.insert(Person, ["nik", "household", *PERSON_FIELDS],
                      ((p["nik"], ids[p["no_kk"]], *(p.get(f, defaults[f]) for f in PERSON_FIELDS))
                       for p in plan.new_persons))
    writer.update(Person, ["household", *PERSON_FIELDS],
                  ((ids[record["no_kk"]], *values, pid) for pid, record, _, values in plan.changed_persons))
    person_ids = writer.ids(Person, "nik")
    writer.audit([
        ("import.apply", "import_batch", writer.batch.id, "", None, writer.batch.version_label),
        *(("import.create", "household", hid, "no_kk", None, no_kk) for no_kk, hid in created.items()),
        *(("import.update", "household", hid, name, audit_text(old), audit_text(new))
          for hid, _, changes, _ in plan.changed_households for name, (old, new) in changes.items()),
        *(("import.create", "person", pid, "nik", None, nik) for nik, pid in person_ids.items()),
        *(("import.move" if name == "no_kk" else "import.update", "person", pid, name, audit_text(old),
           audit_text(new)) for pid, _, changes, _ in plan.changed_persons for name, (old, new) in changes.items()),
    ])
    writer.rejections(staged["rejected"])


def audit_text(value):
    """A value as audit-log text (None stays NULL)."""
    return None if value is None else str(value)

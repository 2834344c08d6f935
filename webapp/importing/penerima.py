"""The recipient-list import: who is on a programme's period list, through which channel, with which status.

Lists come from the Kantor Pos (with No KK), SIKS-NG BNBA (only NIK and NAMA), banks, the desa's own sheets
and OpenSID's programme-participant file (sheets Program and Peserta, anchors.md §2.1). They go through the
DTSEN import's reading, header recognition and normalising: stage() reads a file without touching the
database, preview() matches every row against the desa's data and the period's list, apply() matches again
inside one IMMEDIATE transaction and writes.

Matching (domain.md §5): by No KK, else by NIK (to the person, and through the person to the household for
keluarga programmes); the NIK decides over a differing name, which is a warning. A row that matches nothing
is never dropped silently: it stays in the batch's rejected rows, or with accept_unmatched becomes a
household outside the DTSEN data (in_dtsen = False). A file without a status column lists everyone as
belum and never changes a status already on the list. The same file applied again to the same period
changes nothing; the same file into another period (BLT-DD's monthly list) is a new import.
"""
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from pathlib import Path

from peewee import fn

from .. import db as database
from ..formatting import tanggal
from ..ledger import CHANNEL_KEYS
from ..ledger import overlapping
from ..ledger import today_wib
from ..models import Desa
from ..models import Disbursement
from ..models import Household
from ..models import ImportBatch
from ..models import Period
from ..models import Person
from ..models import Program
from ..models import utcnow
from ..programs import period_year
from . import Refused
from . import applying
from . import fields
from . import normalise
from . import reading
from . import staging
from .dtsen import HOUSEHOLD_DEFAULTS
from .dtsen import HOUSEHOLD_FIELDS
from .dtsen import PERSON_DEFAULTS
from .dtsen import PERSON_FIELDS
from .dtsen import audit_text

KIND = "penerima"
CATEGORIES = {"matched": "cocok", "by_nik": "cocok lewat NIK saja", "name_differs": "nama berbeda",
              "not_found": "tidak ada di data desa", "duplicate": "ganda di berkas",
              "already": "sudah ada di daftar periode ini"}
APPLIED = ("matched", "by_nik", "name_differs", "already")
LIST_FIELDS = ("status", "status_date", "reason", "note", "channel", "amount")
PROGRAM_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,19}")

OPENSID_SHEETS = ("program", "peserta")
# Rows of OpenSID's Program sheet, by their label's word key; "Rentang Waktu (Awal)" keeps its note.
OPENSID_ROWS = {"IDPROGRAM": "id", "NAMAPROGRAM": "nama", "SASARANPROGRAM": "sasaran", "KETERANGAN": "keterangan",
                "ASALDANA": "asal_dana", "RENTANGWAKTUAWAL": "start", "RENTANGWAKTUAKHIR": "end"}
OPENSID_SASARAN = {1: "jiwa", 2: "keluarga", 3: None, 4: None}
SASARAN_WORDS = {"PENDUDUK": 1, "JIWA": 1, "KELUARGA": 2, "KK": 2, "RUMAHTANGGA": 3, "KELOMPOK": 4}
ASAL_DANA = {1: "Pusat", 2: "Provinsi", 3: "Kab/Kota", 4: "Dana Desa", 5: "Lain-lain (Hibah)"}


def stage(path, filename=None, mapping=None, program=None, period=None, year=None, channel=None, status_map=None,
          limits=reading.Limits(), progress=None, today=None):
    """Read and check a recipient list into a JSON-serialisable dict; a refused file carries 'refused'."""
    path = Path(path)
    staged = staging.new_staged(
        KIND, path, filename, mapping, opensid=None, status_map=dict(status_map or {}), has_status=False,
        unknown_statuses=[], records=[],
        target={"program": (program or "").strip().upper() or None, "period": clean_label(period), "year": year,
                "channel": channel or None, "start_date": None, "end_date": None})
    try:
        read(path, staged, limits, progress, today or today_wib())
    except Refused as exc:
        staged.update(refused=str(exc), records=[])
    return staged


def clean_label(label):
    """A period label with spaces collapsed (None when blank)."""
    return " ".join((label or "").split())[:60] or None


def read(path, staged, limits, progress, today):
    """Fill a staged dict from the file; raise Refused when it cannot be imported at all."""
    target = staged["target"]
    check_target(target)
    status_map = checked_status_map(staged)
    sheets = {name.casefold(): name for name in reading.sheet_names(path, staged["filename"], limits)}
    sheet = None
    if all(name in sheets for name in OPENSID_SHEETS):
        staged["opensid"] = opensid_program(path, sheets["program"], limits)
        sheet = sheets["peserta"]
        target_from_opensid(staged)
    if not target["program"] and not staged["opensid"]:
        raise Refused("Sebutkan programnya (kode program, mis. PKH atau BLT-DD): berkas ini tidak berisi lembar "
                      "Program seperti berkas OpenSID.")
    if not target["period"]:
        raise Refused('Sebutkan periodenya (mis. "Tahap 2 2025"); periode yang belum ada akan dibuat.')
    table = reading.open_table(path, fields.PENERIMA, staged["mapping"], staged["filename"], limits, sheet)
    present, header = staging.describe_table(staged, table, fields.PENERIMA)
    staged["has_status"] = "status" in present
    if not present & set(fields.PENERIMA.keys):
        raise Refused(f"Kolom No KK atau NIK tidak ditemukan pada judul kolom (baris {table.header_row}). "
                      'Tambahkan kolom "NO KK" atau "NIK", atau petakan kolomnya secara manual.')
    if not staged["has_status"]:
        staged["notices"].append("Tidak ada kolom status: penerima baru dicatat Belum cair; status penerima yang "
                                 "sudah ada di daftar tidak diubah.")
    report = staging.Report(table.headers)
    ctx = normalise.Context(table.epoch, today)
    records = staging.normalise_rows(table, fields.PENERIMA, report, ctx, progress, keep_cells=True)
    unknown = {}
    records = [r for r in records if has_key(r, header, report) and settle_status(r, status_map, header, report,
                                                                                     unknown)]
    staged["rows"] = len(records) + len(report.rejected)
    staged.update(records=records, rejected=report.rejected_rows(), warnings=report.warnings(),
                  unknown_statuses=unknown_words(unknown, header.get("status")))
    if not staged["rows"]:
        raise Refused(f"Tidak ada baris data di bawah judul kolom (baris {table.header_row}).")
    if not records:
        raise Refused(f"Tidak ada baris yang sah: semua {staged['rows']} baris ditolak. "
                      "Perbaiki baris yang ditolak (lihat alasannya), lalu impor ulang.")


def check_target(target):
    """Refuse a channel or year that cannot be right; the year becomes a number."""
    if target["channel"] and target["channel"] not in CHANNEL_KEYS:
        raise Refused(f'Jalur "{target["channel"]}" tidak dikenal: pilih {", ".join(CHANNEL_KEYS)}.')
    if target["year"] in (None, ""):
        target["year"] = None
        return
    year = str(target["year"]).strip()
    if not (year.isdigit() and 2000 <= int(year) <= 2100):
        raise Refused(f"Tahun {year} tidak masuk akal: tulis tahun empat angka, mis. 2026.")
    target["year"] = int(year)


def has_key(record, header, report):
    """True when a row names its recipient (No KK, NIK or OpenSID's Peserta); else reject it."""
    if any(key in record for key in fields.PENERIMA.keys):
        return True
    column = next(header[key] for key in fields.PENERIMA.keys if key in header)
    report.reject(record["row"], column, "No KK dan NIK kosong: penerima tidak dapat dicocokkan", record["cells"])
    return False


def checked_status_map(staged):
    """The operator's status mapping of a staged file by word key; refuse an unknown status."""
    try:
        return normalise.check_status_map(staged["status_map"])
    except normalise.Invalid as exc:
        raise Refused(f"Pemetaan status: {exc}.") from None


def map_status(record, status_map, unknown):
    """Replace a row's status word by its key; collect a word nobody knows in unknown. False when unknown."""
    word = record.pop("status", None)
    if word is None:
        return True
    status = normalise.status_key(word, status_map)
    if status is None:
        unknown.setdefault(normalise.word_key(word), [word, []])[1].append(record["row"])
        record["status_word"] = word
        return False
    record["status"] = status
    return True


def settle_status(record, status_map, header, report, unknown):
    """Turn a row's status, reason and note text into keys; reject tidak_cair without a reason."""
    reason_text, note_text = record.pop("reason", None), record.pop("note", None)
    if not map_status(record, status_map, unknown):
        return True
    reason, note = normalise.reason_and_note(record.get("status"), reason_text, note_text)
    if record.get("status") == "tidak_cair" and reason is None:
        column = header.get("reason") or header.get("note") or header["status"]
        report.reject(record["row"], column, "status tidak cair memerlukan alasan: isi kolom alasan atau keterangan",
                      record["cells"])
        return False
    if reason:
        record["reason"] = reason
    if note is not None:
        record["note"] = note
    return True


def unknown_words(unknown, column):
    """The status words no mapping knows, each with its rows and a message naming them."""
    return [{"word": word, "rows": rows, "column": column,
             "text": f'{staging.rows_text(rows)}, kolom "{column}": kata status "{word}" tidak dikenal'}
            for word, rows in unknown.values()]


def unknown_message(words):
    """Why a file with unmapped status words cannot be applied yet."""
    listed = ", ".join(f'"{w["word"]}"' for w in words)
    return (f"Kata status {listed} tidak dikenal. Petakan setiap kata ke belum, cair atau tidak_cair "
            '(mis. --status-map "DITUNDA=belum"), lalu impor ulang.')


def opensid_program(path, sheet, limits):
    """The programme described by OpenSID's Program sheet: nama, sasaran, sumber dana and date range."""
    epoch, rows = reading.sheet_rows(path, sheet, limits)
    given = {}
    for number, cells in rows:
        if not cells or normalise.is_blank(cells[0]):
            continue
        if normalise.clean_text(cells[0]).startswith("###"):
            break
        key = OPENSID_ROWS.get(normalise.word_key(cells[0]))
        if key and len(cells) > 1 and not normalise.is_blank(cells[1]):
            given[key] = (number, normalise.clean_text(cells[0]), cells[1])

    def where(key):
        """'Lembar "Program", baris 4 (Sasaran Program)' for a message."""
        return f'Lembar "{sheet}", baris {given[key][0]} ({given[key][1]})'

    if "nama" not in given:
        raise Refused(f'Lembar "{sheet}": baris "Nama Program" kosong atau tidak ada.')
    dates = {}
    for key in ("start", "end"):
        try:
            day = normalise.read_date(given[key][2], normalise.Context(epoch)) if key in given else None
        except normalise.Invalid as exc:
            raise Refused(f"{where(key)}: {exc}.") from None
        dates[key] = None if day in (None, normalise.NOT_GIVEN) else day.isoformat()
    if dates["start"] and dates["end"] and dates["end"] < dates["start"]:
        raise Refused(f"{where('end')}: tanggal akhir sebelum tanggal awal.")
    return {"nama": normalise.clean_text(given["nama"][2])[:120], "sasaran": opensid_sasaran(given, where),
            "sumber_dana": opensid_asal_dana(given), "start_date": dates["start"], "end_date": dates["end"]}


def opensid_code(cell, words):
    """A coded OpenSID cell (1, '1', or its word) as its number, or None."""
    if normalise.is_number_cell(cell):
        return int(cell) if float(cell).is_integer() else None
    key = normalise.word_key(cell)
    return int(key) if key.isdigit() else words.get(key)


def opensid_sasaran(given, where):
    """'jiwa' (1 Penduduk) or 'keluarga' (2 Keluarga); rumah tangga and kelompok are refused."""
    if "sasaran" not in given:
        raise Refused('Lembar "Program": baris "Sasaran Program" kosong atau tidak ada (1 = penduduk, 2 = keluarga).')
    code = opensid_code(given["sasaran"][2], SASARAN_WORDS)
    if code not in OPENSID_SASARAN:
        raise Refused(f"{where('sasaran')}: sasaran {normalise.display(given['sasaran'][2])} tidak dikenal "
                      "(1 = penduduk, 2 = keluarga).")
    if OPENSID_SASARAN[code] is None:
        raise Refused(f"{where('sasaran')}: sasaran rumah tangga dan kelompok belum didukung; Rekap Bansos mencatat "
                      "penerima per keluarga (KK) atau per jiwa.")
    return OPENSID_SASARAN[code]


def opensid_asal_dana(given):
    """The source of funds from its OpenSID code (1 Pusat … 5 Lain-lain) or text; Pusat when blank."""
    if "asal_dana" not in given:
        return "Pusat"
    cell = given["asal_dana"][2]
    code = opensid_code(cell, {})
    return ASAL_DANA.get(code) or normalise.clean_text(normalise.display(cell))[:60]


def target_from_opensid(staged):
    """Take the period (and, without a programme code, the programme) from OpenSID's Program sheet."""
    target, info = staged["target"], staged["opensid"]
    if target["program"]:
        staged["notices"].append(f'Program di lembar Program ("{info["nama"]}") diabaikan: dipakai program '
                                 f'{target["program"]}.')
    if target["period"]:
        return
    if not info["start_date"] or not info["end_date"]:
        raise Refused('Lembar "Program" tidak berisi Rentang Waktu (awal dan akhir): sebutkan periodenya, '
                      'mis. "Tahap 1 2026".')
    start, end = date.fromisoformat(info["start_date"]), date.fromisoformat(info["end_date"])
    target.update(period=f"{tanggal(start)} – {tanggal(end)}", start_date=info["start_date"],
                  end_date=info["end_date"])


@dataclass
class Plan:
    """What applying a staged list would do to the database now."""

    program: object = None
    program_new: bool = False
    period: object = None
    period_new: bool = False
    channel: str = "bank"
    refused: str = None
    notices: list = dc_field(default_factory=list)
    outcomes: list = dc_field(default_factory=list)
    new_rows: list = dc_field(default_factory=list)
    updates: list = dc_field(default_factory=list)
    unchanged: int = 0
    new_households: dict = dc_field(default_factory=dict)
    new_persons: dict = dc_field(default_factory=dict)
    rejected: list = dc_field(default_factory=list)
    warnings: list = dc_field(default_factory=list)
    double_aid: list = dc_field(default_factory=list)
    accept_unmatched: bool = False

    @property
    def per_person(self):
        """True for a jiwa programme: its list holds persons, not households."""
        return self.program.sasaran == "jiwa"

    @property
    def version_label(self):
        """The batch's label: programme, period and whether unmatched rows were accepted.

        The same file may go into several periods, and be applied again accepting the rows it left out."""
        accepted = " (termasuk KK di luar DTSEN)" if self.accept_unmatched else ""
        return f"{self.program.code} — {self.period.label}{accepted}"


def squashed(text):
    """A name for comparing: upper case, spaces collapsed."""
    return " ".join(normalise.clean_text(text or "", "NFKC").upper().split())


def resolve_target(staged, plan):
    """Find or prepare the programme and period of a staged list; set plan.refused when impossible."""
    target = staged["target"]
    if target["program"]:
        plan.program = Program.get_or_none(fn.UPPER(Program.code) == target["program"])
        if plan.program is None:
            known = ", ".join(code for (code,) in Program.select(Program.code).order_by(Program.id).tuples())
            plan.refused = (f"Program {target['program']} tidak ada. Tambahkan dahulu di halaman Program, atau "
                            f"periksa kodenya (yang ada: {known}).")
            return
    else:
        info = staged["opensid"]
        plan.program = next((p for p in Program.select() if squashed(p.nama) == squashed(info["nama"])), None)
        if plan.program is None:
            plan.program_new = True
            plan.program = Program(code=program_code(info["nama"]), nama=info["nama"], sasaran=info["sasaran"],
                                   default_amount=0, sumber_dana=info["sumber_dana"])
    label = target["period"]
    plan.period = (Period.get_or_none((Period.program == plan.program.id) & (fn.LOWER(Period.label) == label.lower()))
                   if plan.program.id else None)
    if plan.period is None:
        start, end = (date.fromisoformat(d) if d else None for d in (target["start_date"], target["end_date"]))
        plan.period_new = True
        plan.period = Period(program=plan.program, label=label, year=target["year"] or period_year(label, start),
                             start_date=start, end_date=end, amount=plan.program.default_amount,
                             default_channel=target["channel"] or usual_channel(plan.program), closed=False)
    elif plan.period.closed:
        plan.refused = (f"Periode {plan.period.label} ({plan.program.code}) sudah ditutup; daftar dan statusnya tidak "
                        "dapat diubah. Minta admin membukanya kembali bila perlu.")
        return
    elif target["year"] and int(target["year"]) != plan.period.year:
        plan.notices.append(f"Periode {plan.period.label} sudah ada (tahun {plan.period.year}); tahun "
                            f"{target['year']} diabaikan.")
    plan.channel = target["channel"] or plan.period.default_channel


def program_code(nama):
    """A free programme code from a name: its initials ('Bantuan Sosial Tunai' → BST), else its first word."""
    words = re.findall(r"[A-Z0-9]+", normalise.clean_text(nama, "NFKC").upper())
    base = ("".join(w[0] for w in words) if len(words) > 1 else "".join(words))[:16]
    base = base if PROGRAM_CODE.fullmatch(base) else "PROGRAM"
    taken = {code for (code,) in Program.select(Program.code).tuples()}
    return next(code for code in (base, *(f"{base}-{n}" for n in range(2, 1000))) if code not in taken)


def usual_channel(program):
    """The channel of a programme's latest period, else bank."""
    latest = (Period.select(Period.default_channel).where(Period.program == program.id)
              .order_by(Period.year.desc(), Period.start_date.desc(nulls="LAST"), Period.id.desc()).first()
              if program.id else None)
    return latest.default_channel if latest else "bank"


def households_by_kk(no_kks):
    """{no_kk: household id} of the active households among these No KK."""
    def query(chunk):
        """Households of one chunk of No KK."""
        return Household.select(Household.no_kk, Household.id).where(
            Household.no_kk.in_(chunk) & Household.deleted_at.is_null())

    return dict(applying.in_chunks(query, no_kks))


def persons_by_nik(niks):
    """{nik: (person id, household id, nama, no_kk)} of the active persons among these NIKs."""
    def query(chunk):
        """Persons of one chunk of NIKs, with their No KK."""
        return (Person.select(Person.nik, Person.id, Person.household, Person.nama, Household.no_kk).join(Household)
                .where(Person.nik.in_(chunk) & Person.deleted_at.is_null() & Household.deleted_at.is_null()))

    return {row[0]: row[1:] for row in applying.in_chunks(query, niks)}


def member_names(household_ids):
    """{household id: [(nama, hubungan), ...]} of the active members of these households."""
    def query(chunk):
        """Members of one chunk of households."""
        return (Person.select(Person.household, Person.nama, Person.hubungan)
                .where(Person.household.in_(chunk) & Person.deleted_at.is_null()))

    members = {}
    for household_id, nama, hubungan in applying.in_chunks(query, household_ids):
        members.setdefault(household_id, []).append((nama, hubungan))
    return members


def list_rows(plan):
    """{household or person id: (disbursement id, {field: stored value})} of the period's active list."""
    if plan.period.id is None:
        return {}
    key = Disbursement.person if plan.per_person else Disbursement.household
    query = (Disbursement.select(key, Disbursement.id, *(getattr(Disbursement, f) for f in LIST_FIELDS))
             .where((Disbursement.period == plan.period.id) & Disbursement.deleted_at.is_null()
                    & Disbursement.person.is_null(not plan.per_person)))
    return {row[0]: (row[1], dict(zip(LIST_FIELDS, row[2:]))) for row in database.db.execute(query)}


def make_plan(staged, accept_unmatched=False, exclusive=None):
    """Compare a staged list with the database (read only)."""
    plan = Plan(accept_unmatched=accept_unmatched)
    resolve_target(staged, plan)
    if plan.refused:
        return plan
    report = staging.Report(staged["headers"])
    header = {name: h for h, name in staged["columns"].items()}
    records = [dict(record) for record in staged["records"]]
    resolve_peserta(records, staged, plan, header, report)
    households = households_by_kk({r["no_kk"] for r in records if "no_kk" in r})
    persons = persons_by_nik({r["nik"] for r in records if "nik" in r})
    plan.outcomes = [match(r, plan, households, persons, header, report) for r in records]
    compare_names(plan.outcomes, header, report)
    reject_duplicates(plan.outcomes, plan.per_person, report)
    place(plan, accept_unmatched, households, report)
    check_double_aid(plan, exclusive if exclusive is not None else exclusive_setting(), report)
    plan.rejected = report.rejected_rows()
    plan.warnings = report.warnings()
    if not (plan.new_rows or plan.updates or plan.unchanged):
        hint = (" Baris yang tidak ada di data desa dapat dicatat sebagai KK di luar data DTSEN."
                if any(o.get("acceptable") for o in plan.outcomes) and not accept_unmatched else "")
        plan.refused = "Tidak ada baris yang dapat diterapkan: semua baris ditolak (lihat alasannya)." + hint
    return plan


def resolve_peserta(records, staged, plan, header, report):
    """OpenSID's Peserta column is the NIK (sasaran penduduk) or the No KK (sasaran keluarga)."""
    sasaran = staged["opensid"]["sasaran"] if staged["opensid"] else plan.program.sasaran
    meaning = "nik" if sasaran == "jiwa" else "no_kk"
    for record in records:
        value = record.pop("peserta", None)
        if value is None:
            continue
        if meaning not in record:
            record[meaning] = value
        elif record[meaning] != value:
            report.warn(record["row"], header["peserta"], f"Peserta {value} berbeda dengan {header[meaning]} "
                                                         f"{record[meaning]}; dipakai kolom {header[meaning]}")


def match(record, plan, households, persons, header, report):
    """Find a row's recipient: {"row", "record", "household_id", "person_id", "category", ...}."""
    no_kk, nik = record.get("no_kk"), record.get("nik")
    household_id = households.get(no_kk)
    person = persons.get(nik)
    outcome = {"row": record["row"], "record": record, "no_kk": no_kk, "nik": nik, "nama": record.get("nama"),
               "household_id": None, "person_id": None, "category": "matched", "data_name": None,
               "column": header.get("no_kk") if no_kk else header.get("nik")}
    if plan.per_person:
        outcome["column"] = header.get("nik") if nik else outcome["column"]
        if person is None:
            return not_found(outcome, plan, households)
        outcome.update(person_id=person[0], household_id=person[1], data_name=person[2])
        if no_kk and no_kk != person[3]:
            report.warn(record["row"], header["no_kk"], f"NIK ini terdaftar di KK lain (No KK {person[3]} di data "
                                                       "desa); NIK yang menentukan")
        return outcome
    if household_id is not None:
        outcome["household_id"] = household_id
        if person is not None:
            outcome["data_name"] = person[2]
            if person[1] != household_id:
                report.warn(record["row"], header["nik"], f"NIK ini terdaftar di KK lain (No KK {person[3]} di data "
                                                         "desa); No KK yang menentukan")
        return outcome
    if person is None:
        return not_found(outcome, plan, households)
    outcome.update(household_id=person[1], data_name=person[2], category="by_nik", column=header.get("nik"))
    if no_kk:
        report.warn(record["row"], header["no_kk"], f"No KK tidak ada di data desa; KK ditemukan lewat NIK "
                                                   f"(No KK {person[3]})")
    return outcome


def not_found(outcome, plan, households):
    """A row whose recipient is not in the desa's data, with why and whether it could be added."""
    no_kk, nik, nama = outcome["no_kk"], outcome["nik"], outcome["nama"]
    outcome["category"] = "not_found"
    if plan.per_person:
        outcome["household_id"] = households.get(no_kk)
        if not nik:
            outcome.update(reason="program sasaran jiwa: NIK penerima kosong", acceptable=False)
            return outcome
        missing = [what for what, value in (("No KK", no_kk), ("nama", nama)) if not value]
        outcome.update(reason=f"NIK {nik} tidak ada di data desa", acceptable=not missing)
        if missing:
            outcome["reason"] += f"; tanpa {' dan '.join(missing)} tidak dapat dicatat di luar data DTSEN"
        return outcome
    what = " dan ".join(part for part in (no_kk and f"No KK {no_kk}", nik and f"NIK {nik}") if part)
    outcome["reason"] = f"{what} tidak ada di data desa"
    outcome["acceptable"] = bool(no_kk)
    if not no_kk:
        outcome["reason"] += "; tanpa No KK tidak dapat dicatat sebagai KK di luar data DTSEN"
    return outcome


def compare_names(outcomes, header, report):
    """Warn where the file's name differs from the data's (the NIK or No KK decides, the row is applied)."""
    column = header.get("nama")
    if column is None:
        return
    by_kk = [o for o in outcomes if o["household_id"] and o["nama"] and o["data_name"] is None
             and o["category"] == "matched"]
    members = member_names({o["household_id"] for o in by_kk})
    for o in by_kk:
        names = members.get(o["household_id"], [])
        if names and squashed(o["nama"]) not in {squashed(n) for n, _ in names}:
            o["data_name"] = next((n for n, hubungan in names if hubungan == "kepala"), names[0][0])
            o["category"] = "name_differs"
            report.warn(o["row"], column, f'nama di berkas "{o["nama"]}" tidak ada di KK ini (kepala keluarga di '
                                          f'data: "{o["data_name"]}"); No KK yang menentukan, baris tetap diterapkan')
    for o in outcomes:
        if o["category"] in ("matched", "by_nik") and o["nama"] and o["data_name"] \
                and squashed(o["nama"]) != squashed(o["data_name"]):
            o["category"] = "name_differs"
            report.warn(o["row"], column, f'nama di berkas "{o["nama"]}", di data "{o["data_name"]}"; NIK yang '
                                          "menentukan, baris tetap diterapkan")


def recipient_key(outcome, per_person):
    """What makes two rows one recipient: the person or household found, else the NIK or No KK typed."""
    if outcome["category"] != "not_found":
        return ("person", outcome["person_id"]) if outcome["person_id"] else ("household", outcome["household_id"])
    if per_person or not outcome["no_kk"]:
        return ("nik", outcome["nik"]) if outcome["nik"] else None
    return ("kk", outcome["no_kk"])


def reject_duplicates(outcomes, per_person, report):
    """Reject every row whose recipient occurs more than once in the file."""
    rows_of = {}
    for o in outcomes:
        key = recipient_key(o, per_person)
        if key is not None:
            rows_of.setdefault(key, []).append(o)
    for group in rows_of.values():
        if len(group) < 2:
            continue
        for o in group:
            others = ", ".join(str(other["row"]) for other in group if other is not o)
            o.update(category="duplicate", reason=f"penerima yang sama ada juga di baris {others}")
            report.reject(o["row"], o["column"], f"penerima ganda di berkas (sama dengan baris {others}); "
                                                 "semua barisnya ditolak", o["record"]["cells"])


def new_values(record, plan):
    """The list values of a recipient added by this file."""
    status = record.get("status", "belum")
    return {"status": status, "status_date": record.get("status_date") if status != "belum" else None,
            "reason": record.get("reason") if status == "tidak_cair" else None, "note": record.get("note", ""),
            "channel": record.get("channel") or plan.channel,
            "amount": record.get("amount", plan.period.amount or 0)}


def list_changes(record, old):
    """{field: [old, new]} for a recipient already on the list: what the file says differently.

    A blank status cell (or no status column) keeps the stored status, date and reason."""
    new = {}
    if "status" in record:
        status = new["status"] = record["status"]
        new["reason"] = record.get("reason") if status == "tidak_cair" else None
        if status == "belum":
            new["status_date"] = None
        elif "status_date" in record:
            new["status_date"] = record["status_date"]
        elif status != old["status"]:
            new["status_date"] = None
    if "note" in record:
        new["note"] = record["note"]
    if record.get("channel"):
        new["channel"] = record["channel"]
    if "amount" in record:
        new["amount"] = record["amount"]
    return {name: [old[name], new[name]] for name in LIST_FIELDS
            if name in new and (old[name] or None) != (new[name] or None)}


def place(plan, accept_unmatched, households, report):
    """Sort matched rows into new, updated and unchanged list rows; reject or accept the unmatched."""
    existing = list_rows(plan)
    for o in plan.outcomes:
        record = o["record"]
        if o["category"] == "not_found":
            if accept_unmatched and o["acceptable"]:
                accept(o, plan, households)
            else:
                report.reject(o["row"], o["column"], o["reason"], record["cells"])
            continue
        if o["category"] == "duplicate":
            continue
        found = existing.get(o["person_id"] if plan.per_person else o["household_id"])
        if found is None:
            plan.new_rows.append(o)
            o["values"] = new_values(record, plan)
            continue
        o["category"], o["disbursement_id"] = "already", found[0]
        o["changes"] = list_changes(record, found[1])
        if o["changes"]:
            plan.updates.append(o)
            o["values"] = {**found[1], **{name: new for name, (_, new) in o["changes"].items()}}
        else:
            plan.unchanged += 1


def accept(outcome, plan, households):
    """Plan a not-found row as a recipient outside the DTSEN data (new household, and person)."""
    no_kk, nik, nama = outcome["no_kk"], outcome["nik"], outcome["nama"]
    if no_kk not in households:
        plan.new_households.setdefault(no_kk, outcome["row"])
    if nik and nama:
        plan.new_persons.setdefault(nik, {"no_kk": no_kk, "household_id": households.get(no_kk), "nama": nama})
    outcome["values"] = new_values(outcome["record"], plan)
    plan.new_rows.append(outcome)


def exclusive_setting():
    """EXCLUSIVE_PROGRAMS of the running app, else the default."""
    from flask import current_app
    from flask import has_app_context

    from ..config import DEFAULTS
    return current_app.config["EXCLUSIVE_PROGRAMS"] if has_app_context() else DEFAULTS["EXCLUSIVE_PROGRAMS"]


def check_double_aid(plan, exclusive, report):
    """Warn about families on this programme in another period at the same time, or on an exclusive one.

    The rules are ledger.double_aid's (the household page's warning), applied to the period being imported."""
    rows_of = {}
    for o in plan.outcomes:
        if o["household_id"] and o["category"] in APPLIED:
            rows_of.setdefault(o["household_id"], []).append(o)
    if not rows_of:
        return
    target, code = plan.period, plan.program.code

    def query(chunk):
        """Other list rows of one chunk of households, with their period and programme."""
        return (Disbursement.select(Disbursement.household, Period.id, Period.label, Period.year, Period.start_date,
                                    Period.end_date, Program.id, Program.code).join(Period).join(Program)
                .where(Disbursement.household.in_(chunk) & Disbursement.deleted_at.is_null()
                       & (Period.id != (target.id or 0))))

    found = {}
    for household_id, period_id, label, year, start, end, program_id, other_code in applying.in_chunks(query, rows_of):
        other = Period(id=period_id, label=label, year=year, start_date=date_of(start), end_date=date_of(end))
        if program_id == plan.program.id:
            dated = all((target.start_date, target.end_date, other.start_date, other.end_date))
            if not (dated and overlapping(target, other)):
                continue
            message = f"{code} juga diterima pada {label}, yang waktunya bertumpuk dengan {target.label}"
        elif (other_code in exclusive.get(code, ()) or code in exclusive.get(other_code, ())) \
                and overlapping(target, other):
            message = f"{code} ({target.label}) tidak boleh bersamaan dengan {other_code} ({label})"
        else:
            continue
        found.setdefault(household_id, {})[message] = None
    for household_id, messages in found.items():
        for o in rows_of[household_id]:
            plan.double_aid.append({"row": o["row"], "household_id": household_id, "no_kk": o["no_kk"],
                                    "nik": o["nik"], "messages": list(messages)})
            for message in messages:
                report.warn(o["row"], o["column"], f"bantuan ganda: {message}")


def date_of(value):
    """A stored date (ISO text when read raw) as a date, or None."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def item(outcome):
    """One row of a category for the preview (plain data)."""
    keys = ("row", "no_kk", "nik", "nama", "data_name", "household_id", "person_id", "reason", "changes",
            "disbursement_id", "acceptable")
    result = {key: outcome.get(key) for key in keys if outcome.get(key) is not None}
    if "values" in outcome:
        result["values"] = outcome["values"]
    return result


def target_summary(plan):
    """The programme and period of a plan as plain data."""
    program, period = plan.program, plan.period
    if program is None:
        return None, None
    return ({"id": program.id, "code": program.code, "nama": program.nama, "sasaran": program.sasaran,
             "sumber_dana": program.sumber_dana, "new": plan.program_new},
            None if period is None else {
                "id": period.id, "label": period.label, "year": period.year, "amount": period.amount,
                "start_date": period.start_date.isoformat() if period.start_date else None,
                "end_date": period.end_date.isoformat() if period.end_date else None,
                "default_channel": period.default_channel, "closed": period.closed, "new": plan.period_new})


def preview(staged, accept_unmatched=False, exclusive=None):
    """What applying would do, as a JSON-serialisable dict (read only; needs a database connection)."""
    result = {key: staged[key] for key in ("kind", "filename", "sha256", "sheet", "header_row", "headers", "columns",
                                           "fields", "notices", "refused", "rows", "target", "opensid",
                                           "unknown_statuses")}
    result.update(ignored=[h for h in staged["headers"] if h not in staged["columns"]], already_applied=None,
                  accept_unmatched=accept_unmatched, program=None, period=None, channel=None,
                  categories={name: [] for name in CATEGORIES}, double_aid=[])
    plan = None if staged["refused"] else make_plan(staged, accept_unmatched, exclusive)
    if plan is not None:
        result["program"], result["period"] = target_summary(plan)
        result.update(notices=staged["notices"] + plan.notices, refused=plan.refused, channel=plan.channel,
                      double_aid=plan.double_aid)
        for outcome in plan.outcomes:
            result["categories"][outcome["category"]].append(item(outcome))
        if plan.period is not None and not plan.refused:
            earlier = applying.applied_batch(KIND, staged["sha256"], plan.version_label)
            result["already_applied"] = applying.batch_summary(earlier) if earlier else None
    if not result["refused"] and staged["unknown_statuses"]:
        result["refused"] = unknown_message(staged["unknown_statuses"])
    rejected = staged["rejected"] + (plan.rejected if plan else [])
    result["rejected"] = sorted(rejected, key=lambda r: r["row"])
    result["warnings"] = sorted(staged["warnings"] + (plan.warnings if plan else []), key=lambda w: w["rows"][0])
    result["counts"] = preview_counts(staged, plan, result)
    return result


def preview_counts(staged, plan, result):
    """Rows per category and what would be written."""
    categories = result["categories"]
    counts = {"rows": staged["rows"], **{name: len(items) for name, items in categories.items()},
              "invalid": len(staged["rejected"]), "rejected": len(result["rejected"]),
              "warnings": len(result["warnings"]), "double_aid": len(result["double_aid"]),
              "new": 0, "updated": 0, "unchanged": 0, "households_new": 0, "persons_new": 0, "accepted": 0,
              "acceptable": sum(1 for o in categories["not_found"] if o.get("acceptable"))}
    if plan is not None:
        counts.update(new=len(plan.new_rows), updated=len(plan.updates), unchanged=plan.unchanged,
                      households_new=len(plan.new_households), persons_new=len(plan.new_persons),
                      accepted=sum(o["category"] == "not_found" for o in plan.new_rows))
    return counts


def apply(staged, user=None, username="", accept_unmatched=False, progress=None, exclusive=None):
    """Apply a staged list in one transaction; return the batch summary (already_applied when seen before)."""
    if staged["refused"]:
        raise Refused(staged["refused"])
    if staged["unknown_statuses"]:
        raise Refused(unknown_message(staged["unknown_statuses"]))
    desa = Desa.current()
    if desa is None:
        raise Refused("Data desa belum ada: jalankan `flask init-db` dahulu.")
    with database.db.atomic("IMMEDIATE"):
        plan = make_plan(staged, accept_unmatched, exclusive)
        if plan.refused:
            raise Refused(plan.refused)
        earlier = applying.applied_batch(KIND, staged["sha256"], plan.version_label)
        if earlier:
            return {**applying.batch_summary(earlier), "already_applied": True, **outcome_summary(plan, False)}
        rejected = sorted(staged["rejected"] + plan.rejected, key=lambda r: r["row"])
        batch = ImportBatch.create(
            kind=KIND, filename=staged["filename"], sha256=staged["sha256"], version_label=plan.version_label,
            user=user, state="applied", applied_at=utcnow(), new_count=len(plan.new_rows),
            changed_count=len(plan.updates), unchanged_count=plan.unchanged, rejected_count=len(rejected))
        total = len(plan.new_households) + len(plan.new_persons) + len(plan.new_rows) + len(plan.updates)
        writer = applying.Writer(batch, user, username, total, progress)
        write(plan, writer, desa, rejected)
    if plan.new_rows:
        database.optimize()
    return {**applying.batch_summary(batch), "already_applied": False, **outcome_summary(plan, True)}


def outcome_summary(plan, applied):
    """What an apply did to the programme and period, for pages and the CLI."""
    program, period = target_summary(plan)
    return {"program": program, "period": period,
            "program_created": applied and plan.program_new, "period_created": applied and plan.period_new,
            "households_created": len(plan.new_households) if applied else 0,
            "persons_created": len(plan.new_persons) if applied else 0}


def write(plan, writer, desa, rejected):
    """Create the programme and period if new, recipients outside DTSEN, list rows; update the rest; audit."""
    events = [("import.apply", "import_batch", writer.batch.id, "", None, writer.batch.version_label)]
    if plan.program_new:
        plan.program.save(force_insert=True)
        events.append(("program.dibuat", "program", plan.program.id, "", None, plan.program.code))
    if plan.period_new:
        plan.period.program = plan.program
        plan.period.save(force_insert=True)
        events.append(("periode.dibuat", "period", plan.period.id, "", None, plan.period.label))
    writer.insert(Household, ["no_kk", "desa", "in_dtsen", *HOUSEHOLD_FIELDS],
                  ((no_kk, desa.id, False, *HOUSEHOLD_DEFAULTS.values()) for no_kk in plan.new_households))
    households = writer.ids(Household, "no_kk")
    per_new_household = {}
    for person in plan.new_persons.values():
        per_new_household[person["no_kk"]] = per_new_household.get(person["no_kk"], 0) + 1
    writer.insert(Person, ["nik", "household", *PERSON_FIELDS], (
        (nik, p["household_id"] or households[p["no_kk"]],
         *new_person_values(p, per_new_household.get(p["no_kk"]) if p["household_id"] is None else None))
        for nik, p in plan.new_persons.items()))
    persons = writer.ids(Person, "nik")
    writer.insert(Disbursement, ["period", "household", "person", *LIST_FIELDS, "updated_by"], (
        (plan.period.id, o["household_id"] or households[o["no_kk"]],
         (o["person_id"] or persons[o["nik"]]) if plan.per_person else None,
         *(o["values"][name] for name in LIST_FIELDS), writer.user_id) for o in plan.new_rows))
    writer.update(Disbursement, [*LIST_FIELDS, "updated_by"],
                  ((*(o["values"][name] for name in LIST_FIELDS), writer.user_id, o["disbursement_id"])
                   for o in plan.updates))
    created = Disbursement.select(Disbursement.id, Disbursement.status).where(Disbursement.import_batch == writer.batch)
    writer.audit([
        *events,
        *(("import.create", "household", hid, "no_kk", None, no_kk) for no_kk, hid in households.items()),
        *(("import.create", "person", pid, "nik", None, nik) for nik, pid in persons.items()),
        *(("import.create", "disbursement", did, "status", None, status) for did, status in created.tuples()),
        *(("import.update", "disbursement", o["disbursement_id"], name, audit_text(old), audit_text(new))
          for o in plan.updates for name, (old, new) in o["changes"].items()),
    ])
    writer.rejections(rejected)


def new_person_values(person, household_size):
    """PERSON_FIELDS of a person added from a list: the only person of a new household is its kepala."""
    hubungan = "kepala" if household_size == 1 else PERSON_DEFAULTS["hubungan"]
    return tuple({**PERSON_DEFAULTS, "nama": person["nama"], "hubungan": hubungan}[name] for name in PERSON_FIELDS)

"""Verifikasi data (issue 7): every check a named query next to the recap, with a registry, and reviews.

A check is a function of a `Run` returning its `Finding`s. The registry (`CHECKS`, in page order) gives
each a stable English id (`inclusion_above_ceiling`), its section, its level (desa, household, person,
disbursement), an Indonesian title and a one-line why, and the proposals (usulan) that fit it.

The aid checks read the recap's default scope (`recap.resolve(Scope())`: every active programme, the
periods of the latest year with disbursements), and the lists behind recap figures come from the recap's
own `drill_query`, so "no aid", exclusion and inclusion list exactly the households the recap counts.
The stale-status checks look at every period not yet closed, whatever its year: a closed period is
frozen and can no longer be followed up.

Each finding carries a key naming its subject (`h12`, `p34`, `d56`, `h12:PKH`, `p3,p9`) and a
fingerprint built from the `version` of the rows it rests on (households, persons and disbursement rows
bump it on every change). A review (`FindingReview`) keeps a finding out of the open count while the
fingerprint it was given still matches; when the data changes, the finding is open again.

Speed (bench/verification.py): every check together is about a dozen statements, none sorting the
person table. The NIK checks share one scan that flags rows in SQL; duplicates are counted in Python
over one joined text (SQL's GROUP BY would sort 200,000 persons); household composition is one grouped
read of the household index; the aid checks read the covering indexes the recap tuned; the double-aid
check pairs overlapping periods first and leaves the household page's wording to the rows shown.
"""
import re
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from flask import current_app
from flask import url_for
from peewee import SQL
from peewee import Case
from peewee import Expression
from peewee import chunked
from peewee import fn

from . import cache
from . import db as database
from . import ledger
from . import recap
from .access import record
from .formatting import tanggal
from .models import KEBERADAAN_JIWA
from .models import LABELS
from .models import Disbursement
from .models import FindingReview
from .models import Household
from .models import ImportBatch
from .models import Period
from .models import Person
from .models import Program
from .models import utcnow

SECTIONS = [
    ("nik", "Struktur NIK dan No KK"),
    ("identitas", "Identitas dan susunan keluarga"),
    ("salah_sasaran", "Bantuan yang tidak semestinya"),
    ("terlewat", "Bantuan yang belum sampai"),
    ("usang", "Data yang usang"),
]
LEVELS = {"desa": "Desa", "household": "Keluarga", "person": "Jiwa", "disbursement": "Penyaluran"}
ABSENT = ("meninggal", "pindah")
DTSEN_MAX_AGE_DAYS = 92  # one quarter: BPS re-ranks about every three months
FOLLOW_UP_DAYS = 30
NOTE_MAX = 500
# Characters a name may differ by and still be the same name: spaces, dots, commas, apostrophes, hyphens.
NAME_NOISE = " .,'-"
LOOKUP_CHUNK = 500


class ReviewError(ValueError):
    """A refused review, with a message for the operator in Bahasa Indonesia."""


class Stale(Exception):
    """The finding changed (or disappeared) since the operator loaded it: the check's Result and the finding now."""

    def __init__(self, result, finding):
        super().__init__("stale finding")
        self.result, self.finding = result, finding


@dataclass(slots=True)
class Finding:
    """One problem: its subject (household, person, others in the same group), the programme, the detail."""

    key: str
    fingerprint: str
    household_id: int | None = None
    person_id: int | None = None
    program: str | None = None
    detail: str = ""
    others: tuple = ()
    place: tuple = ()

    @property
    def anchor(self):
        """An HTML id for the finding's row."""
        return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", self.key)


@dataclass(frozen=True)
class Check:
    """A registered check: id, where it sits, what it says, the function that finds, the usulan that fit."""

    id: str
    section: str
    level: str
    title: str
    why: str
    find: object
    proposals: tuple = ()
    recap: bool = False
    per_program: bool = False
    describe: object = None

    @property
    def states(self):
        """The review states an operator may give its findings."""
        return [(key, label) for key, label in FindingReview.STATES if key == "diperiksa" or key in self.proposals]


CHECKS = {}


def check(id, section, level, title, why, proposals=(), recap=False, per_program=False, describe=None):
    """Register a check function under a stable id (describe: fills in details for the rows shown only)."""
    def register(function):
        """Add the function to the registry and hand it back unchanged."""
        CHECKS[id] = Check(id, section, level, title, why, function, tuple(proposals), recap, per_program, describe)
        return function
    return register


class Run:
    """One pass over the data: the recap's default scope, today, the settings, and results shared by checks."""

    def __init__(self, today=None, exclusive=None):
        self.applied = recap.resolve(recap.Scope())
        self.today = today or ledger.today_wib()
        self.exclusive = current_app.config["EXCLUSIVE_PROGRAMS"] if exclusive is None else exclusive
        self.households = (Household.desa == self.applied.desa.id) & Household.deleted_at.is_null()
        self._memo = {}

    def memo(self, name, compute):
        """A result computed once per run."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]


PLACE = (Household.dusun, Household.rw, Household.rt, Household.no_kk)


def _versions(*parts):
    """A fingerprint from version numbers and counts."""
    return ".".join(str(int(part or 0)) for part in parts)


def _label(name, key):
    """The Indonesian label of a stored code."""
    return LABELS[name].get(key, key)


def _places(run, household_ids):
    """{household id: (dusun, rw, rt, no_kk, version)} of the desa's active households among some ids."""
    found = {}
    for chunk in chunked(sorted(household_ids), LOOKUP_CHUNK):
        query = (Household.select(Household.id, *PLACE, Household.version)
                 .where(run.households & Household.id.in_(chunk)))
        found.update({hid: tuple(rest) for hid, *rest in query.tuples()})
    return found


def _shape_problem(value):
    """Why a NIK or No KK is malformed, in Indonesian."""
    if len(value) != 16:
        return f"{len(value)} karakter, bukan 16 angka"
    if not value.isdigit():
        return "berisi karakter selain angka"
    return "dua angka pertama bukan kode provinsi (11–96)"


def _flagged_persons(run):
    """Active persons of the desa whose NIK is malformed or disagrees with birth date or sex: one scan, with flags."""
    def compute():
        """The scan; households are looked up for the few persons it returns."""
        shaped = database.is_id_number(Person.nik)
        nik_date = fn.SUBSTR(Person.nik, 7, 6).cast("INTEGER")
        nik_day = fn.SUBSTR(Person.nik, 7, 2)
        # DDMMYY and (DD + 40)MMYY leave the same remainder by 400000: one comparison for both sexes.
        born = Person.tanggal_lahir.is_null(False) & (
            Expression(nik_date, "%", 400000) != database.date_digits(Person.tanggal_lahir).cast("INTEGER"))
        day = nik_day.cast("INTEGER")
        no_date = Person.tanggal_lahir.is_null() & (~(day.between(1, 31) | day.between(41, 71))
                                                    | ~fn.SUBSTR(Person.nik, 9, 2).cast("INTEGER").between(1, 12))
        sex = ((Person.jenis_kelamin == "L") & (nik_day > "40")) | ((Person.jenis_kelamin == "P") & (nik_day <= "40"))
        flags = [Case(None, [(condition, 1)], 0) for condition in (~shaped, shaped & (born | no_date), shaped & sex)]
        rows = list(Person.select(Person.id, Person.version, Person.household, Person.nik, Person.tanggal_lahir,
                                  Person.jenis_kelamin, *flags)
                    .where(Person.deleted_at.is_null() & (~shaped | born | no_date | sex)).tuples())
        places = _places(run, {row[2] for row in rows})
        return [(*row, places[row[2]]) for row in rows if row[2] in places]
    return run.memo("flagged_persons", compute)


def _person_finding(pid, version, hid, place, detail):
    """A finding about one person."""
    return Finding(f"p{pid}", _versions(version), hid, pid, detail=detail, place=place[:4])


@check("nik_not_16_digits", "nik", "person", "NIK tidak 16 angka",
       "NIK yang rusak (misalnya angka terakhir jadi 0 karena Excel) tidak akan padan dengan Dukcapil, "
       "sehingga bantuan gagal disalurkan.", proposals=("usul_perbaikan",))
def nik_not_16_digits(run):
    """Persons whose NIK is not 16 digits opening with a province code."""
    return [_person_finding(pid, version, hid, place, f"NIK {_shape_problem(nik)}.")
            for pid, version, hid, nik, _, _, bad, _, _, place in _flagged_persons(run) if bad]


@check("no_kk_not_16_digits", "nik", "household", "No KK tidak 16 angka",
       "No KK yang rusak membuat keluarga tidak dapat dicocokkan dengan daftar penerima dan DTSEN.",
       proposals=("usul_perbaikan",))
def no_kk_not_16_digits(run):
    """Households whose No KK is not 16 digits opening with a province code."""
    rows = (Household.select(Household.id, Household.version, *PLACE)
            .where(run.households & ~database.is_id_number(Household.no_kk)).tuples())
    return [Finding(f"h{hid}", _versions(version), hid, detail=f"No KK {_shape_problem(place[3])}.", place=tuple(place))
            for hid, version, *place in rows]


@check("nik_birthdate_mismatch", "nik", "person", "Tanggal lahir di NIK tidak cocok",
       "Angka 7–12 NIK memuat tanggal lahir; bila berbeda dengan tanggal lahir tercatat, salah satunya keliru "
       "dan pencocokan data di bank atau Dukcapil bisa gagal.", proposals=("usul_perbaikan",))
def nik_birthdate_mismatch(run):
    """Persons whose NIK digits 7–12 (day + 40 for women) are not their birth date, or not a date at all."""
    return [_person_finding(pid, version, hid, place,
                            f"Tanggal lahir di NIK berbeda dengan tanggal lahir tercatat ({tanggal(born)})." if born
                            else "Angka tanggal lahir di NIK bukan tanggal yang mungkin.")
            for pid, version, hid, _, born, _, _, bad, _, place in _flagged_persons(run) if bad]


@check("nik_sex_mismatch", "nik", "person", "Jenis kelamin di NIK tidak cocok",
       "Pada NIK perempuan, tanggal lahir ditambah 40; bila tidak sesuai dengan jenis kelamin tercatat, "
       "NIK atau jenis kelaminnya salah catat.", proposals=("usul_perbaikan",))
def nik_sex_mismatch(run):
    """Persons whose NIK day says woman (day + 40) or man against the recorded jenis kelamin."""
    return [_person_finding(pid, version, hid, place,
                            f"NIK menunjukkan {'perempuan' if sex == 'L' else 'laki-laki'}, jenis kelamin tercatat "
                            f"{_label('jenis_kelamin', sex).lower()}.")
            for pid, version, hid, _, _, sex, _, _, bad, place in _flagged_persons(run) if bad]


def _groups(run, persons, detail):
    """One finding per group of (id, version, household) persons in the desa's households; the first is the subject."""
    places = _places(run, {p[2] for group in persons for p in group})
    findings = []
    for group in persons:
        group = sorted(p for p in group if p[2] in places)
        if len(group) < 2:
            continue
        pid, _, hid = group[0]
        findings.append(Finding(",".join(f"p{p[0]}" for p in group), _versions(*(p[1] for p in group)), hid, pid,
                                detail=detail(group), others=tuple(p[0] for p in group[1:]), place=places[hid][:4]))
    return findings


@check("nik_on_two_households", "identitas", "person", "NIK sama di dua keluarga",
       "Satu orang yang tercatat di dua KK melanggar UU Adminduk dan membuat bantuan ganda atau tertolak.",
       proposals=("usul_perbaikan", "usul_pencoretan"))
def nik_on_two_households(run):
    """Active persons sharing one NIK across households (the unique index forbids it; checked all the same)."""
    shared = (Person.select(Person.nik).where(Person.deleted_at.is_null())
              .group_by(Person.nik).having(fn.COUNT(SQL("*")) > 1))
    by_nik = {}
    for pid, version, hid, nik in (Person.select(Person.id, Person.version, Person.household, Person.nik)
                                   .where(Person.deleted_at.is_null() & Person.nik.in_(shared)).tuples()):
        by_nik.setdefault(nik, []).append((pid, version, hid))
    groups = [group for group in by_nik.values() if len({hid for _, _, hid in group}) > 1]
    return _groups(run, groups, lambda group: f"NIK yang sama tercatat pada {len(group)} orang di keluarga berbeda.")


def normalised_name(text):
    """A name as the duplicate check compares it: no spaces or punctuation, upper-cased."""
    text = text.upper()
    for char in NAME_NOISE:
        text = text.replace(char, "")
    return text


@check("duplicate_person", "identitas", "person", "Kemungkinan orang yang sama dengan NIK berbeda",
       "Nama dan tanggal lahir yang sama dengan NIK berbeda biasanya berarti satu orang tercatat dua kali "
       "(salah ketik NIK), sehingga ia bisa menerima bantuan ganda.",
       proposals=("usul_perbaikan", "usul_pencoretan"))
def duplicate_person(run):
    """Groups of active persons with the same normalised name and birth date but different NIKs."""
    # Counted in Python, not by SQL's GROUP BY, which sorts every person: SQLite joins the keys (name, then
    # birth date) into one text, normalised and split in a few passes over it, then counted (a third of the time).
    active = Person.deleted_at.is_null() & Person.tanggal_lahir.is_null(False)
    keys = Person.select(database.joined(Person.nama.concat(Person.tanggal_lahir), "\n")).where(active).scalar()
    counts = Counter(normalised_name(keys or "").split("\n"))
    dates = sorted({date(int(k[-8:-4]), int(k[-4:-2]), int(k[-2:])) for k, n in counts.items() if n > 1})
    groups = {}
    for chunk in chunked(dates, LOOKUP_CHUNK):
        for pid, version, hid, nama, born, nik in (
                Person.select(Person.id, Person.version, Person.household, Person.nama, Person.tanggal_lahir,
                              Person.nik).where(active & Person.tanggal_lahir.in_(chunk)).tuples()):
            groups.setdefault((born, normalised_name(nama)), []).append((pid, version, hid, nik))
    duplicates = [[p[:3] for p in group] for group in groups.values() if len({p[3] for p in group}) > 1]
    return _groups(run, duplicates, lambda group: f"Nama dan tanggal lahir sama dengan {len(group) - 1} orang lain "
                                                  "yang NIK-nya berbeda.")


@dataclass(slots=True)
class Members:
    """What a household's members say about it: counted by keberadaan, and its living kepala keluarga."""

    household_id: int
    fingerprint: str
    place: tuple
    total: int
    living: int
    heads: int
    absent: dict


def _members(run):
    """Households with no living member or not exactly one living kepala keluarga, with their member counts."""
    def compute():
        """One grouped scan over persons, one probe for households without any, then details for the few found."""
        living = Person.keberadaan.in_(KEBERADAAN_JIWA)
        n_living = fn.SUM(Case(None, [(living, 1)], 0))
        n_heads = fn.SUM(Case(None, [(living & (Person.hubungan == "kepala"), 1)], 0))
        odd = {hid for (hid,) in Person.select(Person.household).where(Person.deleted_at.is_null())
               .group_by(Person.household).having((n_living == 0) | (n_heads != 1)).tuples()}
        someone = Person.select(SQL("1")).where((Person.household == Household.id) & Person.deleted_at.is_null())
        odd |= {hid for (hid,) in Household.select(Household.id).where(run.households & ~fn.EXISTS(someone)).tuples()}
        places = _places(run, odd)
        counts = {hid: [0, 0, 0, 0, {key: 0 for key in ABSENT + ("tidak_ditemukan",)}] for hid in places}
        for chunk in chunked(sorted(places), LOOKUP_CHUNK):
            for hid, version, keberadaan, hubungan in (Person.select(Person.household, Person.version,
                                                                     Person.keberadaan, Person.hubungan)
                                                       .where(Person.household.in_(chunk)
                                                              & Person.deleted_at.is_null()).tuples()):
                c = counts[hid]
                c[0], c[1] = c[0] + 1, c[1] + version
                if keberadaan in KEBERADAAN_JIWA:
                    c[2] += 1
                    c[3] += hubungan == "kepala"
                else:
                    c[4][keberadaan] += 1
        return [Members(hid, _versions(places[hid][4], total, version_sum), places[hid][:4], total, n, heads, absent)
                for hid, (total, version_sum, n, heads, absent) in counts.items()]
    return run.memo("members", compute)


def _absent_text(members):
    """'2 meninggal, 1 pindah' for a household's members who do not live there."""
    return ", ".join(f"{n} {_label('keberadaan', key).lower()}" for key, n in members.absent.items() if n)


def _member_findings(run, keep, detail):
    """One finding per household whose members' counts pass `keep`, with the detail written from them."""
    return [Finding(f"h{m.household_id}", m.fingerprint, m.household_id, place=m.place, detail=detail(m))
            for m in _members(run) if keep(m)]


@check("household_no_living_member", "identitas", "household", "Keluarga tanpa anggota yang tinggal",
       "Bila semua anggota meninggal, pindah atau tidak ditemukan, keluarga ini tidak lagi ada di desa dan "
       "datanya perlu dimutakhirkan.", proposals=("usul_perbaikan", "usul_pencoretan"))
def household_no_living_member(run):
    """Households none of whose members lives there (or with no member recorded at all)."""
    return _member_findings(run, lambda m: m.living == 0, lambda m: (
        f"Semua {m.total} anggota tidak tinggal bersama ({_absent_text(m)})." if m.total
        else "Belum ada anggota keluarga yang tercatat."))


@check("household_without_head", "identitas", "household", "Keluarga tanpa kepala keluarga",
       "Keluarga tanpa kepala keluarga yang tinggal bersama tidak dapat diusulkan atau dicairkan dengan benar; "
       "tunjuk kepala keluarga baru sesuai KK.", proposals=("usul_perbaikan",))
def household_without_head(run):
    """Households with living members but no living kepala keluarga."""
    return _member_findings(run, lambda m: m.living > 0 and m.heads == 0, lambda m: (
        f"Tidak ada kepala keluarga di antara {m.living} anggota yang tinggal bersama."))


@check("household_several_heads", "identitas", "household", "Keluarga dengan lebih dari satu kepala keluarga",
       "Satu KK hanya punya satu kepala keluarga; lebih dari satu biasanya berarti keluarga pecahan yang "
       "belum dipisah atau salah catat hubungan.", proposals=("usul_perbaikan",))
def household_several_heads(run):
    """Households with more than one living kepala keluarga."""
    return _member_findings(run, lambda m: m.heads > 1, lambda m: (
        f"{m.heads} anggota yang tinggal bersama tercatat sebagai kepala keluarga."))


def _grouped_rows(rows, subject):
    """{(subject id, programme): [row, ...]} from disbursement rows (subject picks the id from a row)."""
    grouped = {}
    for row in rows:
        grouped.setdefault((subject(row), row["code"]), []).append(row)
    return grouped


def _periods_text(rows):
    """'Tahap 1 2026 (sudah cair), Tahap 2 2026 (belum cair)'."""
    return ", ".join(f"{r['label']} ({_label('status', r['status']).lower()})" for r in rows)


def _scope_rows(run, *columns):
    """The recap's counted disbursement rows in scope (Disbursement, Household, Person, Period, Program joined)."""
    return (recap.drill_query(run.applied, recap.Drill("penyaluran"))
            .select(Disbursement.id, Disbursement.version, Disbursement.status, Disbursement.household, Program.code,
                    Period.label, *columns)
            .order_by(Period.year, Period.start_date, Period.label))


@check("aid_to_absent_person", "salah_sasaran", "person", "Bantuan jiwa untuk orang yang meninggal atau pindah",
       "Bantuan perorangan (PBI-JK, PIP, YAPI) untuk orang yang sudah meninggal atau pindah salah sasaran; "
       "usulkan pencoretan atau pemindahan di SIKS-NG.", proposals=("usul_pencoretan", "usul_perbaikan"), recap=True)
def aid_to_absent_person(run):
    """Persons marked meninggal or pindah with rows of a jiwa programme in scope, one finding per programme."""
    periods = [p.id for p in run.applied.periods if p.program.sasaran == "jiwa"]
    if not periods:
        return []
    absent = Person.select(Person.id).where(Person.deleted_at.is_null() & Person.keberadaan.in_(ABSENT))
    rows = (_scope_rows(run, Person.id.alias("pid"), Person.version.alias("pv"), Person.keberadaan, *PLACE)
            .where(Disbursement.period.in_(periods) & Disbursement.person.in_(absent)).dicts())
    findings = []
    for (pid, code), items in _grouped_rows(rows, lambda r: r["pid"]).items():
        first = items[0]
        findings.append(Finding(
            f"p{pid}:{code}", _versions(first["pv"], len(items), sum(r["version"] for r in items)),
            first["household"], pid, code,
            f"Tercatat {_label('keberadaan', first['keberadaan']).lower()}, menerima {code}: {_periods_text(items)}.",
            place=tuple(first[name] for name in ("dusun", "rw", "rt", "no_kk"))))
    return findings


@check("aid_to_empty_household", "salah_sasaran", "household", "Bantuan keluarga tanpa anggota yang tinggal",
       "Bantuan keluarga untuk KK yang semua anggotanya meninggal, pindah atau tidak ditemukan tidak sampai "
       "kepada siapa pun.", proposals=("usul_pencoretan", "usul_perbaikan"), recap=True)
def aid_to_empty_household(run):
    """Households with no living member and rows of a keluarga programme in scope, one finding per programme."""
    empty = {m.household_id: m for m in _members(run) if m.living == 0}
    rows = []
    for chunk in chunked(sorted(empty), LOOKUP_CHUNK):
        # A keluarga programme's rows are the household's own; no "person IS NULL" term, which sends the
        # planner down the person index through every household-level row.
        rows += list(_scope_rows(run).where((Program.sasaran == "keluarga") & Disbursement.household.in_(chunk))
                     .dicts())
    findings = []
    for (hid, code), items in _grouped_rows(rows, lambda r: r["household"]).items():
        members = empty[hid]
        findings.append(Finding(
            f"h{hid}:{code}", f"{members.fingerprint}.{_versions(len(items), sum(r['version'] for r in items))}",
            hid, program=code, place=members.place,
            detail=f"Tidak ada anggota yang tinggal bersama, menerima {code}: {_periods_text(items)}."))
    return findings


def _ceiling_programs(run):
    """The scope's programmes with a desil ceiling, in order."""
    return [p for p in run.applied.programs if p.desil_max is not None]


def _desil_findings(query, code, detail):
    """One finding per household of a recap list, sharing one detail (its desil shows beside it); raw rows,
    as a village-wide list holds tens of thousands."""
    suffix = f":{code}" if code else ""
    cursor = database.db.execute(query.select(Household.id, Household.version, *PLACE))
    return [Finding(f"h{hid}{suffix}", str(version), hid, program=code, detail=detail, place=(dusun, rw, rt, no_kk))
            for hid, version, dusun, rw, rt, no_kk in cursor]


@check("inclusion_above_ceiling", "salah_sasaran", "household", "Penerima di atas batas desil program (inklusi)",
       "Keluarga yang desilnya di atas batas program menerima bantuan yang seharusnya untuk keluarga lebih "
       "miskin; periksa di lapangan lalu usulkan pencoretan bila memang mampu.",
       proposals=("usul_pencoretan", "usul_perbaikan"), recap=True, per_program=True)
def inclusion_above_ceiling(run):
    """Per programme with a ceiling below 10: recipient households above it (the recap's inklusi list)."""
    findings = []
    for program in _ceiling_programs(run):
        ceiling, code = program.desil_max, program.code
        if ceiling < 10:
            query = recap.drill_query(run.applied, recap.Drill(program=code, desil=f"{ceiling + 1}-10"))
            findings += _desil_findings(query, code, f"Menerima {code}, padahal batas program desil 1–{ceiling}.")
    return findings


def _double_aid_detail(findings):
    """Fill in the warnings of double-aid findings (the household page's own wording), for the rows shown."""
    warnings = ledger.double_aid([f.household_id for f in findings], current_app.config["EXCLUSIVE_PROGRAMS"])
    for f in findings:
        f.detail = " ".join(dict.fromkeys(warnings.get(f.household_id, [])))


@check("double_aid", "salah_sasaran", "household", "Bantuan ganda yang tidak boleh bersamaan",
       "Program yang tidak boleh diterima bersamaan (misalnya BLT Dana Desa dengan PKH/Sembako) mengurangi "
       "jatah keluarga lain; usulkan pencoretan salah satunya.",
       proposals=("usul_pencoretan", "usul_perbaikan"), describe=_double_aid_detail)
def double_aid(run):
    """Households with rows in two overlapping periods of scope whose keluarga programmes must not go together."""
    applied, found = run.applied, set()
    d, o = Disbursement, Disbursement.alias("o")
    # Keluarga programmes' rows are the household's own (no person); no "person IS NULL" term, which would
    # lead the planner onto the person index and through every keluarga row.
    periods = {p.code: [q for q in applied.periods if q.program_id == p.id] for p in applied.programs
               if p.sasaran == "keluarga"}
    for code, others in run.exclusive.items():
        for period in periods.get(code, []):
            clashing = [q.id for other in others for q in periods.get(other, []) if ledger.overlapping(period, q)]
            if not clashing:
                continue
            also = o.select(SQL("1")).where((o.household == d.household) & o.period.in_(clashing)
                                             & o.deleted_at.is_null())
            found |= {hid for (hid,) in d.select(d.household)
                      .where((d.period == period.id) & d.deleted_at.is_null() & fn.EXISTS(also)).tuples()}
    places = _places(run, found)
    in_scope = [q.id for items in periods.values() for q in items]
    # The fingerprint rests on the household and its keluarga rows in scope.
    rows = [row for chunk in chunked(sorted(places), LOOKUP_CHUNK)
            for row in d.select(d.household, fn.COUNT(SQL("*")), fn.SUM(d.version))
            .where(d.household.in_(chunk) & d.period.in_(in_scope) & d.deleted_at.is_null())
            .group_by(d.household).tuples()]
    return [Finding(f"h{hid}", _versions(places[hid][4], n, version_sum), hid, place=places[hid][:4])
            for hid, n, version_sum in rows]


@check("outside_dtsen", "salah_sasaran", "household", "Penerima di luar data DTSEN",
       "Penerima yang tidak ada di DTSEN diterima saat impor daftar penerima; tanpa DTSEN tidak ada desil, "
       "jadi kelayakannya tidak dapat diperiksa. Usulkan masuk DTSEN atau pencoretan.",
       proposals=("usul_baru", "usul_pencoretan", "usul_perbaikan"), recap=True)
def outside_dtsen(run):
    """Recipient households in scope that came from a recipient list, not from DTSEN (in_dtsen false)."""
    outside = [hid for (hid,) in Household.select(Household.id).where(run.households & ~Household.in_dtsen).tuples()]
    rows = []
    for chunk in chunked(outside, LOOKUP_CHUNK):
        query = recap.drill_query(run.applied, recap.Drill(menerima=True)).where(Household.id.in_(chunk))
        rows += list(query.select(Household.id, Household.version, *PLACE).tuples())
    programs = Household.programs_in_year([row[0] for row in rows], run.applied.year)
    return [Finding(f"h{hid}", _versions(version), hid, place=tuple(place),
                    detail=f"Tidak ada di data DTSEN, menerima {', '.join(programs.get(hid, [])) or 'bantuan'}.")
            for hid, version, *place in rows]


@check("exclusion_below_ceiling", "terlewat", "household", "Keluarga dalam batas desil yang tidak menerima (eksklusi)",
       "Keluarga dengan desil sampai batas program yang tidak menerimanya adalah calon usulan baru untuk "
       "musyawarah desa.", proposals=("usul_baru", "usul_perbaikan"), recap=True, per_program=True)
def exclusion_below_ceiling(run):
    """Per programme with a ceiling: households in desil 1 to it without the programme (the recap's eksklusi)."""
    findings = []
    for program in _ceiling_programs(run):
        ceiling, code = program.desil_max, program.code
        query = recap.drill_query(run.applied, recap.Drill(tanpa=code, desil=f"1-{ceiling}"))
        findings += _desil_findings(query, code, f"Tidak menerima {code} (batas program desil 1–{ceiling}).")
    return findings


@check("no_aid", "terlewat", "household", "KK desil rendah yang belum menerima bantuan apa pun",
       "Keluarga termiskin yang tidak menerima satu pun bantuan adalah prioritas usulan baru; angka ini sama "
       "dengan angka rekap.", proposals=("usul_baru", "usul_perbaikan"), recap=True)
def no_aid(run):
    """Households in desil 1 to the no-aid ceiling with no row in scope (the recap's list, when there is a year)."""
    applied = run.applied
    if not applied.periods:
        return []
    query = recap.drill_query(applied, recap.Drill(desil=f"1-{applied.desil_max}", menerima=False))
    when = f"tahun {applied.year}" if applied.year is not None else "cakupan rekap"
    return _desil_findings(query, None, f"Belum menerima bantuan apa pun pada {when}.")


@check("dtsen_outdated", "usang", "desa", "Data DTSEN lebih lama dari satu triwulan",
       "BPS memperbarui peringkat desil kira-kira tiap tiga bulan; data lama membuat desil dan kelayakan "
       "di aplikasi ini tidak lagi sama dengan SIKS-NG.")
def dtsen_outdated(run):
    """The desa itself, when the latest DTSEN import is older than a quarter (or there is none but there is data)."""
    latest = ImportBatch.latest_dtsen()
    if latest is None:
        if not Household.select().where(run.households).exists():
            return []
        return [Finding("dtsen:none", "0", detail="Belum ada data DTSEN yang dimuat.")]
    loaded = (latest.applied_at or latest.created_at).date()
    age = (run.today - loaded).days
    if age <= DTSEN_MAX_AGE_DAYS:
        return []
    return [Finding(f"dtsen:b{latest.id}", _versions(latest.id),
                    detail=f"Data DTSEN “{latest.version_label or latest.filename}” dimuat {tanggal(loaded)}, "
                           f"{age} hari yang lalu.")]


def _stale_rows(run, status, periods, *columns, condition=None):
    """Rows of one status in some open periods, of the desa's active households and persons (raw values)."""
    if not periods:
        return []
    deleted = Person.select(Person.id).where(Person.deleted_at.is_null(False))
    query = (Disbursement.select(Disbursement.id, Disbursement.version, Disbursement.household, Disbursement.person,
                                 Disbursement.period, *columns, *PLACE)
             .join(Household)
             .where(Disbursement.period.in_(list(periods)) & (Disbursement.status == status)
                    & Disbursement.deleted_at.is_null() & run.households
                    & (Disbursement.person.is_null() | Disbursement.person.not_in(deleted))))
    return list((query.where(condition) if condition is not None else query).dicts())


def _open_periods(condition=None):
    """{id: period} of the periods not closed (with their programme), optionally narrowed."""
    query = Period.select(Period, Program).join(Program).where(~Period.closed)
    return {p.id: p for p in (query.where(condition) if condition is not None else query)}


def _row_finding(row, period, detail):
    """A finding about one disbursement row."""
    return Finding(f"d{row['id']}", _versions(row["version"]), row["household"], row["person"], period.program.code,
                   f"{period.program.code} {period.label}: {detail}",
                   place=tuple(row[name] for name in ("dusun", "rw", "rt", "no_kk")))


@check("tidak_cair_no_follow_up", "usang", "disbursement", "Tidak cair tanpa tindak lanjut lebih dari 30 hari",
       "Penyaluran yang gagal perlu ditindaklanjuti (perbaikan data, rekening, pengajuan ulang) sebelum "
       "tahap berikutnya; yang dibiarkan biasanya hangus.", proposals=("usul_perbaikan",))
def tidak_cair_no_follow_up(run):
    """Tidak cair rows of open periods whose status date and last change are both more than 30 days old."""
    cutoff = run.today - timedelta(days=FOLLOW_UP_DAYS)
    periods = _open_periods()
    rows = _stale_rows(run, "tidak_cair", periods, Disbursement.status_date, Disbursement.reason,
                       Disbursement.updated_at, condition=(Disbursement.updated_at < datetime.combine(cutoff, time()))
                       & (Disbursement.status_date.is_null() | (Disbursement.status_date < cutoff)))
    findings = []
    for row in rows:
        last = max(filter(None, [row["status_date"], row["updated_at"].date()]))
        reason = _label("reason", row["reason"]) if row["reason"] else "tanpa alasan"
        findings.append(_row_finding(row, periods[row["period"]],
                                     f"tidak cair ({reason}), tanpa perubahan sejak {tanggal(last)}."))
    return findings


@check("belum_after_period_end", "usang", "disbursement", "Belum cair lebih dari 30 hari setelah periode berakhir",
       "Status “belum cair” yang dibiarkan setelah periodenya lama berakhir biasanya sebenarnya sudah cair atau "
       "gagal; perbarui dari SIKS-NG, Kantor Pos atau pendamping.", proposals=("usul_perbaikan",))
def belum_after_period_end(run):
    """Belum rows of open periods that ended more than 30 days ago."""
    periods = _open_periods(Period.end_date < run.today - timedelta(days=FOLLOW_UP_DAYS))
    texts = {pid: f"periode berakhir {tanggal(p.end_date)}, masih belum cair." for pid, p in periods.items()}
    return [_row_finding(row, periods[row["period"]], texts[row["period"]])
            for row in _stale_rows(run, "belum", periods)]


@dataclass
class Result:
    """A check's findings with the reviews that still hold for them."""

    check: Check
    findings: list
    reviews: dict = field(default_factory=dict)
    _open: int | None = field(default=None, repr=False)

    def refresh(self, reviews):
        """Take fresh reviews (after one was written), forgetting the open count."""
        self.reviews, self._open = reviews, None

    def review_of(self, finding):
        """The review still valid for a finding (its fingerprint unchanged), or None."""
        review = self.reviews.get((self.check.id, finding.key))
        return review if review is not None and review.fingerprint == finding.fingerprint else None

    def earlier_review(self, finding):
        """A review given before the finding's data changed, or None."""
        review = self.reviews.get((self.check.id, finding.key))
        return review if review is not None and review.fingerprint != finding.fingerprint else None

    def is_open(self, finding):
        """True when no valid review covers the finding."""
        return self.review_of(finding) is None

    @property
    def open(self):
        """The number of open findings (counted once: a village-wide list holds tens of thousands)."""
        if self._open is None:
            self._open = sum(1 for f in self.findings if self.is_open(f))
        return self._open

    @property
    def total(self):
        """The number of findings."""
        return len(self.findings)

    def by_program(self):
        """{programme: (open, total)} for checks listed per programme."""
        counts = {}
        for f in self.findings:
            open_n, total = counts.get(f.program, (0, 0))
            counts[f.program] = (open_n + self.is_open(f), total + 1)
        return counts


def get(check_id):
    """The registered check with this id, or None."""
    return CHECKS.get(check_id)


def run_checks(ids=None, run=None):
    """Results of the given checks (default: all), in registry order, sharing one Run and one read of reviews.

    Without an explicit Run the results are remembered until the next commit (webapp/cache.py), so the
    home page count and a second look at the page cost nothing."""
    def compute(run):
        reviews = FindingReview.by_finding()
        return [Result(c, c.find(run), reviews) for c in CHECKS.values() if ids is None or c.id in ids]

    if run is not None:
        return compute(run)
    key = ("checks", ledger.today_wib(), tuple(sorted(ids)) if ids else None,
           repr(sorted(current_app.config["EXCLUSIVE_PROGRAMS"].items())))
    return cache.remember(key, lambda: compute(Run()))


def run_one(check_id, run=None):
    """The Result of one check."""
    found = get(check_id)
    if found is None:
        raise LookupError(check_id)
    return Result(found, found.find(run or Run()), FindingReview.by_finding(check_id))


def open_count(results=None):
    """The number of open findings over every check."""
    return sum(r.open for r in (results if results is not None else run_checks()))


def by_section(results):
    """[(section title, [results])] in page order."""
    titles = dict(SECTIONS)
    grouped = {key: [] for key, _ in SECTIONS}
    for result in results:
        grouped[result.check.section].append(result)
    return [(titles[key], items) for key, items in grouped.items() if items]


def checks_for_recap():
    """The checks behind recap figures (inclusion, exclusion, no aid, outside DTSEN, dead or moved recipients):
    [{check, title, open, total, url, programs: {code: {open, total, url}}}] for the default recap scope."""
    results = run_checks({c.id for c in CHECKS.values() if c.recap})
    out = []
    for r in results:
        url = url_for("verification.findings", check_id=r.check.id)
        entry = {"check": r.check.id, "title": r.check.title, "open": r.open, "total": r.total, "url": url,
                 "programs": {}}
        if r.check.per_program:
            entry["programs"] = {code: {"open": o, "total": t,
                                        "url": url_for("verification.findings", check_id=r.check.id, program=code)}
                                 for code, (o, t) in r.by_program().items()}
        out.append(entry)
    return out


def as_json(results):
    """The stable structure of `flask verifikasi --json`: one object per check."""
    sections = dict(SECTIONS)
    return [{"check": r.check.id, "title": r.check.title, "section": sections[r.check.section],
             "level": r.check.level, "count": r.open, "total": r.total, "reviewed": r.total - r.open,
             "why": r.check.why} for r in results]


@dataclass
class ReviewRequest:
    """A validated review: the state and the operator's note."""

    state: str
    note: str
    errors: list = field(default_factory=list)

    @classmethod
    def from_form(cls, form, found):
        """Validate a review form for a check; errors in Bahasa Indonesia."""
        request = cls(state=form.get("state", ""), note=(form.get("note") or "").strip())
        if request.state not in dict(found.states):
            request.errors.append("Pilih hasil pemeriksaan.")
        if request.state == "diperiksa" and not request.note:
            request.errors.append("Tuliskan catatan hasil pemeriksaan.")
        if len(request.note) > NOTE_MAX:
            request.errors.append(f"Catatan paling banyak {NOTE_MAX} huruf.")
        return request


def current(check_id, key):
    """A check's Result as the data stands now, and its finding with this key (None when there is none)."""
    result = run_one(check_id)
    return result, next((f for f in result.findings if f.key == key), None)


def _audit_text(review):
    """A review as audit-log text."""
    return None if review is None else f"{review.state}: {review.note}"


def review(check_id, key, fingerprint, request, user):
    """Record an operator's review of a finding at the fingerprint she saw; returns (Result, finding).

    Raises ReviewError for an invalid form, Stale when the finding changed or went away meanwhile."""
    if request.errors:
        raise ReviewError(" ".join(request.errors))
    result, finding = current(check_id, key)
    if finding is None or finding.fingerprint != fingerprint:
        raise Stale(result, finding)
    with database.db.atomic("IMMEDIATE"):
        before = FindingReview.get_or_none((FindingReview.check == check_id) & (FindingReview.key == key))
        values = {"fingerprint": fingerprint, "state": request.state, "note": request.note, "user": user,
                  "username": user.username if user else "", "ts": utcnow()}
        if before is None:
            after = FindingReview.create(check=check_id, key=key, **values)
        else:
            FindingReview.update(**values).where(FindingReview.id == before.id).execute()
            after = FindingReview.get_by_id(before.id)
        record("verifikasi.tinjau", entity="finding_review", entity_id=after.id, field=f"{check_id} {key}",
               old=_audit_text(before), new=_audit_text(after))
    result.refresh(FindingReview.by_finding(check_id))
    return result, finding


def reopen(check_id, key):
    """Withdraw the review of a finding, so it counts as open again; returns (Result, finding or None)."""
    with database.db.atomic("IMMEDIATE"):
        before = FindingReview.get_or_none((FindingReview.check == check_id) & (FindingReview.key == key))
        if before is not None:
            before.delete_instance()
            record("verifikasi.buka", entity="finding_review", entity_id=before.id, field=f"{check_id} {key}",
                   old=_audit_text(before), new=None)
    return current(check_id, key)


@dataclass
class Row:
    """A finding as a list or an export shows it: the subject's household and person, the others, the review."""

    finding: Finding
    household: Household | None
    person: Person | None
    others: list
    review: FindingReview | None
    earlier: FindingReview | None


def _by_id(model, ids):
    """{id: row} of a model for many ids, in chunks (SQLite bounds the parameters of one statement)."""
    found = {}
    for chunk in chunked(sorted(ids), LOOKUP_CHUNK):
        found.update({row.id: row for row in model.select().where(model.id.in_(chunk))})
    return found


def _heads(household_ids):
    """{household id: its kepala keluarga (a living one first), else its first member}."""
    living_first = Case(None, [(Person.keberadaan.in_(KEBERADAAN_JIWA), 0)], 1)
    heads = {}
    for chunk in chunked(sorted(household_ids), LOOKUP_CHUNK):
        for person in (Person.select().where(Person.household.in_(chunk) & (Person.hubungan == "kepala")
                                             & Person.deleted_at.is_null())
                       .order_by(Person.household, living_first, Person.id)):
            heads.setdefault(person.household_id, person)
    for chunk in chunked(sorted(set(household_ids) - set(heads)), LOOKUP_CHUNK):
        for person in (Person.select().where(Person.household.in_(chunk) & Person.deleted_at.is_null())
                       .order_by(Person.household, Person.id)):
            heads.setdefault(person.household_id, person)
    return heads


def rows_for(result, findings):
    """Rows for some findings of a result, with households, persons and reviews loaded in a few queries."""
    if result.check.describe and findings:
        result.check.describe(findings)
    households = _by_id(Household, {f.household_id for f in findings if f.household_id})
    persons = _by_id(Person, {f.person_id for f in findings if f.person_id} | {o for f in findings for o in f.others})
    heads = _heads({f.household_id for f in findings if f.household_id and not f.person_id})
    return [Row(f, households.get(f.household_id), persons.get(f.person_id) or heads.get(f.household_id),
                [persons[o] for o in f.others if o in persons], result.review_of(f), result.earlier_review(f))
            for f in findings]


SHOW = {"terbuka": "Terbuka", "ditinjau": "Sudah ditinjau", "semua": "Semua"}


def select(result, show="terbuka", program=None):
    """The findings of a result to list: open, reviewed or all, optionally of one programme, in wilayah order."""
    chosen = [f for f in result.findings if program is None or f.program == program]
    if show == "terbuka":
        chosen = [f for f in chosen if result.is_open(f)]
    elif show == "ditinjau":
        chosen = [f for f in chosen if not result.is_open(f)]
    return sorted(chosen, key=lambda f: (f.place or ("",) * 4, f.program or "", f.key))


def proposals(results):
    """Rows of every finding whose valid review is an usulan, grouped by usulan, then wilayah: [(result, row)]."""
    picked = []
    for result in results:
        chosen = [f for f in result.findings
                  if (r := result.review_of(f)) is not None and r.state in FindingReview.PROPOSALS]
        picked += [(result, row) for row in rows_for(result, chosen)]
    order = {state: i for i, state in enumerate(FindingReview.PROPOSALS)}
    return sorted(picked, key=lambda item: (order[item[1].review.state], item[1].finding.place or ("",) * 4,
                                            item[0].check.title))

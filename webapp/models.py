"""Models of Rekap Bansos (design.md §3) and the named queries the views use.

NIK and No KK are 16-character text everywhere: never numbers (Excel and float64 lose the 16th digit).
Households and persons are soft-deleted; the unique indexes on no_kk and nik cover active rows only.
"""
import json
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from datetime import datetime
from datetime import timezone

from peewee import SQL
from peewee import BooleanField
from peewee import Case
from peewee import CharField
from peewee import Check
from peewee import DateField
from peewee import DateTimeField
from peewee import ForeignKeyField
from peewee import IntegerField
from peewee import JOIN
from peewee import TextField
from peewee import Value
from peewee import fn

from . import db as database
from .db import BaseModel

# (key, label) pairs: keys are stored, labels are shown.
HUBUNGAN = [
    ("kepala", "Kepala Keluarga"), ("suami", "Suami"), ("istri", "Istri"), ("anak", "Anak"),
    ("menantu", "Menantu"), ("cucu", "Cucu"), ("orang_tua", "Orang Tua"), ("mertua", "Mertua"),
    ("famili_lain", "Famili Lain"), ("pembantu", "Pembantu"), ("lainnya", "Lainnya"),
]
KEBERADAAN = [
    ("tinggal", "Tinggal bersama"), ("baru", "Anggota baru"), ("meninggal", "Meninggal"),
    ("pindah", "Pindah"), ("tidak_ditemukan", "Tidak ditemukan"),
]
# Persons counted as jiwa of their household (design.md §5).
KEBERADAAN_JIWA = ("tinggal", "baru")
JENIS_KELAMIN = [("L", "Laki-laki"), ("P", "Perempuan")]
SASARAN = [("keluarga", "Keluarga (KK)"), ("jiwa", "Jiwa (perorangan)")]
CHANNELS = [("bank", "Bank/KKS"), ("pos", "Kantor Pos"), ("tunai", "Tunai di desa"), ("lainnya", "Lainnya")]
STATUSES = [("belum", "Belum cair"), ("cair", "Sudah cair"), ("tidak_cair", "Tidak cair")]
REASONS = [
    ("tidak_padan", "Data tidak padan Dukcapil"),
    ("nama_ttl_beda", "Nama/tanggal lahir berbeda"),
    ("rekening", "Rekening/KKS bermasalah"),
    ("kks_belum", "KKS belum diterima"),
    ("meninggal", "Meninggal"),
    ("pindah", "Pindah"),
    ("tidak_ditemukan", "Tidak ditemukan"),
    ("ganda", "Ganda"),
    ("tidak_layak", "Tidak layak/dicoret"),
    ("sp2d_belum", "SP2D/batch belum turun"),
    ("lainnya", "Lainnya"),
]
ROLES = [("operator", "Operator"), ("staf", "Staf desa"), ("kecamatan", "Kecamatan")]
IMPORT_KINDS = [("dtsen", "Data DTSEN"), ("penerima", "Daftar penerima"), ("status", "Status penyaluran")]
IMPORT_STATES = [("preview", "Pratinjau"), ("applied", "Diterapkan"), ("failed", "Gagal")]

LABELS = {name: dict(pairs) for name, pairs in {
    "hubungan": HUBUNGAN, "keberadaan": KEBERADAAN, "jenis_kelamin": JENIS_KELAMIN,
    "sasaran": SASARAN, "channel": CHANNELS, "status": STATUSES, "reason": REASONS,
    "role": ROLES, "import_kind": IMPORT_KINDS, "import_state": IMPORT_STATES,
}.items()}


def utcnow():
    """Current time in UTC, naive (SQLite stores it as text; shown in WIB by the templates)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def one_of(column, pairs, nullable=False):
    """A CHECK constraint limiting a column to the keys of a (key, label) list."""
    keys = ", ".join(f"'{key}'" for key, _ in pairs)
    rule = f"{column} IN ({keys})"
    return Check(f"{column} IS NULL OR {rule}" if nullable else rule)


def sixteen_digits(column):
    """A CHECK constraint for NIK/No KK: 16 characters, digits only, not starting with 0."""
    return Check(f"length({column}) = 16 AND {column} NOT GLOB '*[^0-9]*' AND {column} NOT GLOB '0*'")


class Desa(BaseModel):
    """The village this installation serves, keyed by its 10-digit kode wilayah."""

    kode = CharField(max_length=10, unique=True, constraints=[Check("length(kode) = 10")])
    nama = CharField()
    kecamatan = CharField()
    kabupaten = CharField()
    provinsi = CharField(default="")

    @classmethod
    def current(cls):
        """The installation's desa (the first one)."""
        return cls.select().order_by(cls.id).first()


class User(BaseModel):
    """An account; role decides what it may see, session_epoch revokes its sessions."""

    username = CharField(unique=True)
    password_hash = CharField()
    role = CharField(constraints=[one_of("role", ROLES)])
    is_admin = BooleanField(default=False)
    active = BooleanField(default=True)
    must_change_password = BooleanField(default=False)
    session_epoch = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)

    @classmethod
    def by_username(cls, username):
        """The account with this user name (case-insensitive), or None."""
        return cls.get_or_none(fn.LOWER(cls.username) == username.strip().lower())

    @classmethod
    def active_admins(cls):
        """Active accounts holding the admin right."""
        return cls.select().where(cls.active & cls.is_admin)

    @property
    def sees_full_ids(self):
        """Only operators see whole NIK and No KK numbers; staf see them masked."""
        return self.role == "operator"


class LoginAttempt(BaseModel):
    """One log-in try; failures since the last success slow further tries (shared by all workers)."""

    ts = DateTimeField(default=utcnow)
    username = CharField()
    ip = CharField()
    success = BooleanField()

    class Meta:
        indexes = ((("username", "ts"), False), (("ip", "ts"), False))

    @classmethod
    def recent_failures(cls, field, value, since):
        """(count, time of the latest) of failures for this username or address since a moment,
        counting only those after its latest success."""
        last_ok = (cls.select(fn.MAX(cls.ts)).where((field == value) & cls.success & (cls.ts >= since)).scalar())
        start = max(since, last_ok) if last_ok else since
        return (cls.select(fn.COUNT(cls.id), fn.MAX(cls.ts))
                .where((field == value) & ~cls.success & (cls.ts > start if last_ok else cls.ts >= start))
                .tuples().get())


class ImportBatch(BaseModel):
    """One imported file: what it was, who brought it and what it changed."""

    kind = CharField(constraints=[one_of("kind", IMPORT_KINDS)])
    filename = CharField()
    sha256 = CharField(max_length=64, index=True)
    version_label = CharField(default="")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    applied_at = DateTimeField(null=True)
    state = CharField(default="preview", constraints=[one_of("state", IMPORT_STATES)])
    new_count = IntegerField(default=0)
    changed_count = IntegerField(default=0)
    unchanged_count = IntegerField(default=0)
    rejected_count = IntegerField(default=0)

    @classmethod
    def latest_dtsen(cls):
        """The most recently applied DTSEN batch, whose label names the data version."""
        return (cls.select().where((cls.kind == "dtsen") & (cls.state == "applied"))
                .order_by(cls.applied_at.desc()).first())


class Registered(BaseModel):
    """Fields shared by DTSEN records: origin batch, optimistic-lock version, soft delete."""

    import_batch = ForeignKeyField(ImportBatch, null=True, on_delete="SET NULL")
    version = IntegerField(default=1, constraints=[SQL("DEFAULT 1")])
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    deleted_at = DateTimeField(null=True)
    deleted_reason = CharField(null=True)


class Household(Registered):
    """A family (KK) with its place in the desa and its DTSEN desil."""

    no_kk = CharField(max_length=16, constraints=[sixteen_digits("no_kk")])
    desa = ForeignKeyField(Desa, on_delete="RESTRICT")
    dusun = CharField(default="")
    rw = CharField(max_length=3, default="")
    rt = CharField(max_length=3, default="")
    alamat = CharField(default="")
    desil = IntegerField(null=True, constraints=[Check("desil IS NULL OR desil BETWEEN 1 AND 10")])
    in_dtsen = BooleanField(default=True, constraints=[SQL("DEFAULT 1")])
    # Living members (tinggal or baru, not deleted): kept by triggers on person (webapp/db.py), never
    # written by the app, so the recap reads one column instead of counting 200,000 persons (perf.md §5).
    jiwa = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])

    class Meta:
        # Desil, deleted_at and jiwa make it covering: the recap reads households in wilayah order from it alone.
        indexes = ((("desa", "dusun", "rw", "rt", "desil", "deleted_at", "jiwa"), False),)
        only_save_dirty = True  # a save() never writes back a stale jiwa

    @classmethod
    def active(cls):
        """Households not soft-deleted."""
        return cls.select().where(cls.deleted_at.is_null())

    @classmethod
    def dusun_names(cls, desa):
        """Names of the desa's dusun with active households, sorted.

        Filtered on the desa, SQLite walks the covering (desa, dusun, …) index from one dusun to the
        next: 0.1 ms at kecamatan scale, against 8 ms for DISTINCT over every household."""
        query = (cls.select(cls.dusun).where((cls.desa == desa) & cls.deleted_at.is_null())
                 .distinct().order_by(cls.dusun).tuples())
        return [name for (name,) in query if name]

    @classmethod
    def programs_in_year(cls, household_ids, year):
        """{household id: sorted programme codes it (or a member) receives in the year}."""
        if not household_ids or year is None:
            return {}
        rows = (Disbursement.select(Disbursement.household, Program.code).distinct()
                .join(Period).join(Program)
                .where(Disbursement.household.in_(household_ids) & (Period.year == year)
                       & Disbursement.deleted_at.is_null())
                .order_by(Program.id).tuples())
        codes = {}
        for household_id, code in rows:
            codes.setdefault(household_id, []).append(code)
        return codes

    def members(self):
        """Members, kepala keluarga first, then by birth date."""
        order = Case(None, [(Person.hubungan == "kepala", 0), (Person.hubungan.in_(("suami", "istri")), 1)], 2)
        return (Person.select().where((Person.household == self) & Person.deleted_at.is_null())
                .order_by(order, Person.tanggal_lahir, Person.id))

    def disbursements(self):
        """Every disbursement of this household (and of its members), newest period first."""
        return (Disbursement.select(Disbursement, Period, Program, Person)
                .join(Period).join(Program).switch(Disbursement)
                .join(Person, JOIN.LEFT_OUTER)
                .where((Disbursement.household == self) & Disbursement.deleted_at.is_null())
                .order_by(Period.year.desc(), Period.start_date.desc(nulls="LAST"), Program.code,
                          Period.label, Person.nama))


Household.add_index(Household.index(Household.no_kk, unique=True, where=Household.deleted_at.is_null()))
# The few soft-deleted rows, so the recap can leave them out without a join.
Household.add_index(Household.index(Household.deleted_at, where=Household.deleted_at.is_null(False)))


class Person(Registered):
    """A member (jiwa) of a household."""

    nik = CharField(max_length=16, constraints=[sixteen_digits("nik")])
    household = ForeignKeyField(Household, backref="persons", on_delete="RESTRICT")
    nama = CharField(collation="NOCASE", index=True)
    hubungan = CharField(default="lainnya", constraints=[one_of("hubungan", HUBUNGAN)])
    jenis_kelamin = CharField(max_length=1, null=True, constraints=[one_of("jenis_kelamin", JENIS_KELAMIN, True)])
    tanggal_lahir = DateField(null=True)
    keberadaan = CharField(default="tinggal", constraints=[one_of("keberadaan", KEBERADAAN)])

    class Meta:
        # Covering for the recap: living members per household without reading the table.
        indexes = ((("household", "deleted_at", "keberadaan"), False),)

    @classmethod
    def kepala_names(cls, household_ids):
        """{household id: name of its kepala keluarga} for the given households."""
        return dict(cls.select(cls.household, cls.nama)
                    .where(cls.household.in_(list(household_ids)) & (cls.hubungan == "kepala")
                           & cls.deleted_at.is_null()).tuples())

    @property
    def counts_as_jiwa(self):
        """True when this person lives in the household (design.md §5)."""
        return self.keberadaan in KEBERADAAN_JIWA

    def umur(self, today=None):
        """Age in whole years, or None without a birth date."""
        if not self.tanggal_lahir:
            return None
        today = today or date.today()
        born = self.tanggal_lahir
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


Person.add_index(Person.index(Person.nik, unique=True, where=Person.deleted_at.is_null()))
Person.add_index(Person.index(Person.deleted_at, where=Person.deleted_at.is_null(False)))


class Program(BaseModel):
    """A bansos programme and its eligibility ceiling."""

    code = CharField(unique=True)
    nama = CharField()
    sasaran = CharField(constraints=[one_of("sasaran", SASARAN)])
    desil_max = IntegerField(null=True, constraints=[Check("desil_max IS NULL OR desil_max BETWEEN 1 AND 10")])
    default_amount = IntegerField(default=0)
    sumber_dana = CharField(default="Pusat")
    active = BooleanField(default=True)

    @classmethod
    def ordered(cls):
        """Active programmes in their conventional order (national ones first)."""
        return cls.select().where(cls.active).order_by(cls.id)


NATIONAL_PROGRAMS = [
    # code, nama, sasaran, desil_max, default amount per recipient per period, sumber dana
    ("PKH", "Program Keluarga Harapan", "keluarga", 4, 750000, "Pusat"),
    ("SEMBAKO", "Program Sembako (BPNT)", "keluarga", 5, 600000, "Pusat"),
    ("BLT-KESRA", "BLT Kesejahteraan Rakyat", "keluarga", 4, 900000, "Pusat"),
    ("PBI-JK", "Penerima Bantuan Iuran Jaminan Kesehatan", "jiwa", 5, 504000, "Pusat"),
    ("BLT-DD", "BLT Dana Desa", "keluarga", None, 900000, "Dana Desa"),
    ("PIP", "Program Indonesia Pintar", "jiwa", None, 450000, "Pusat"),
    ("YAPI", "ATENSI Yatim Piatu", "jiwa", None, 600000, "Pusat"),
]


class Period(BaseModel):
    """A stage (tahap) or period of a programme."""

    program = ForeignKeyField(Program, backref="periods", on_delete="RESTRICT")
    label = CharField()
    year = IntegerField()
    start_date = DateField(null=True)
    end_date = DateField(null=True)
    amount = IntegerField(default=0)
    default_channel = CharField(default="bank", constraints=[one_of("default_channel", CHANNELS)])
    closed = BooleanField(default=False)
    closed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("program", "label"), True), (("year",), False))

    @classmethod
    def latest_year(cls):
        """The most recent year that has disbursements (the default recap scope), or None."""
        return (cls.select(fn.MAX(cls.year)).join(Disbursement)
                .where(Disbursement.deleted_at.is_null()).scalar())


class Disbursement(BaseModel):
    """One recipient (household, or person for jiwa programmes) in one period, with its status."""

    period = ForeignKeyField(Period, backref="disbursements", on_delete="RESTRICT")
    household = ForeignKeyField(Household, on_delete="RESTRICT")
    person = ForeignKeyField(Person, null=True, on_delete="RESTRICT")
    channel = CharField(default="bank", constraints=[one_of("channel", CHANNELS)])
    status = CharField(default="belum", constraints=[one_of("status", STATUSES)])
    status_date = DateField(null=True)
    reason = CharField(null=True, constraints=[one_of("reason", REASONS, True)])
    note = TextField(default="", constraints=[SQL("DEFAULT ''")])
    amount = IntegerField(default=0)
    import_batch = ForeignKeyField(ImportBatch, null=True, on_delete="SET NULL")
    version = IntegerField(default=1, constraints=[SQL("DEFAULT 1")])
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    deleted_at = DateTimeField(null=True)

    class Meta:
        constraints = [Check("status <> 'tidak_cair' OR reason IS NOT NULL")]
        # Both covering for the recap (webapp/recap.py): households' periods in household order, and
        # status × channel × reason per period read in group order without touching the table.
        indexes = ((("household", "period", "person", "status", "channel", "amount", "deleted_at"), False),
                   (("period", "status", "channel", "reason", "amount", "household", "person", "deleted_at"), False))


# One row per recipient per period: households for keluarga programmes, persons for jiwa programmes.
Disbursement.add_index(Disbursement.index(
    Disbursement.period, Disbursement.household, unique=True,
    where=Disbursement.person.is_null() & Disbursement.deleted_at.is_null()))
Disbursement.add_index(Disbursement.index(
    Disbursement.period, Disbursement.person, unique=True,
    where=Disbursement.person.is_null(False) & Disbursement.deleted_at.is_null()))


class AuditEvent(BaseModel):
    """An append-only record of one change, written in the same transaction as the change."""

    ts = DateTimeField(default=utcnow, index=True)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    username = CharField(default="")
    action = CharField()
    entity = CharField(default="")
    entity_id = IntegerField(null=True)
    field = CharField(default="")
    old = TextField(null=True)
    new = TextField(null=True)
    import_batch = ForeignKeyField(ImportBatch, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("entity", "entity_id"), False), (("action", "ts"), False))

    @classmethod
    def filtered(cls, username=None, action=None, start=None, end=None):
        """Events newest first, narrowed by user name, action and a UTC time range [start, end)."""
        query = cls.select().order_by(cls.ts.desc(), cls.id.desc())
        if username:
            query = query.where(cls.username == username)
        if action:
            query = query.where(cls.action == action)
        if start:
            query = query.where(cls.ts >= start)
        if end:
            query = query.where(cls.ts < end)
        return query

    @classmethod
    def actions(cls):
        """Every action name that occurs, sorted."""
        return [a for (a,) in cls.select(cls.action).distinct().order_by(cls.action).tuples()]


class ImportRejection(BaseModel):
    """A row of an imported file that was rejected, kept so it can be downloaded, fixed and re-imported."""

    import_batch = ForeignKeyField(ImportBatch, backref="rejections", on_delete="CASCADE")
    row = IntegerField()
    messages = TextField()  # JSON list of reasons, each naming the row and the column
    values = TextField()  # JSON object {original header: cell as typed}

    class Meta:
        indexes = ((("import_batch", "row"), True),)

    @classmethod
    def of_batch(cls, batch):
        """The rejected rows of a batch as {"row", "messages", "values"} dicts, in file order."""
        return [{"row": r.row, "messages": json.loads(r.messages), "values": json.loads(r.values)}
                for r in cls.select().where(cls.import_batch == batch).order_by(cls.row)]


class FindingReview(BaseModel):
    """An operator's verdict on one verification finding (webapp/checks.py), valid while its fingerprint,
    taken from the data the finding rests on, still matches: changed data reopens the finding."""

    STATES = [("diperiksa", "Sudah diperiksa"), ("usul_perbaikan", "Usulkan perbaikan"),
              ("usul_pencoretan", "Usulkan pencoretan"), ("usul_baru", "Usulkan baru")]
    PROPOSALS = ("usul_perbaikan", "usul_pencoretan", "usul_baru")

    check = CharField(column_name="check_id")
    key = CharField(column_name="finding_key")
    fingerprint = CharField()
    state = CharField(constraints=[one_of("state", STATES)])
    note = TextField(default="", constraints=[SQL("DEFAULT ''")])
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    username = CharField(default="")
    ts = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("check", "key"), True),)

    @classmethod
    def by_finding(cls, check=None):
        """{(check, key): review} of every review, or of one check's."""
        query = cls.select() if check is None else cls.select().where(cls.check == check)
        return {(r.check, r.key): r for r in query}


MODELS = [Desa, User, LoginAttempt, ImportBatch, Household, Person, Program, Period, Disbursement, AuditEvent,
          ImportRejection, FindingReview]


def ensure_reference_data(config):
    """Create or refresh the desa row from settings and the national programmes (idempotent)."""
    fields = {"nama": config["DESA_NAMA"], "kecamatan": config["DESA_KECAMATAN"],
              "kabupaten": config["DESA_KABUPATEN"], "provinsi": config["DESA_PROVINSI"]}
    # One desa per installation: a changed DESA_KODE corrects the existing row.
    desa = Desa.get_or_none(Desa.kode == config["DESA_KODE"]) or Desa.current()
    if desa is None:
        Desa.create(kode=config["DESA_KODE"], **fields)
    else:
        Desa.update(kode=config["DESA_KODE"], **fields).where(Desa.id == desa.id).execute()
    for code, nama, sasaran, desil_max, amount, sumber in NATIONAL_PROGRAMS:
        Program.insert(code=code, nama=nama, sasaran=sasaran, desil_max=desil_max,
                       default_amount=amount, sumber_dana=sumber).on_conflict_ignore().execute()


@dataclass
class SearchResult:
    """One search hit: a household, and the member that matched (None for a No KK match)."""

    household: Household
    person: "Person | None"
    kepala: str = ""
    programs: list = dc_field(default_factory=list)


@dataclass
class SearchPage:
    """A page of search hits with what the pager needs."""

    query: str
    results: list
    total: int
    page: int
    page_size: int
    cap: int = 1000

    @property
    def pages(self):
        """Number of pages (at least 1), within the cap."""
        return max(1, -(-min(self.total, self.cap) // self.page_size))

    @property
    def capped(self):
        """True when there are more hits than were counted."""
        return self.total > self.cap


def digits_prefix_range(column, digits):
    """column starts with digits, written as a range so SQLite can use the column's index."""
    # ':' sorts right after '9', so [digits, digits + ':') is exactly the prefix.
    return (column >= digits) & (column < digits + ":")


def name_words(text):
    """Split a name query into words (letters and digits only)."""
    return re.findall(r"\w+", text)


def capped_count(query, cap):
    """Count the rows of a query, stopping at cap (enough for 'more than 1.000 hits')."""
    return query.limit(cap).count()


def search_branches(text):
    """The queries behind a search, each read in the order of its own index (no sort for a page)."""
    digits = re.sub(r"[\s.\-]", "", text)
    active = Person.deleted_at.is_null() & Household.deleted_at.is_null()
    if digits.isdigit():
        return [
            Household.select(Value(None).alias("person_id"), Household.id.alias("household_id"))
            .where(Household.deleted_at.is_null() & digits_prefix_range(Household.no_kk, digits))
            .order_by(Household.no_kk),
            Person.select(Person.id.alias("person_id"), Person.household.alias("household_id"))
            .join(Household).where(active & digits_prefix_range(Person.nik, digits)).order_by(Person.nik),
        ]
    return [
        Person.select(Person.id.alias("person_id"), Person.household.alias("household_id"))
        .join(Household).where(active & database.name_matches(Person.id, name_words(text)))
        .order_by(Person.nama, Person.id),
    ]


def search(text, page=1, page_size=20, cap=1000):
    """Find households by member name (word prefixes), NIK prefix or No KK prefix."""
    text = (text or "").strip()
    if not name_words(text):
        return SearchPage(text, [], 0, 1, page_size)
    branches = search_branches(text)
    counts = [capped_count(branch, cap + 1) for branch in branches]
    total = min(sum(counts), cap + 1)
    page = max(1, min(page, max(1, -(-min(total, cap) // page_size))))
    offset, rows = (page - 1) * page_size, []
    for branch, count in zip(branches, counts):
        if offset < count and len(rows) < page_size:
            rows += list(branch.limit(page_size - len(rows)).offset(offset).dicts())
        offset = max(0, offset - count)
    return SearchPage(text, load_results(rows), total, page, page_size, cap)


def load_results(rows):
    """Turn (person_id, household_id) rows into SearchResults with kepala and programmes."""
    hh_ids = {r["household_id"] for r in rows}
    person_ids = {r["person_id"] for r in rows if r["person_id"]}
    households = {h.id: h for h in Household.select().where(Household.id.in_(hh_ids))}
    persons = {p.id: p for p in Person.select().where(Person.id.in_(person_ids))}
    kepala = Person.kepala_names(hh_ids)
    programs = Household.programs_in_year(hh_ids, Period.latest_year())
    return [SearchResult(households[r["household_id"]], persons.get(r["person_id"]),
                         kepala.get(r["household_id"], ""), programs.get(r["household_id"], []))
            for r in rows]

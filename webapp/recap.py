"""Every recap figure of Rekap Bansos (design.md §5), as plain functions over the models.

The page, the .xlsx export, the print view, the WhatsApp text and `flask recap` all call `build()`
and read the same `Recap`, so their numbers can never disagree. Every number carries the `Drill`
that names the rows behind it; `drill_query()` turns it into a Peewee query with the same filters,
so the count of a list equals the number clicked.

Speed (perf.md §4): besides a few one-row lookups, the recap is three aggregate statements, each
compiled once per distinct scope. One reads the counted disbursement rows in the order of a
covering index and groups them by period × status × channel × reason. One gives every household
with counted rows a bit mask of the periods it received in, then groups households by wilayah,
desil and mask (recipients) or by wilayah and desil (everyone), summing each household's stored
count of living members (household.jiwa, kept by triggers). The third reads unpaid rows per RT by
seeks into the (period, status) index. Python adds up the few hundred to few thousand grouped rows.
KK stays exact because every household is counted once per group; jiwa because members are counted
per household, never per row. The SQL is portable (CASE, bit operators, CTEs); only the plans were
tuned on SQLite.

The household statement is the costly one, and it reads no status: its result is remembered while
the database's membership token stands (webapp/db.py), so after a status change, the everyday
write, only the other two statements run again.
"""
import dataclasses
import functools
from dataclasses import dataclass
from dataclasses import field

from flask import current_app
from flask import has_app_context
from peewee import JOIN
from peewee import SQL
from peewee import Case
from peewee import Expression
from peewee import Select
from peewee import Value
from peewee import fn

from . import cache
from . import db as database
from .formatting import angka
from .formatting import kode_wilayah
from .formatting import rupiah
from .formatting import waktu
from .models import CHANNELS
from .models import KEBERADAAN_JIWA
from .models import LABELS
from .models import REASONS
from .models import STATUSES
from .models import Desa
from .models import Disbursement
from .models import Household
from .models import ImportBatch
from .models import Period
from .models import Person
from .models import Program
from .models import utcnow

STATUS_KEYS = tuple(key for key, _ in STATUSES)
CHANNEL_KEYS = tuple(key for key, _ in CHANNELS)
REASON_KEYS = tuple(key for key, _ in REASONS)
NOT_PAID = ("belum", "tidak_cair")
LISTS = ("penyaluran", "kk", "jiwa")
DEFAULT_NO_AID_DESIL_MAX = 5
# Periods per mask column: SQLite and PostgreSQL integers hold 63 bits besides the sign.
MASK_BITS = 62


class ScopeError(ValueError):
    """A filter naming a programme, period, channel or list that does not exist (message in Indonesian)."""


def _values(args, key):
    """All values of a query argument, from a MultiDict or a plain dict."""
    if hasattr(args, "getlist"):
        values = args.getlist(key)
    else:
        value = args.get(key)
        values = list(value) if isinstance(value, (list, tuple)) else [value]
    return [str(v).strip() for v in values if v is not None and str(v).strip()]


def _value(args, key):
    """The single value of a query argument, or None."""
    values = _values(args, key)
    return values[0] if values else None


def _integer(text, what):
    """Parse a whole number from a query argument."""
    try:
        return int(text)
    except ValueError:
        raise ScopeError(f"{what} harus berupa angka: {text!r}") from None


def _choice(text, keys, what):
    """Check a query argument against a list of known keys."""
    if text is not None and text not in keys:
        raise ScopeError(f"{what} tidak dikenal: {text!r}")
    return text


@dataclass(frozen=True)
class Scope:
    """What the user chose: programmes, periods (or a year), channel and dusun; empty means all."""

    programs: tuple = ()
    periods: tuple = ()
    year: int | None = None
    channel: str | None = None
    dusun: str | None = None

    @classmethod
    def from_args(cls, args):
        """Read the filters of a URL query (`program`, `period` repeated; `year`, `channel`, `dusun`)."""
        year = _value(args, "year")
        return cls(
            programs=tuple(dict.fromkeys(code.upper() for code in _values(args, "program"))),
            periods=tuple(dict.fromkeys(_integer(p, "Periode") for p in _values(args, "period"))),
            year=_integer(year, "Tahun") if year else None,
            channel=_choice(_value(args, "channel"), CHANNEL_KEYS, "Jalur"),
            dusun=_value(args, "dusun"),
        )

    def args(self):
        """The filters as URL query arguments, empty ones left out."""
        args = {"program": list(self.programs), "period": list(self.periods), "year": self.year,
                "channel": self.channel, "dusun": self.dusun}
        return {key: value for key, value in args.items() if value not in (None, [], "")}


@dataclass
class AppliedScope:
    """A Scope applied to the data: the programmes and periods it covers and the no-aid ceiling."""

    scope: Scope
    desa: Desa
    year: int | None
    programs: list
    periods: list
    channel: str | None
    dusun: str | None
    desil_max: int
    households_excluded: bool = True
    persons_deleted: bool = True

    @property
    def period_ids(self):
        """Ids of the periods in scope."""
        return [p.id for p in self.periods]

    def key(self):
        """Everything the recap's SQL depends on, as a hashable value."""
        return (self.desa.id, tuple((p.id, p.program.code) for p in self.periods),
                tuple((p.code, p.sasaran) for p in self.programs), self.channel, self.dusun, self.desil_max,
                self.households_excluded, self.persons_deleted)

    def periods_of(self, code):
        """Ids of the scope's periods of one programme."""
        return [p.id for p in self.periods if p.program.code == code]

    def text(self):
        """The scope in one Indonesian sentence, as printed on every recap."""
        if self.scope.periods:
            when = "periode " + ", ".join(f"{p.program.code} {p.label}" for p in self.periods)
        elif self.year is not None:
            when = f"tahun {self.year}"
        else:
            when = "belum ada periode penyaluran"
        if self.scope.programs:
            what = "program " + ", ".join(p.code for p in self.programs)
        else:
            what = "semua program aktif"
        channel = f"jalur {LABELS['channel'][self.channel]}" if self.channel else "semua jalur"
        place = f"Dusun {self.dusun}" if self.dusun else "seluruh desa"
        count = f" ({len(self.periods)} periode)" if self.periods and not self.scope.periods else ""
        return f"{what[0].upper()}{what[1:]}, {when}{count}, {channel}, {place}."


def default_desil_max():
    """The no-aid desil ceiling from the app settings (NO_AID_DESIL_MAX), else 5."""
    if has_app_context():
        return int(current_app.config.get("NO_AID_DESIL_MAX", DEFAULT_NO_AID_DESIL_MAX))
    return DEFAULT_NO_AID_DESIL_MAX


def latest_year(programs):
    """The most recent year in which one of these programmes has disbursements, or None."""
    has_rows = fn.EXISTS(Disbursement.select(SQL("1")).where(
        (Disbursement.period == Period.id) & Disbursement.deleted_at.is_null()))
    return Period.select(fn.MAX(Period.year)).where(Period.program.in_(programs) & has_rows).scalar()


def period_ids_for_labels(labels, programs=(), year=None):
    """Ids of the periods with these labels (e.g. "Tahap 2 2026"), within some programmes and a year."""
    query = Period.select(Period.id, Period.label).join(Program).where(Period.label.in_(list(labels)))
    if programs:
        query = query.where(Program.code.in_(list(programs)))
    if year is not None:
        query = query.where(Period.year == year)
    found = list(query.order_by(Program.id, Period.id))
    missing = [label for label in labels if label not in {p.label for p in found}]
    if missing:
        raise ScopeError("Periode tidak ditemukan: " + ", ".join(missing))
    return tuple(p.id for p in found)


def resolve(scope=None, desil_max=None):
    """Apply a Scope: chosen programmes (default: every active one) and periods (default: the latest year)."""
    scope = scope or Scope()
    if scope.programs:
        found = {p.code: p for p in Program.select().where(Program.code.in_(scope.programs))}
        unknown = [code for code in scope.programs if code not in found]
        if unknown:
            raise ScopeError("Program tidak dikenal: " + ", ".join(unknown))
        candidates = sorted(found.values(), key=lambda p: p.id)
    else:
        candidates = list(Program.ordered())
    periods = (Period.select(Period, Program).join(Program)
               .where(Period.program.in_([p.id for p in candidates]))
               .order_by(Program.id, Period.year, Period.start_date.asc(nulls="LAST"), Period.label))
    year = None
    if scope.periods:
        periods = list(periods.where(Period.id.in_(scope.periods)))
        missing = set(scope.periods) - {p.id for p in periods}
        if missing:
            raise ScopeError("Periode tidak ditemukan: " + ", ".join(map(str, sorted(missing))))
    else:
        year = scope.year if scope.year is not None else latest_year([p.id for p in candidates])
        periods = list(periods.where(Period.year == year)) if year is not None else []
    in_scope = {p.program_id for p in periods}
    programs = candidates if scope.programs else [p for p in candidates if p.id in in_scope]
    # Where nothing is soft-deleted and there is one desa, "not deleted" and "this desa" are no-ops on
    # disbursement rows: leaving them out keeps the row scans to their covering index.
    return AppliedScope(scope=scope, desa=Desa.current(), year=year, programs=programs, periods=periods,
                        channel=scope.channel, dusun=scope.dusun, desil_max=desil_max or default_desil_max(),
                        households_excluded=_deleted(Household).exists() or Desa.select().count() > 1,
                        persons_deleted=_deleted(Person).exists())


DRILL_FIELDS = ("daftar", "program", "period", "status", "channel", "reason", "menerima", "tanpa", "desil",
                "dusun", "rw", "rt")


@dataclass(slots=True)
class Drill:
    """The list behind one number: disbursement rows (`penyaluran`), households (`kk`) or persons (`jiwa`).

    The other fields narrow that list inside the scope: a programme or period, statuses, a channel, a
    reason, receiving anything in scope or not (`menerima`), not receiving a programme (`tanpa`), a
    desil ("3", "1-5", "none") and a wilayah (dusun, RW, RT).
    """

    daftar: str = "kk"
    program: str | None = None
    period: int | None = None
    status: tuple = ()
    channel: str | None = None
    reason: str | None = None
    menerima: bool | None = None
    tanpa: str | None = None
    desil: str | None = None
    dusun: str | None = None
    rw: str | None = None
    rt: str | None = None

    def narrow(self, **changes):
        """The same list with some filters set (the list kind included, as `daftar`)."""
        values = {name: getattr(self, name) for name in DRILL_FIELDS}
        values.update(changes)
        return Drill(**values)

    def args(self):
        """The drill as URL query arguments (prefixed `d_` so they never clash with the scope's)."""
        menerima = {True: "ya", False: "tidak"}.get(self.menerima)
        args = {"daftar": self.daftar, "d_program": self.program, "d_period": self.period,
                "d_status": list(self.status), "d_channel": self.channel, "d_reason": self.reason,
                "d_menerima": menerima, "d_tanpa": self.tanpa, "d_desil": self.desil,
                "d_dusun": self.dusun, "d_rw": self.rw, "d_rt": self.rt}
        return {key: value for key, value in args.items() if value not in (None, [], "")}

    @classmethod
    def from_args(cls, args):
        """Read a drill from URL query arguments (the inverse of args())."""
        period = _value(args, "d_period")
        menerima = _choice(_value(args, "d_menerima"), ("ya", "tidak"), "Pilihan menerima")
        desil = _value(args, "d_desil")
        if desil is not None:
            desil_range(desil)
        return cls(
            daftar=_choice(_value(args, "daftar") or "kk", LISTS, "Daftar"),
            program=(_value(args, "d_program") or "").upper() or None,
            period=_integer(period, "Periode") if period else None,
            status=tuple(_choice(s, STATUS_KEYS, "Status") for s in _values(args, "d_status")),
            channel=_choice(_value(args, "d_channel"), CHANNEL_KEYS, "Jalur"),
            reason=_choice(_value(args, "d_reason"), REASON_KEYS, "Alasan"),
            menerima=None if menerima is None else menerima == "ya",
            tanpa=(_value(args, "d_tanpa") or "").upper() or None,
            desil=desil,
            dusun=_value(args, "d_dusun"), rw=_value(args, "d_rw"), rt=_value(args, "d_rt"),
        )


def desil_range(text):
    """'3' → (3, 3); '1-5' → (1, 5); 'none' → None (households without desil)."""
    if text == "none":
        return None
    low, _, high = text.partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise ScopeError(f"Desil tidak dikenal: {text!r}") from None
    if not 1 <= bounds[0] <= bounds[1] <= 10:
        raise ScopeError(f"Desil tidak dikenal: {text!r}")
    return bounds


class _Figure:
    """Two numbers with the list behind them: a base Drill plus the filters narrowing it, applied only
    when a link is asked for (a kecamatan-sized recap holds tens of thousands of numbers, few clicked)."""

    __slots__ = ("_base", "_narrow")
    NAMES = ()
    DAFTAR = None

    def __repr__(self):
        """Count(kk=…, jiwa=…) or Money(n=…, rupiah=…)."""
        values = ", ".join(f"{name}={getattr(self, name)}" for name in self.NAMES)
        return f"{type(self).__name__}({values})"

    @property
    def drill(self):
        """The filters behind both numbers."""
        changes = {**({"daftar": self.DAFTAR} if self.DAFTAR else {}), **(self._narrow or {})}
        return self._base.narrow(**changes) if changes else self._base


class Count(_Figure):
    """A number of families (KK) and of persons (jiwa), never added together, with the lists behind them."""

    __slots__ = ("kk", "jiwa")
    NAMES = ("kk", "jiwa")

    # Spelled out rather than looped over NAMES: a kecamatan recap makes some 16,000 figures.
    def __init__(self, base, narrow=None, kk=0, jiwa=0):
        """Both numbers, with their base drill and the filters that narrow it."""
        self._base, self._narrow, self.kk, self.jiwa = base, narrow, kk, jiwa

    def add(self, kk, jiwa):
        """Add to both numbers."""
        self.kk += kk
        self.jiwa += jiwa

    @property
    def kk_drill(self):
        """The household list behind `kk`."""
        return self.drill.narrow(daftar="kk")

    @property
    def jiwa_drill(self):
        """The person list behind `jiwa`."""
        return self.drill.narrow(daftar="jiwa")


class Money(_Figure):
    """A number of disbursement rows and their rupiah, with the rows behind them."""

    __slots__ = ("n", "rupiah")
    NAMES = ("n", "rupiah")
    DAFTAR = "penyaluran"

    def __init__(self, base, narrow=None, n=0, rupiah=0):
        """Both numbers, with their base drill and the filters that narrow it."""
        self._base, self._narrow, self.n, self.rupiah = base, narrow, n, rupiah

    def add(self, n, rupiah):
        """Add to both numbers."""
        self.n += n
        self.rupiah += rupiah


def _money_by(keys, base, narrow, attribute):
    """{key: Money} for each key, drilling into that key as well."""
    return {key: Money(base, {**narrow, attribute: (key,) if attribute == "status" else key}) for key in keys}


@dataclass
class Rows:
    """Disbursement rows of one list: all, by status, by channel, and rupiah not (yet) paid."""

    total: Money
    status: dict
    channel: dict
    tidak_tersalur: Money

    @classmethod
    def empty(cls, base, **narrow):
        """Zero rows, with their drills."""
        return cls(total=Money(base, narrow), status=_money_by(STATUS_KEYS, base, narrow, "status"),
                   channel=_money_by(CHANNEL_KEYS, base, narrow, "channel"),
                   tidak_tersalur=Money(base, {**narrow, "status": NOT_PAID}))

    def add(self, status, channel, n, amount):
        """Count rows of one status and channel."""
        self.total.add(n, amount)
        self.status[status].add(n, amount)
        self.channel[channel].add(n, amount)
        if status in NOT_PAID:
            self.tidak_tersalur.add(n, amount)


@dataclass
class PeriodFigures:
    """One period of a programme: recipients in KK and jiwa, and its rows by status and channel."""

    period: Period
    penerima: Count
    rows: Rows


@dataclass
class ProgramFigures:
    """One programme over the scope's periods, with inclusion and exclusion against its desil ceiling."""

    program: Program
    penerima: Count
    rows: Rows
    periods: list
    inklusi: Count | None
    eksklusi: Count | None


@dataclass
class DesilRow:
    """Households of one desil (None: belum ada desil) receiving something in scope, and not."""

    desil: int | None
    menerima: Count
    tidak_menerima: Count

    @property
    def label(self):
        """'Desil 3' or 'Belum ada desil'."""
        return f"Desil {self.desil}" if self.desil is not None else "Belum ada desil"


@dataclass
class StatusFigures:
    """Rows of one status: the total, by reason (tidak cair only) and by channel."""

    status: str
    total: Money
    by_reason: dict
    by_channel: dict


@dataclass
class Totals:
    """Families and persons in the data, by desil band, and those receiving anything in scope."""

    data: Count
    desil_1_4: Count
    desil_1_max: Count
    tanpa_desil: Count
    menerima: Count


AREA_COUNTS = ("total", "desil_1_4", "desil_1_max", "menerima", "no_aid")


@dataclass
class Area:
    """The key figures of one dusun, RW or RT, with the areas inside it."""

    level: str
    dusun: str
    rw: str | None
    rt: str | None
    total: Count
    desil_1_4: Count
    desil_1_max: Count
    menerima: Count
    no_aid: Count
    programs: dict
    tidak_cair: Money
    belum: Money
    inner: object = field(default=(), repr=False, compare=False)

    @functools.cached_property
    def children(self):
        """The areas inside it: a dusun's RWs, an RW's RTs. A dusun builds them when first asked: the
        recap page shows dusun rows and loads the RW and RT rows of one when it is opened."""
        return list(self.inner() if callable(self.inner) else self.inner)

    @property
    def name(self):
        """'Dusun Babakan', 'RW 003' or 'RT 002'."""
        return {"dusun": f"Dusun {self.dusun}", "rw": f"RW {self.rw}", "rt": f"RT {self.rt}"}[self.level]


@dataclass
class Recap:
    """Every figure of one recap, with its desa, scope, DTSEN version, definitions and time."""

    desa: Desa
    scope: AppliedScope
    dtsen_version: str | None
    generated_at: object
    totals: Totals
    programs: list
    desil: list
    no_aid: Count
    cair: StatusFigures
    belum: StatusFigures
    tidak_cair: StatusFigures
    wilayah: list
    definitions: list

    @property
    def periods(self):
        """Every period row of every programme, in table order."""
        return [row for program in self.programs for row in program.periods]


def _deleted(model):
    """Ids of soft-deleted rows of a model (a small set, read through its partial deleted_at index)."""
    return model.select(model.id).where(model.deleted_at.is_null(False))


def _counted_rows(applied, table, period_ids):
    """Conditions for disbursement rows that count: not deleted, in the periods and channel, person not deleted."""
    condition = table.deleted_at.is_null() & table.period.in_(period_ids)
    if applied.persons_deleted:
        condition &= table.person.is_null() | table.person.not_in(_deleted(Person))
    if applied.channel:
        condition &= table.channel == applied.channel
    return condition


def _household_filter(applied, household):
    """Conditions for households that count: the recap's desa, not deleted, in the scope's dusun."""
    condition = (household.desa == applied.desa.id) & household.deleted_at.is_null()
    if applied.dusun:
        condition &= household.dusun == applied.dusun
    return condition


def _count_if(condition, value=1):
    """SUM(CASE WHEN condition THEN value ELSE 0 END)."""
    return fn.SUM(Case(None, [(condition, value)], 0))


def _int(value):
    """SUM() over no rows is NULL: count it as 0."""
    return int(value or 0)


def _row_groups(applied):
    """(period, status, channel, reason, rows, persons, rupiah) of the counted rows, read in index order."""
    if not applied.periods:
        return []
    d = Disbursement

    def build():
        """The statement, built only when this scope has not been compiled yet."""
        condition = _counted_rows(applied, d, applied.period_ids)
        if applied.dusun:
            condition &= d.household.in_(Household.select(Household.id).where(
                _household_filter(applied, Household)))
        elif applied.households_excluded:
            condition &= d.household.not_in(Household.select(Household.id).where(
                Household.deleted_at.is_null(False) | (Household.desa != applied.desa.id)))
        return (d.select(d.period, d.status, d.channel, d.reason, fn.COUNT(SQL("*")), fn.COUNT(d.person),
                         fn.SUM(d.amount))
                .where(condition).group_by(d.period, d.status, d.channel, d.reason))

    return [(period, status, channel, reason, n, persons, _int(amount))
            for period, status, channel, reason, n, persons, amount in _execute(("rows", applied.key()), build)]


@dataclass
class _Layout:
    """Where each period sits in the bit masks, and each programme's bits.

    Periods are grouped into windows of MASK_BITS consecutive ids; a period's bit is 1 << (id - window
    start), a shift SQL computes more cheaply than a CASE over every period. A year's periods usually
    share one window, so there is usually one mask column.
    """

    chunks: list
    bits: dict
    jiwa_programs: list
    program_masks: dict

    @classmethod
    def of(cls, applied):
        """Lay the scope's periods out over mask columns."""
        chunks = []
        for pid in sorted(applied.period_ids):
            if not chunks or pid - chunks[-1][0] >= MASK_BITS:
                chunks.append([pid])
            else:
                chunks[-1].append(pid)
        bits = {pid: (i, 1 << (pid - chunk[0])) for i, chunk in enumerate(chunks) for pid in chunk}
        program_masks = {}
        for period in applied.periods:
            masks = program_masks.setdefault(period.program.code, [0] * len(chunks))
            chunk, bit = bits[period.id]
            masks[chunk] |= bit
        jiwa_programs = [p.code for p in applied.programs if p.sasaran == "jiwa" and p.code in program_masks]
        return cls(chunks, bits, jiwa_programs, program_masks)

    def has(self, masks, code):
        """True when a group's masks include a period of the programme."""
        return any(m & pm for m, pm in zip(masks, self.program_masks.get(code, ())))


MONEY_COLUMNS = ("tc_n", "tc_rp", "bl_n", "bl_rp")


def _recipients(applied, layout):
    """CTE `x`: per household with counted rows, the bit masks of its periods and, per jiwa programme, its persons."""
    d = Disbursement.alias("d")
    columns = [d.household.alias("household_id")]
    for i, chunk in enumerate(layout.chunks):
        bit = Expression(Value(1), "<<", d.period - chunk[0])
        if len(layout.chunks) > 1:
            bit = Case(None, [(d.period.between(chunk[0], chunk[-1]), bit)])
        columns.append(fn.SUM(bit.distinct()).cast("BIGINT").alias(f"mask_{i}"))
    for i, code in enumerate(layout.jiwa_programs):
        periods = applied.periods_of(code)
        person = Case(None, [(d.period.in_(periods), d.person)])
        # (period, person) is unique among active rows, so within one period no DISTINCT is needed.
        columns.append(fn.COUNT(person.distinct() if len(periods) > 1 else person).alias(f"np_{i}"))
    return d.select(*columns).where(_counted_rows(applied, d, applied.period_ids)).group_by(d.household).cte("x")


def _unpaid_by_area(applied):
    """{(dusun, rw, rt): [tidak cair rows, rupiah, belum rows, rupiah]} of the counted rows not (yet) paid.

    Few rows are unpaid: grouped per household first, they are read by seeks into the (period, status, …)
    covering index; only then joined to their households' wilayah."""
    if not applied.periods:
        return {}

    def build():
        """The statement, built only when this scope has not been compiled yet."""
        d, h = Disbursement.alias("u_d"), Household
        u = (d.select(d.status, d.household.alias("household_id"), fn.COUNT(SQL("*")).alias("n"),
                      fn.SUM(d.amount).alias("rp"))
             .where(_counted_rows(applied, d, applied.period_ids) & d.status.in_(NOT_PAID))
             .group_by(d.status, d.household).cte("u"))
        unpaid = [value for status in ("tidak_cair", "belum")
                  for value in (_count_if(u.c.status == status, u.c.n), _count_if(u.c.status == status, u.c.rp))]
        return (Select((u.join(h, on=(h.id == u.c.household_id)),), [h.dusun, h.rw, h.rt, *unpaid])
                .where(_household_filter(applied, h)).group_by(h.dusun, h.rw, h.rt).with_cte(u)
                .bind(database.db))

    return {(dusun, rw, rt): [_int(v) for v in values]
            for dusun, rw, rt, *values in _execute(("unpaid", applied.key()), build)}


class _Arms:
    """UNION ALL arms sharing one column list: a tag, dusun, RW, RT, desil, the masks, then values."""

    def __init__(self, masks, width):
        """Arms with these mask columns and this many value columns."""
        self.masks, self.width, self.arms = masks, width, []

    def add(self, tag, source, keys, values, group_by, where=None):
        """Add an arm; keys maps 'dusun', 'rw', 'rt', 'desil', 'masks' to columns, the rest are NULL."""
        null = SQL("NULL")
        columns = [SQL(f"'{tag}'")] + [keys.get(name, null) for name in ("dusun", "rw", "rt", "desil")]
        columns += keys.get("masks", [null] * len(self.masks)) + values + [null] * (self.width - len(values))
        arm = Select((source,), columns)
        self.arms.append((arm.where(where) if where is not None else arm).group_by(*group_by))

    def query(self, ctes):
        """All arms as one statement."""
        query = self.arms[0]
        for arm in self.arms[1:]:
            query = query.union_all(arm)
        return query.with_cte(*ctes).bind(database.db)

    @staticmethod
    def split(rows, n_masks):
        """Yield (tag, dusun, rw, rt, desil, masks, values) from the statement's rows."""
        first = 5 + n_masks
        for row in rows:
            yield (row[0], row[1], row[2], row[3], row[4], tuple(_int(m) for m in row[5:first]),
                   [_int(v) for v in row[first:]])


_compiled = {}
COMPILED_MAX = 64


def _execute(key, build):
    """Run a statement, compiling it once per distinct scope: for a village, building the Peewee
    query costs more than SQLite takes to run it. The key names everything the SQL depends on."""
    compiled = _compiled.get(key)
    if compiled is None:
        if len(_compiled) >= COMPILED_MAX:
            _compiled.pop(next(iter(_compiled)))
        compiled = _compiled[key] = build().sql()
    return database.db.execute_sql(*compiled).fetchall()


def _household_query(applied, layout):
    """One statement: all households per RT and desil, recipients per RT, desil and masks.

    `x` gives each household with counted rows its period masks; `r` adds their wilayah, desil and
    stored jiwa; `t` groups every household. Those receiving nothing are `t` less `r` (Python
    subtracts them): reading `x` once is a fifth cheaper than excluding it from `t` in SQL. Every
    active household is in `t` once and in `r` at most once, so KK and jiwa stay exact whatever is
    added up later.
    """
    h = Household
    keys = [h.dusun, h.rw, h.rt, h.desil]
    mask_names = [f"mask_{i}" for i in range(len(layout.chunks))]
    np_names = [f"np_{i}" for i in range(len(layout.jiwa_programs))]
    bands = ((1, 4), (1, applied.desil_max))
    recv_width = 6 + 2 * len(applied.programs)
    arms = _Arms(mask_names, recv_width + len(np_names))
    t = (h.select(*keys, fn.COUNT(SQL("*")).alias("kk"), fn.SUM(h.jiwa).alias("n"))
         .where(_household_filter(applied, h)).group_by(*keys).cte("t", materialized=True))
    ctes = [t]

    def by_band(c):
        """KK and jiwa of desil 1–4 and desil 1–N, as conditional sums over a grouped CTE."""
        return [value for low, high in bands
                for value in (_count_if(c.desil.between(low, high), c.kk), _count_if(c.desil.between(low, high), c.n))]

    c = t.c
    arms.add("tw", t, {"dusun": c.dusun, "rw": c.rw, "rt": c.rt}, [fn.SUM(c.kk), fn.SUM(c.n), *by_band(c)],
             [c.dusun, c.rw, c.rt])
    arms.add("td", t, {"desil": c.desil}, [fn.SUM(c.kk), fn.SUM(c.n)], [c.desil])
    if layout.chunks:
        x = _recipients(applied, layout)
        # One row per recipient household (kk = 1): grouping here by RT and mask as well would only
        # group again below, and costs more than it saves (18 ms of 115 at kecamatan scale).
        r = (h.select(*keys, *[getattr(x.c, name) for name in mask_names], SQL("1").alias("kk"),
                      h.jiwa.alias("n"), *[getattr(x.c, name).alias(name) for name in np_names])
             .join(x, on=(x.c.household_id == h.id))
             .where(_household_filter(applied, h)).cte("r", materialized=True))
        ctes += [x, r]
        c = r.c
        masks = [getattr(c, name) for name in mask_names]
        nps = [getattr(c, name) for name in np_names]
        values = [fn.SUM(c.kk), fn.SUM(c.n), *by_band(c)]
        for program in applied.programs:
            in_program = None
            for mask, program_mask in zip(masks, layout.program_masks.get(program.code, ())):
                if program_mask:
                    term = mask.bin_and(program_mask) != 0
                    in_program = term if in_program is None else (in_program | term)
            if in_program is None:
                values += [SQL("0"), SQL("0")]
            elif program.sasaran == "jiwa":
                values += [_count_if(in_program, c.kk), fn.SUM(nps[layout.jiwa_programs.index(program.code)])]
            else:
                values += [_count_if(in_program, c.kk), _count_if(in_program, c.n)]
        arms.add("rw", r, {"dusun": c.dusun, "rw": c.rw, "rt": c.rt}, values, [c.dusun, c.rw, c.rt])
        arms.add("rd", r, {"desil": c.desil, "masks": masks}, [fn.SUM(c.kk), fn.SUM(c.n), *map(fn.SUM, nps)],
                 [c.desil, *masks])
    return arms.query(ctes)


def _household_statement(applied, layout):
    """(area parts per RT, desil groups) from the household statement.

    Remembered while the membership token stands (webapp/db.py): a status change leaves these figures
    as they are, so the recap after it reads only the few statements about rows and money."""

    def run():
        """Run the statement and sort its rows into areas and desil groups (tuples: the value is shared)."""
        rows = _execute(("households", applied.key()), lambda: _household_query(applied, layout))
        n_np = len(layout.jiwa_programs)
        recv_width = 6 + 2 * len(applied.programs)
        areas, groups, left = {}, [], {}
        for tag, dusun, rw, rt, desil, masks, values in _Arms.split(rows, len(layout.chunks)):
            if tag == "tw":
                areas.setdefault((dusun, rw, rt), {})["t"] = tuple(values[:6])
            elif tag == "rw":
                areas.setdefault((dusun, rw, rt), {})["r"] = tuple(values[:recv_width])
            else:
                if tag == "rd":
                    groups.append((desil, masks, tuple(values[:2 + n_np])))
                sign = 1 if tag == "td" else -1
                kk, jiwa = left.get(desil, (0, 0))
                left[desil] = (kk + sign * values[0], jiwa + sign * values[1])
        zeros = tuple(0 for _ in layout.chunks)
        # Each desil less its recipients: the households receiving nothing.
        groups += [(desil, zeros, (kk, jiwa) + (0,) * n_np) for desil, (kk, jiwa) in left.items() if kk]
        return areas, groups

    return cache.remember(("recap-households", applied.key()), run, database.membership_token)


def _area_rows(applied, areas, unpaid):
    """[(dusun, rw, rt, values)] per RT, in the order _area reads them."""
    recv_width = 6 + 2 * len(applied.programs)
    rows = []
    for key in areas.keys() | unpaid.keys():
        parts = areas.get(key, {})
        everyone = parts.get("t", (0,) * 6)
        recv = parts.get("r", (0,) * recv_width)
        # All, desil 1–4, desil 1–N (KK, jiwa each); receiving; desil 1–N receiving nothing; unpaid; programmes.
        rows.append((*key, [*everyone, *recv[:2], everyone[4] - recv[4], everyone[5] - recv[5],
                            *unpaid.get(key, (0,) * len(MONEY_COLUMNS)), *recv[6:]]))
    return rows


def build(scope=None, desil_max=None, now=None):
    """The whole recap for a scope: every figure, the desa, the DTSEN version, definitions and time.

    Remembered until the next commit to the database (webapp/cache.py): the kecamatan phones, the
    operator opens the recap, and the second look costs nothing. The scope is resolved inside the
    computation, so the programmes and periods it reads are never older than the version it is kept at."""
    scope, desil_max = scope or Scope(), desil_max or default_desil_max()
    if now is not None:
        return compute(resolve(scope, desil_max), now)
    return cache.remember(("recap", scope, desil_max), lambda: compute(resolve(scope, desil_max), None))


def compute(applied, now=None):
    """Every figure of an applied scope, straight from the database."""
    layout = _Layout.of(applied)
    areas, desil_rows = _household_statement(applied, layout)
    area_rows = _area_rows(applied, areas, _unpaid_by_area(applied))
    row_groups = _row_groups(applied)
    latest = ImportBatch.latest_dtsen()
    return Recap(
        desa=applied.desa, scope=applied,
        dtsen_version=(latest.version_label or latest.filename) if latest else None,
        generated_at=now or utcnow(),
        totals=_totals(applied, desil_rows),
        programs=_programs(applied, layout, desil_rows, row_groups),
        desil=_desil_table(desil_rows),
        no_aid=_no_aid(applied, desil_rows),
        cair=_status_figures("cair", row_groups),
        belum=_status_figures("belum", row_groups),
        tidak_cair=_status_figures("tidak_cair", row_groups),
        wilayah=_wilayah(applied, area_rows),
        definitions=definitions(applied),
    )


def _in_band(desil, low, high):
    """True when a desil lies in [low, high]; low None selects households without desil."""
    if low is None:
        return desil is None
    return desil is not None and low <= desil <= high


def _totals(applied, desil_rows):
    """Families and persons in the data, by desil band, and those receiving anything in scope."""
    n = applied.desil_max
    base = Drill()
    totals = Totals(data=Count(base), desil_1_4=Count(base, {"desil": "1-4"}),
                    desil_1_max=Count(base, {"desil": f"1-{n}"}), tanpa_desil=Count(base, {"desil": "none"}),
                    menerima=Count(base, {"menerima": True}))
    bands = ((totals.desil_1_4, 1, 4), (totals.desil_1_max, 1, n), (totals.tanpa_desil, None, None))
    for desil, masks, (kk, jiwa, *_) in desil_rows:
        totals.data.add(kk, jiwa)
        if any(masks):
            totals.menerima.add(kk, jiwa)
        for count, low, high in bands:
            if _in_band(desil, low, high):
                count.add(kk, jiwa)
    return totals


def _desil_table(desil_rows):
    """Desil 1…10 and 'belum ada desil' × receiving something in scope or not, in KK and jiwa."""
    base = Drill()
    table = {}
    for desil in [*range(1, 11), None]:
        key = str(desil) if desil is not None else "none"
        table[desil] = DesilRow(desil, Count(base, {"desil": key, "menerima": True}),
                                Count(base, {"desil": key, "menerima": False}))
    for desil, masks, (kk, jiwa, *_) in desil_rows:
        row = table[desil]
        (row.menerima if any(masks) else row.tidak_menerima).add(kk, jiwa)
    return list(table.values())


def _no_aid(applied, desil_rows):
    """KK desil 1..N with no disbursement row in scope, in KK and jiwa."""
    n = applied.desil_max
    count = Count(Drill(), {"desil": f"1-{n}", "menerima": False})
    for desil, masks, (kk, jiwa, *_) in desil_rows:
        if _in_band(desil, 1, n) and not any(masks):
            count.add(kk, jiwa)
    return count


def _programs(applied, layout, desil_rows, row_groups):
    """Per programme and per period: recipients, rows by status and channel, inclusion and exclusion."""
    base = Drill()
    by_period = {}
    for period_id, status, channel, _, n, persons, amount in row_groups:
        by_period.setdefault(period_id, []).append((status, channel, n, persons, amount))
    result = []
    for program in applied.programs:
        code, ceiling = program.code, program.desil_max
        is_jiwa = program.sasaran == "jiwa"
        np_at = 2 + layout.jiwa_programs.index(code) if code in layout.jiwa_programs else None
        penerima = Count(base, {"program": code})
        rows = Rows.empty(base, program=code)
        periods = []
        for period in (p for p in applied.periods if p.program_id == program.id):
            chunk, bit = layout.bits[period.id]
            count = Count(base, {"period": period.id})
            for _, masks, values in desil_rows:
                if masks[chunk] & bit:
                    count.add(values[0], 0 if is_jiwa else values[1])
            period_rows = Rows.empty(base, period=period.id)
            for status, channel, n, persons, amount in by_period.get(period.id, []):
                period_rows.add(status, channel, n, amount)
                rows.add(status, channel, n, amount)
                if is_jiwa:
                    # (period, person) is unique among active rows: the rows with a person are the persons.
                    count.jiwa += persons
            periods.append(PeriodFigures(period, count, period_rows))
        has_ceiling = ceiling is not None
        inklusi = Count(base, {"program": code, "desil": f"{ceiling + 1}-10"}) if has_ceiling and ceiling < 10 else None
        eksklusi = Count(base, {"tanpa": code, "desil": f"1-{ceiling}"}) if has_ceiling else None
        for desil, masks, values in desil_rows:
            kk, living = values[0], values[1]
            if layout.has(masks, code):
                jiwa = values[np_at] if is_jiwa else living
                penerima.add(kk, jiwa)
                if inklusi is not None and desil is not None and desil > ceiling:
                    inklusi.add(kk, jiwa)
            elif eksklusi is not None and _in_band(desil, 1, ceiling):
                eksklusi.add(kk, living)
        result.append(ProgramFigures(program, penerima, rows, periods, inklusi, eksklusi))
    return result


def _status_figures(status, row_groups):
    """Rows of one status over the scope: count and rupiah, by reason (tidak cair) and by channel."""
    base, narrow = Drill(), {"status": (status,)}
    figures = StatusFigures(status, Money(base, narrow),
                            _money_by(REASON_KEYS, base, narrow, "reason") if status == "tidak_cair" else {},
                            _money_by(CHANNEL_KEYS, base, narrow, "channel"))
    for _, row_status, channel, reason, n, _, amount in row_groups:
        if row_status == status:
            figures.total.add(n, amount)
            figures.by_channel[channel].add(n, amount)
            if status == "tidak_cair":
                figures.by_reason[reason].add(n, amount)
    return figures


def _area(narrowings, level, dusun, rw, rt, values):
    """An Area with its figures, each drilling into its wilayah."""
    place = Drill(dusun=dusun, rw=rw, rt=rt)
    counts = [Count(place, narrow, values[2 * i], values[2 * i + 1]) for i, narrow in enumerate(narrowings["counts"])]
    at = 2 * len(AREA_COUNTS) + len(MONEY_COLUMNS)
    programs = {code: Count(place, narrow, values[at + 2 * i], values[at + 2 * i + 1])
                for i, (code, narrow) in enumerate(narrowings["programs"])}
    money = 2 * len(AREA_COUNTS)
    return Area(level, dusun, rw, rt, *counts, programs,
                Money(place, narrowings["tidak_cair"], values[money], values[money + 1]),
                Money(place, narrowings["belum"], values[money + 2], values[money + 3]))


def _wilayah(applied, area_rows):
    """The key figures per dusun, RW within it and RT within that, sorted by name."""
    n = applied.desil_max
    narrowings = {
        "counts": [None, {"desil": "1-4"}, {"desil": f"1-{n}"}, {"menerima": True},
                   {"desil": f"1-{n}", "menerima": False}],
        "programs": [(p.code, {"program": p.code}) for p in applied.programs],
        "tidak_cair": {"status": ("tidak_cair",)},
        "belum": {"status": ("belum",)},
    }
    tree = {}
    for dusun, rw, rt, values in sorted(area_rows, key=lambda r: (r[0], r[1], r[2])):
        tree.setdefault(dusun, {}).setdefault(rw, []).append((rt, values))
    result = []
    for dusun, rws in tree.items():
        top = _area(narrowings, "dusun", dusun, None, None,
                    [sum(col) for col in zip(*(v for rts in rws.values() for _, v in rts))])
        top.inner = functools.partial(_rw_areas, narrowings, dusun, rws)
        result.append(top)
    return result


def _rw_areas(narrowings, dusun, rws):
    """The RW areas of one dusun, each with its RT areas."""
    children = []
    for rw, rts in rws.items():
        middle = _area(narrowings, "rw", dusun, rw, None, [sum(col) for col in zip(*(v for _, v in rts))])
        middle.inner = [_area(narrowings, "rt", dusun, rw, rt, values) for rt, values in rts]
        children.append(middle)
    return children


def definitions(applied):
    """The scope and the definitions every recap prints (design.md §5), in Indonesian."""
    n = applied.desil_max
    return [
        f"Cakupan: {applied.text()} Tanpa pilihan periode, cakupannya semua periode pada tahun terakhir "
        "yang ada penyalurannya; tanpa pilihan program, semua program aktif. Jalur dan dusun yang dipilih "
        "berlaku untuk semua angka.",
        "Jiwa: anggota keluarga yang tinggal bersama atau anggota baru. Anggota yang meninggal, pindah "
        "atau tidak ditemukan tetap ada di data tetapi tidak dihitung.",
        "Penerima (KK): keluarga yang punya baris penyaluran pada periode itu, apa pun statusnya. "
        "Penerima (jiwa): untuk program sasaran keluarga, jiwa dalam keluarga penerima; untuk program "
        "sasaran jiwa, orang yang tercatat sebagai penerima (termasuk yang sudah meninggal atau pindah, "
        "karena baris penyalurannya tetap ada). Kolom KK dan jiwa tidak pernah dijumlahkan.",
        "Menerima bantuan: keluarga yang punya setidaknya satu baris penyaluran dalam cakupan, termasuk "
        "program sasaran jiwa untuk salah satu anggotanya; jiwa-nya adalah jiwa dalam keluarga itu.",
        f"KK desil 1–{n} belum menerima bantuan: keluarga dengan desil 1 sampai {n} (batas ini diatur di "
        "pengaturan) yang tidak punya satu pun baris penyaluran dalam cakupan.",
        "Inklusi: penerima program yang desilnya di atas batas desil program. Eksklusi: keluarga dengan "
        "desil sampai batas itu yang tidak menerima program tersebut dalam cakupan. Keluarga yang belum "
        "ada desil tidak masuk keduanya.",
        "Tidak cair: baris penyaluran berstatus tidak cair, dengan alasannya. Belum cair dilaporkan "
        "terpisah, tidak dicampur. Rupiah adalah nilai yang tercatat pada baris penyaluran.",
        f"Hanya data Desa {applied.desa.nama} ({kode_wilayah(applied.desa.kode)}); keluarga, anggota dan "
        "penyaluran yang sudah dihapus tidak dihitung.",
    ]


def _place(household, drill):
    """Conditions for a drill's wilayah and desil on the household table."""
    condition = SQL("1 = 1")
    for name in ("dusun", "rw", "rt"):
        value = getattr(drill, name)
        if value is not None:
            condition &= getattr(household, name) == value
    if drill.desil is not None:
        bounds = desil_range(drill.desil)
        condition &= household.desil.is_null() if bounds is None else household.desil.between(*bounds)
    return condition


def _drill_periods(applied, drill):
    """The scope's period ids a drill looks at: one period, one programme's, or all."""
    ids = applied.periods_of(drill.program) if drill.program else applied.period_ids
    if drill.period is not None:
        ids = [drill.period] if drill.period in ids else []
    return ids


def _drill_rows(applied, drill, table, period_ids):
    """Conditions for the counted rows a drill looks at, in the given periods."""
    condition = _counted_rows(applied, table, period_ids)
    if drill.channel:
        condition &= table.channel == drill.channel
    if drill.daftar == "penyaluran" and drill.status:
        condition &= table.status.in_(drill.status)
    if drill.daftar == "penyaluran" and drill.reason:
        condition &= table.reason == drill.reason
    return condition


def _drill_program(applied, drill):
    """The programme a drill names directly or through its period, or None."""
    if drill.period is not None:
        return next((p.program for p in applied.periods if p.id == drill.period), None)
    return next((p for p in applied.programs if p.code == drill.program), None)


def drill_query(applied, drill):
    """The Peewee query of the rows behind a number: Disbursement, Household or Person rows, with their joins.

    `penyaluran` gives disbursement rows (with household, person, period, programme); `kk` gives
    households; `jiwa` gives living members of those households, except for a jiwa programme or
    period, where it gives the recipient persons themselves, once per household of their rows.
    """
    if isinstance(applied, Scope):
        applied = resolve(applied)
    households = _household_filter(applied, Household) & _place(Household, drill)
    if drill.daftar == "penyaluran":
        return (Disbursement.select(Disbursement, Household, Person, Period, Program)
                .join(Household, on=(Disbursement.household == Household.id))
                .switch(Disbursement).join(Person, JOIN.LEFT_OUTER, on=(Disbursement.person == Person.id))
                .switch(Disbursement).join(Period).join(Program)
                .where(_drill_rows(applied, drill, Disbursement, _drill_periods(applied, drill)) & households))
    rows = Disbursement.alias("r")
    program = _drill_program(applied, drill) if drill.program or drill.period is not None else None
    if drill.daftar == "jiwa" and program is not None and program.sasaran == "jiwa":
        pairs = (rows.select(rows.person, rows.household)
                 .join(Household, on=(rows.household == Household.id))
                 .where(_drill_rows(applied, drill, rows, _drill_periods(applied, drill))
                        & rows.person.is_null(False) & households)
                 .alias("pairs"))
        return (Person.select(Person, Household)
                .join(pairs, on=(pairs.c.person_id == Person.id))
                .switch(Person).join(Household, on=(Household.id == pairs.c.household_id))
                .distinct())
    query = Household.select().where(households)
    if drill.program or drill.period is not None:
        having = rows.select(rows.household).where(_drill_rows(applied, drill, rows, _drill_periods(applied, drill)))
        query = query.where(Household.id.in_(having))
    if drill.menerima is not None:
        receiving = rows.select(rows.household).where(_drill_rows(applied, drill, rows, applied.period_ids))
        query = query.where(Household.id.in_(receiving) if drill.menerima else Household.id.not_in(receiving))
    if drill.tanpa:
        having = rows.select(rows.household).where(_drill_rows(applied, drill, rows, applied.periods_of(drill.tanpa)))
        query = query.where(Household.id.not_in(having))
    if drill.daftar == "kk":
        return query
    return (Person.select(Person, Household).join(Household)
            .where(Person.deleted_at.is_null() & Person.keberadaan.in_(KEBERADAAN_JIWA)
                   & Person.household.in_(query.select(Household.id))))


WILAYAH_ORDER = (Household.dusun, Household.rw, Household.rt, Household.alamat, Household.no_kk)


@dataclass
class ListedHousehold:
    """A household on a printed list, with its members (kepala keluarga first)."""

    household: Household
    members: list

    @property
    def kepala(self):
        """The kepala keluarga's name, or the first member's."""
        heads = [m for m in self.members if m.hubungan == "kepala"] or self.members
        return heads[0].nama if heads else ""


def no_aid_list(applied):
    """The named list 'KK desil 1–N belum menerima bantuan': households with members, sorted by wilayah."""
    query = drill_query(applied, Drill(desil=f"1-{applied.desil_max}", menerima=False)).order_by(*WILAYAH_ORDER)
    households = list(query)
    members = {}
    order = Case(None, [(Person.hubungan == "kepala", 0), (Person.hubungan.in_(("suami", "istri")), 1)], 2)
    for person in (Person.select().where(Person.household.in_([h.id for h in households])
                                         & Person.deleted_at.is_null())
                   .order_by(Person.household, order, Person.tanggal_lahir, Person.id)):
        members.setdefault(person.household_id, []).append(person)
    return [ListedHousehold(h, members.get(h.id, [])) for h in households]


def tidak_cair_rows(applied):
    """The named list 'Penerima tidak cair': rows with reason and channel, sorted by wilayah and programme."""
    return (drill_query(applied, Drill("penyaluran", status=("tidak_cair",)))
            .order_by(*WILAYAH_ORDER, Program.id, Period.label, Person.nama))


def iter_figures(recap):
    """Every number of a recap with its drill: (path, value, drill), for tests and exports."""
    def walk(node, path):
        """Yield the figures inside one node of the recap."""
        if isinstance(node, Count):
            yield path + ("kk",), node.kk, node.kk_drill
            yield path + ("jiwa",), node.jiwa, node.jiwa_drill
        elif isinstance(node, Money):
            yield path + ("n",), node.n, node.drill
            yield path + ("rupiah",), node.rupiah, node.drill
        elif isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, path + (i,))
        elif dataclasses.is_dataclass(node) and not isinstance(node, (AppliedScope, Drill)):
            for f in dataclasses.fields(node):
                yield from walk(getattr(node, f.name), path + (f.name,))
            if isinstance(node, Area):  # built when asked for, so not a field
                yield from walk(node.children, path + ("children",))
    for name in ("totals", "programs", "desil", "no_aid", "cair", "belum", "tidak_cair", "wilayah"):
        yield from walk(getattr(recap, name), (name,))


def _count_json(count):
    """{kk, jiwa}."""
    return {"kk": count.kk, "jiwa": count.jiwa}


def _rows_json(rows):
    """status, channel and rupiah of a Rows, as in the --json structure."""
    return {
        "penyaluran": rows.total.n,
        "status": {key: money.n for key, money in rows.status.items()},
        "channel": {key: money.n for key, money in rows.channel.items()},
        "rupiah": {**{key: money.rupiah for key, money in rows.status.items()},
                   "total": rows.total.rupiah, "belum_tersalur": rows.tidak_tersalur.rupiah},
    }


def _area_json(area):
    """One dusun, RW or RT with its children."""
    data = {"level": area.level, "dusun": area.dusun, "rw": area.rw, "rt": area.rt,
            "kk": area.total.kk, "jiwa": area.total.jiwa,
            "desil_1_4": _count_json(area.desil_1_4), "desil_1_max": _count_json(area.desil_1_max),
            "menerima": _count_json(area.menerima), "no_aid": _count_json(area.no_aid),
            "programs": {code: _count_json(count) for code, count in area.programs.items()},
            "tidak_cair": {"n": area.tidak_cair.n, "rupiah": area.tidak_cair.rupiah},
            "belum": {"n": area.belum.n, "rupiah": area.belum.rupiah}}
    key = {"dusun": "rw", "rw": "rt"}.get(area.level)
    if key:
        data[key] = [_area_json(child) for child in area.children]
    return data


def _status_json(figures):
    """A StatusFigures: total, rupiah, by reason and by channel."""
    data = {"total": figures.total.n, "rupiah": figures.total.rupiah,
            "by_channel": {key: {"n": m.n, "rupiah": m.rupiah} for key, m in figures.by_channel.items()}}
    if figures.status == "tidak_cair":
        data["by_reason"] = {key: {"n": m.n, "rupiah": m.rupiah} for key, m in figures.by_reason.items()}
    return data


def as_json(recap):
    """The stable machine-readable structure of `flask recap --json` and /rekap.json (plain dicts and lists)."""
    applied = recap.scope
    n = applied.desil_max
    return {
        "desa": {"nama": recap.desa.nama, "kode": recap.desa.kode, "kecamatan": recap.desa.kecamatan,
                 "kabupaten": recap.desa.kabupaten, "provinsi": recap.desa.provinsi},
        "scope": {"text": applied.text(), "year": applied.year,
                  "programs": [p.code for p in applied.programs],
                  "periods": [{"id": p.id, "program": p.program.code, "label": p.label, "year": p.year,
                               "closed": p.closed} for p in applied.periods],
                  "channel": applied.channel, "dusun": applied.dusun},
        "dtsen_version": recap.dtsen_version,
        "generated_at": recap.generated_at.replace(microsecond=0).isoformat() + "Z",
        "totals": {**_count_json(recap.totals.data),
                   "desil_1_4": _count_json(recap.totals.desil_1_4),
                   "desil_1_max": {"desil_max": n, **_count_json(recap.totals.desil_1_max)},
                   "tanpa_desil": _count_json(recap.totals.tanpa_desil),
                   "menerima": _count_json(recap.totals.menerima)},
        "programs": [{"program": row.period.program.code, "period": row.period.label, "period_id": row.period.id,
                      "year": row.period.year, "closed": row.period.closed, **_count_json(row.penerima),
                      **_rows_json(row.rows)}
                     for row in recap.periods],
        "program_totals": [{"program": p.program.code, "nama": p.program.nama, "sasaran": p.program.sasaran,
                            "desil_max": p.program.desil_max, **_count_json(p.penerima), **_rows_json(p.rows),
                            "inklusi": _count_json(p.inklusi) if p.inklusi else None,
                            "eksklusi": _count_json(p.eksklusi) if p.eksklusi else None}
                           for p in recap.programs],
        "desil": [{"desil": row.desil, "menerima": _count_json(row.menerima),
                   "tidak_menerima": _count_json(row.tidak_menerima)} for row in recap.desil],
        "no_aid": {"desil_max": n, **_count_json(recap.no_aid)},
        "tidak_cair": _status_json(recap.tidak_cair),
        "belum": _status_json(recap.belum),
        "cair": _status_json(recap.cair),
        "wilayah": [_area_json(area) for area in recap.wilayah],
        "definitions": recap.definitions,
    }


def summary_text(recap):
    """The few-line plain-text summary for WhatsApp: desa, scope, key figures in KK and jiwa, date."""
    desa, totals, n = recap.desa, recap.totals, recap.scope.desil_max
    lines = [
        f"*Rekap Bansos Desa {desa.nama}* ({kode_wilayah(desa.kode)}), Kec. {desa.kecamatan}, Kab. {desa.kabupaten}",
        f"Cakupan: {recap.scope.text()}",
        f"Dalam data: {angka(totals.data.kk)} KK, {angka(totals.data.jiwa)} jiwa; "
        f"desil 1–4: {angka(totals.desil_1_4.kk)} KK; desil 1–{n}: {angka(totals.desil_1_max.kk)} KK",
    ]
    for program in recap.programs:
        lines.append(f"{program.program.code}: {angka(program.penerima.kk)} KK, {angka(program.penerima.jiwa)} jiwa")
    lines += [
        f"KK desil 1–{n} belum menerima bantuan: {angka(recap.no_aid.kk)} KK, {angka(recap.no_aid.jiwa)} jiwa",
        f"Tidak cair: {angka(recap.tidak_cair.total.n)} penyaluran ({rupiah(recap.tidak_cair.total.rupiah)}); "
        f"belum cair: {angka(recap.belum.total.n)} penyaluran ({rupiah(recap.belum.total.rupiah)})",
        f"Versi data: {recap.dtsen_version or 'belum ada data DTSEN'} · dibuat {waktu(recap.generated_at)}",
    ]
    return "\n".join(lines)


def headline(desil_max):
    """The home page's headline figures, from the default recap (the latest year, every active programme)."""
    recap = build(Scope(), desil_max)
    return {
        "kk": recap.totals.data.kk,
        "jiwa": recap.totals.data.jiwa,
        "desil_1_4": recap.totals.desil_1_4.kk,
        "desil_1_max": recap.totals.desil_1_max.kk,
        "tanpa_desil": recap.totals.tanpa_desil.kk,
        "desil_max": recap.scope.desil_max,
        "year": recap.scope.year,
        "penerima_kk": recap.totals.menerima.kk,
        "tidak_cair": recap.tidak_cair.total.n,
        "no_aid_kk": recap.no_aid.kk if recap.scope.year is not None else None,
    }

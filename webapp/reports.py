"""The recap pages: the recap itself, its print view, .xlsx and JSON, the lists behind every number,
and the two named field-work lists. Every figure comes from `webapp.recap`."""
import functools
from urllib.parse import urlencode

from flask import Blueprint
from flask import abort
from flask import g
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for
from markupsafe import Markup
from jinja2_fragments.flask import render_block
from playhouse.flask_utils import PaginatedQuery

from . import charts
from . import recap
from .access import ALL_ROLES
from .access import OPERATOR
from .access import STAF
from .access import allow
from .access import record
from .exporting import xlsx_response
from .formatting import angka
from .formatting import rupiah
from .htmx import is_htmx
from .models import Period
from .models import Person
from .models import Program

bp = Blueprint("reports", __name__)
LIST_PAGE = 50


def scope_from_request():
    """The Scope in the URL, or 400 with the reason when a filter names nothing that exists."""
    try:
        return recap.Scope.from_args(request.args)
    except recap.ScopeError as exc:
        abort(400, str(exc))


def build_recap():
    """The recap for the URL's filters."""
    try:
        return recap.build(scope_from_request())
    except recap.ScopeError as exc:
        abort(400, str(exc))


def filter_choices():
    """What the filter form offers: programmes, years, periods per year, channels, dusun."""
    from .models import CHANNELS
    from .models import Desa
    from .models import Household
    periods = list(Period.select(Period, Program).join(Program).where(Program.active)
                   .order_by(Period.year.desc(), Program.id, Period.start_date.asc(nulls="LAST"), Period.label))
    years = sorted({p.year for p in periods}, reverse=True)
    return {"programs": list(Program.ordered()), "years": years, "periods": periods, "channels": CHANNELS,
            "dusun": Household.dusun_names(Desa.current())}


@functools.lru_cache(maxsize=4096)
def encoded(key, value):
    """One URL argument, percent-encoded (the same few keys and values recur on every recap page)."""
    return urlencode({key: value})


def query_string(args):
    """URL arguments (lists repeat their key) built from cached pieces."""
    return "&".join(encoded(key, item) for key, value in args.items()
                    for item in (value if isinstance(value, (list, tuple)) else (value,)))


class FigureLinks:
    """The recap's numbers as links to the lists behind them, for one scope.

    A recap page links every number (hundreds, over a thousand at kecamatan scale): the scope's part of
    the URL is built once and each link in Python, several times cheaper than url_for or a template
    macro per link."""

    def __init__(self, scope):
        """Links for the lists of this scope."""
        base = url_for("reports.drill_list")
        prefix = query_string(scope.args())
        self.prefix = f"{base}?{prefix}&" if prefix else f"{base}?"

    def url(self, drill):
        """The URL of the list behind a drill."""
        return self.prefix + query_string(drill.args())

    def _a(self, drill, text):
        """An <a> to the drill's list."""
        return Markup('<a href="%s">%s</a>') % (self.url(drill), text)

    def kk(self, count):
        """A Count's KK, linked to its households."""
        return self._a(count.kk_drill, angka(count.kk))

    def jiwa(self, count):
        """A Count's jiwa, linked to its persons."""
        return self._a(count.jiwa_drill, angka(count.jiwa))

    def n(self, money):
        """A Money's number of rows, linked to them."""
        return self._a(money.drill, angka(money.n))

    def rp(self, money):
        """A Money's rupiah, linked to its rows."""
        return self._a(money.drill, rupiah(money.rupiah))


@bp.get("/rekap")
@allow(*ALL_ROLES)
def recap_page():
    """The recap: headline figures, programme × period, desil, tidak cair, wilayah, charts; filters in the URL."""
    data = build_recap()
    context = {"r": data, "args": data.scope.scope.args(), "charts": charts.for_recap(data),
               "summary": recap.summary_text(data), "links": FigureLinks(data.scope.scope)}
    if is_htmx():
        return render_block("reports/recap.html", "body", **context)
    return render_template("reports/recap.html", choices=filter_choices(), **context)


@bp.get("/rekap/wilayah")
@allow(*ALL_ROLES)
def recap_areas():
    """The RW and RT rows of one dusun (loaded when its row is opened), or a page with them."""
    data = build_recap()
    area = next((a for a in data.wilayah if a.dusun == request.args.get("wilayah")), None) or abort(404)
    context = {"r": data, "area": area, "args": data.scope.scope.args(), "links": FigureLinks(data.scope.scope)}
    if is_htmx():
        return render_block("reports/recap.html", "areas", **context)
    return render_template("reports/areas.html", **context)


@bp.get("/rekap/periksa")
@allow(OPERATOR, STAF)
def recap_checks():
    """Open verification findings behind the recap's figures (loaded after the page: checks take longer)."""
    from .checks import checks_for_recap
    return render_block("reports/recap.html", "checks", checks=checks_for_recap())


@bp.get("/rekap.json")
@allow(*ALL_ROLES)
def recap_json():
    """The same figures as JSON (the structure documented in the README)."""
    return jsonify(recap.as_json(build_recap()))


@bp.get("/rekap/cetak")
@allow(*ALL_ROLES)
def recap_print():
    """The recap on A4 with the desa's letterhead, definitions and a signature block."""
    data = build_recap()
    return render_template("reports/print.html", r=data, charts=charts.for_recap(data))


@bp.get("/rekap/ekspor.xlsx")
@allow(*ALL_ROLES)
def recap_export():
    """The recap as .xlsx: each table a sheet, numbers as numbers, a header naming the scope."""
    from . import exporting
    data = build_recap()
    return xlsx_response(exporting.recap_workbook(data), f"rekap-bansos-{data.desa.nama}.xlsx".lower().replace(" ", "-"))


def drill_from_request():
    """The Drill in the URL, or 400."""
    try:
        return recap.Drill.from_args(request.args)
    except recap.ScopeError as exc:
        abort(400, str(exc))


@bp.get("/rekap/daftar")
@allow(*ALL_ROLES)
def drill_list():
    """The list behind one number of the recap, with the same filters; its count is that number."""
    scope = scope_from_request()
    drill = drill_from_request()
    try:
        applied = recap.resolve(scope)
        query = recap.drill_query(applied, drill)
    except recap.ScopeError as exc:
        abort(400, str(exc))
    ordered = query.order_by(*recap.WILAYAH_ORDER, *list_tiebreak(drill))
    rows = PaginatedQuery(ordered, LIST_PAGE, check_bounds=False)
    page_rows = list(rows.get_object_list())
    household_ids = {row.household_id if drill.daftar != "kk" else row.id for row in page_rows}
    anonymous = g.user.role not in (OPERATOR, STAF)
    return render_template(
        "reports/list.html", applied=applied, drill=drill, rows=rows, page_rows=page_rows, total=query.count(),
        title=list_title(applied, drill), anonymous=anonymous, args={**scope.args(), **drill.args()},
        kepala={} if anonymous else Person.kepala_names(household_ids),
        can_edit=g.user.role == OPERATOR, v="rekap", colspan=9)


def list_tiebreak(drill):
    """The last sort keys of a list, so pages never overlap."""
    from .models import Disbursement
    if drill.daftar == "penyaluran":
        return (Program.id, Period.label, Person.nama, Disbursement.id)
    if drill.daftar == "jiwa":
        return (Person.nama, Person.id)
    return ()


def list_title(applied, drill):
    """What a list is, in words."""
    from .models import LABELS
    kind = {"penyaluran": "Penyaluran", "kk": "Keluarga (KK)", "jiwa": "Jiwa"}[drill.daftar]
    parts = []
    if drill.program:
        parts.append(f"program {drill.program}")
    if drill.period is not None:
        period = next((p for p in applied.periods if p.id == drill.period), None)
        parts.append(f"periode {period.label}" if period else f"periode #{drill.period}")
    if drill.status:
        parts.append("status " + " / ".join(LABELS["status"][s] for s in drill.status))
    if drill.channel:
        parts.append(f"jalur {LABELS['channel'][drill.channel]}")
    if drill.reason:
        parts.append(f"alasan {LABELS['reason'][drill.reason]}")
    if drill.menerima is True:
        parts.append("menerima bantuan")
    if drill.menerima is False:
        parts.append("belum menerima bantuan")
    if drill.tanpa:
        parts.append(f"tanpa {drill.tanpa}")
    if drill.desil:
        parts.append("belum ada desil" if drill.desil == "none" else f"desil {drill.desil.replace('-', '–')}")
    for name, label in (("dusun", "Dusun"), ("rw", "RW"), ("rt", "RT")):
        if getattr(drill, name):
            parts.append(f"{label} {getattr(drill, name)}")
    return kind + (": " + ", ".join(parts) if parts else "")


@bp.get("/rekap/daftar.xlsx")
@allow(OPERATOR)
def drill_export():
    """The list behind a number as .xlsx (person-level data: operators only, audited)."""
    from . import exporting
    scope, drill = scope_from_request(), drill_from_request()
    applied = recap.resolve(scope)
    query = recap.drill_query(applied, drill).order_by(*recap.WILAYAH_ORDER, *list_tiebreak(drill))
    title = list_title(applied, drill)
    record("ekspor.daftar_rekap", entity="rekap", field="daftar", new=title)
    return xlsx_response(exporting.drill_workbook(title, applied, drill, query), "daftar-rekap.xlsx")


@bp.get("/rekap/belum-menerima")
@allow(OPERATOR, STAF)
def no_aid_list():
    """Printable field list: KK desil 1–N without aid, with members, sorted by wilayah."""
    applied = recap.resolve(scope_from_request())
    return render_template("reports/no_aid.html", applied=applied, households=recap.no_aid_list(applied))


@bp.get("/rekap/tidak-cair")
@allow(OPERATOR, STAF)
def tidak_cair_list():
    """Printable field list: recipients whose money did not arrive, with reason and channel."""
    applied = recap.resolve(scope_from_request())
    rows = list(recap.tidak_cair_rows(applied))
    return render_template("reports/tidak_cair.html", applied=applied, rows=rows,
                           kepala=Person.kepala_names({d.household_id for d in rows}))


"""The home page: the desa, its headline figures and the search box."""
from flask import Blueprint
from flask import current_app
from flask import g
from flask import render_template

from . import checks
from . import db as database
from . import recap
from .access import ALL_ROLES
from .access import PERSON_ROLES
from .access import allow
from .access import public
from .models import Desa
from .models import ImportBatch

bp = Blueprint("home", __name__)


@bp.get("/")
@allow(*ALL_ROLES)
def index():
    """Show the desa's name, kode wilayah, headline counts and the search box."""
    return render_template(
        "home/index.html",
        desa=Desa.current(),
        figures=recap.headline(current_app.config["NO_AID_DESIL_MAX"]),
        dtsen=ImportBatch.latest_dtsen(),
        open_findings=checks.open_count() if g.user.role in PERSON_ROLES else None,
    )


@bp.get("/healthz")
@public
def healthz():
    """Answer 'ok' when the database can be read (for systemd and monitoring; no data, no log-in)."""
    try:
        database.db.execute_sql("SELECT count(*) FROM desa").fetchone()
    except Exception:  # any database failure means "not healthy", whatever its kind
        return "database tidak dapat dibaca\n", 503, {"Content-Type": "text/plain; charset=utf-8"}
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

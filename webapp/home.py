"""The home page: the desa, its headline figures and the search box."""
from flask import Blueprint
from flask import current_app
from flask import render_template

from . import recap
from .access import ALL_ROLES
from .access import allow
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
    )

"""Search and the household page."""
from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import request
from jinja2_fragments.flask import render_block
from playhouse.flask_utils import get_object_or_404

from . import ledger
from . import models
from .access import OPERATOR
from .access import STAF
from .access import allow
from .htmx import is_htmx
from .models import Household

bp = Blueprint("households", __name__)


@bp.get("/cari")
@allow(OPERATOR, STAF)
def search():
    """Search households by name, NIK or No KK; htmx requests get only the results block."""
    found = models.search(request.args.get("q", ""), page=request.args.get("page", 1, type=int),
                          page_size=current_app.config["SEARCH_PAGE_SIZE"])
    if is_htmx():
        return render_block("households/search.html", "results", found=found)
    return render_template("households/search.html", found=found)


@bp.get("/keluarga/<int:household_id>")
@allow(OPERATOR, STAF)
def detail(household_id):
    """Show one household: its members, desil and every disbursement."""
    household = get_object_or_404(Household.active(), Household.id == household_id)
    warnings = ledger.double_aid([household.id], current_app.config["EXCLUSIVE_PROGRAMS"])
    return render_template("households/detail.html", household=household,
                           members=list(household.members()),
                           disbursements=list(household.disbursements()),
                           double_aid=warnings.get(household.id, []))

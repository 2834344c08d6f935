"""Log-in, log-out, the one-time first-run set-up and changing one's own password."""
from flask import Blueprint
from flask import abort
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for

from . import accounts
from . import db as database
from .access import ALL_ROLES
from .access import allow
from .access import public
from .access import record
from .models import User

bp = Blueprint("auth", __name__)


def start_session(user):
    """Begin a fresh session for user (nothing personal in the cookie: id and epoch only)."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["epoch"] = user.session_epoch


def landing(user):
    """Where a user starts: the recap for the kecamatan, the home page for desa staff."""
    return url_for("reports.recap_page") if user.role == "kecamatan" else url_for("home.index")


def safe_next(target):
    """Accept only a path on this site as the place to return to after log-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/masuk", methods=["GET", "POST"])
@public
def login():
    """Show the log-in form and log a user in."""
    if not User.select().exists():
        return redirect(url_for("auth.setup"), 303)
    error, username = None, request.form.get("username", "").strip()
    if request.method == "POST":
        wait = accounts.wait_needed(username, request.remote_addr or "")
        if wait:
            minutes = max(1, round(wait.total_seconds() / 60))
            error = f"Terlalu banyak percobaan gagal. Coba lagi dalam {minutes} menit."
        else:
            user = accounts.authenticate(username, request.form.get("password", ""), request.remote_addr or "")
            if user:
                start_session(user)
                return redirect(safe_next(request.args.get("next")) or landing(user), 303)
            error = "Nama pengguna atau kata sandi salah."
    return render_template("auth/login.html", error=error, username=username), 401 if error else 200


@bp.post("/keluar")
@allow(*ALL_ROLES)
def logout():
    """Log out, ending this user's sessions everywhere (a copied cookie stops working too)."""
    with database.db.atomic("IMMEDIATE"):
        User.update(session_epoch=User.session_epoch + 1).where(User.id == g.user.id).execute()
        record("logout", entity="user", entity_id=g.user.id)
    session.clear()
    return redirect(url_for("auth.login"), 303)


@bp.route("/siapkan", methods=["GET", "POST"])
@public
def setup():
    """First run only: create the first operator, who also manages accounts."""
    if User.select().exists():
        abort(404)
    error, username = None, request.form.get("username", "").strip()
    if request.method == "POST":
        password = request.form.get("password", "")
        try:
            if password != request.form.get("password2", ""):
                raise accounts.AccountError("Kedua kata sandi tidak sama.")
            user = accounts.create_first_user(username, password)
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            start_session(user)
            return redirect(url_for("home.index"), 303)
    return render_template("auth/setup.html", error=error, username=username), 422 if error else 200


@bp.route("/akun/sandi", methods=["GET", "POST"])
@allow(*ALL_ROLES)
def password():
    """Change one's own password (required after a one-time password)."""
    error = None
    if request.method == "POST":
        new = request.form.get("password", "")
        try:
            if new != request.form.get("password2", ""):
                raise accounts.AccountError("Kedua kata sandi baru tidak sama.")
            user = accounts.change_password(g.user, new, request.form.get("current", ""))
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            start_session(user)
            return redirect(url_for("home.index"), 303)
    return render_template("auth/password.html", error=error), 422 if error else 200


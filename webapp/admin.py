"""Account management and the audit log, for users with the admin right."""
from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import timezone
from zoneinfo import ZoneInfo

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from playhouse.flask_utils import PaginatedQuery
from playhouse.flask_utils import get_object_or_404

from . import accounts
from . import backups
from .access import admin_only
from .models import ROLES
from .models import AuditEvent
from .models import User

bp = Blueprint("admin", __name__, url_prefix="/admin")


def users_page(error=None, one_time=None, status=200):
    """Render the users page, optionally with an error or a one-time password to hand over."""
    return render_template("admin/users.html", users=User.select().order_by(User.username), roles=ROLES,
                           error=error, one_time=one_time, form=request.form), status


@bp.get("/pengguna")
@admin_only
def users():
    """List accounts with the form to add one."""
    return users_page()


@bp.post("/pengguna")
@admin_only
def create_user():
    """Create an account with a one-time password shown once to the admin."""
    try:
        user, password = accounts.create_user(request.form.get("username", ""), request.form.get("role", ""),
                                              is_admin=request.form.get("is_admin") == "1")
    except accounts.AccountError as exc:
        return users_page(error=str(exc), status=422)
    return users_page(one_time=(user.username, password))


@bp.post("/pengguna/<int:user_id>")
@admin_only
def update_user(user_id):
    """Change an account's role, admin right or active state."""
    user = get_object_or_404(User, User.id == user_id)
    fields = {}
    if "role" in request.form:
        fields["role"] = request.form["role"]
    if "is_admin" in request.form:
        fields["is_admin"] = request.form["is_admin"] == "1"
    if "active" in request.form:
        fields["active"] = request.form["active"] == "1"
    try:
        accounts.update_user(user, g.user, **fields)
    except accounts.AccountError as exc:
        return users_page(error=str(exc), status=422)
    flash(f"Akun {user.username} diperbarui; sesi yang sedang berjalan diakhiri.")
    return redirect(url_for("admin.users"), 303)


@bp.post("/pengguna/<int:user_id>/reset")
@admin_only
def reset_password(user_id):
    """Give an account a new one-time password."""
    user = get_object_or_404(User, User.id == user_id)
    return users_page(one_time=(user.username, accounts.reset_password(user)))


def day_start_utc(text, days=0):
    """A YYYY-MM-DD date in WIB as the naive UTC moment its day starts (None when blank or invalid)."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date() + timedelta(days=days)
    except (TypeError, ValueError):
        return None
    local = datetime.combine(day, time(0), tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))
    return local.astimezone(timezone.utc).replace(tzinfo=None)


@bp.get("/cadangan")
@admin_only
def backup_page():
    """The last backup, its size and check, the copies on disk, and a button to back up now."""
    folder = current_app.config["BACKUP_DIR"]
    return render_template("admin/backups.html", status=backups.last_status(folder),
                           files=[(stamp, path.name, path.stat().st_size) for stamp, path in backups.backup_files(folder)],
                           stale=backups.is_stale(folder), folder=folder)


@bp.post("/cadangan")
@admin_only
def backup_now():
    """Make a verified backup now."""
    config = current_app.config
    try:
        outcome = backups.backup(config["DATABASE"], config["BACKUP_DIR"], label="manual")
    except backups.BackupError as exc:
        flash(str(exc))
    else:
        flash(f"Cadangan dibuat dan terverifikasi ({outcome.size / 1_048_576:.1f} MB).")
    return redirect(url_for("admin.backup_page"), 303)


@bp.get("/audit")
@admin_only
def audit():
    """The audit log, filterable by user, action and date (WIB)."""
    args = request.args
    query = AuditEvent.filtered(args.get("pengguna"), args.get("aksi"),
                                day_start_utc(args.get("dari")), day_start_utc(args.get("sampai"), days=1))
    events = PaginatedQuery(query, 50, check_bounds=False)
    return render_template("admin/audit.html", events=events, actions=AuditEvent.actions(),
                           usernames=[u.username for u in User.select().order_by(User.username)], args=args,
                           filters={k: v for k, v in args.items() if k != "page" and v})

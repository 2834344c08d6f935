"""Who may use which route: every view declares it, everything undeclared is denied.

Roles (reliability.md §3.1): `operator` imports, edits and exports and sees whole NIK/No KK;
`staf` looks up and prints with NIK/No KK masked; `kecamatan` sees recap figures only, no person-level
data. The admin right (managing accounts, reading the audit log) is separate from the role.
Sessions carry only the user id and a session epoch; bumping the epoch ends every session of that user.
"""
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import abort
from flask import current_app
from flask import g
from flask import make_response
from flask import redirect
from flask import request
from flask import session
from flask import url_for

from .htmx import is_htmx
from .models import AuditEvent
from .models import User

OPERATOR, STAF, KECAMATAN = "operator", "staf", "kecamatan"
ALL_ROLES = frozenset({OPERATOR, STAF, KECAMATAN})
PERSON_ROLES = frozenset({OPERATOR, STAF})
# Flask's own static view cannot carry an attribute; its files hold no data.
PUBLIC_ENDPOINTS = {"static"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """The access rule a view declares."""

    roles: frozenset = frozenset()
    admin: bool = False
    public: bool = False


def allow(*roles):
    """Declare that logged-in users with one of these roles may use the view."""
    unknown = set(roles) - ALL_ROLES
    if unknown or not roles:
        raise ValueError(f"unknown roles: {unknown or 'none given'}")
    return _declare(Rule(roles=frozenset(roles)))


def admin_only(view):
    """Declare that only users with the admin right may use the view."""
    return _declare(Rule(admin=True))(view)


def public(view):
    """Declare a view open to anyone (log-in, first-run set-up, health check)."""
    return _declare(Rule(public=True))(view)


def _declare(rule):
    def decorate(view):
        view.access_rule = rule
        return view
    return decorate


def rule_for(endpoint):
    """The rule declared by the view behind an endpoint, or None when it declares none."""
    if endpoint in PUBLIC_ENDPOINTS:
        return Rule(public=True)
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access_rule", None)


def load_user():
    """Put the logged-in, active user with a current session epoch in g.user (else None)."""
    g.user = None
    uid = session.get("uid")
    if uid is None:
        return
    user = User.get_or_none((User.id == uid) & User.active)
    if user is None or session.get("epoch") != user.session_epoch:
        session.clear()
        return
    g.user = user


def check_access():
    """Enforce the declared rule of the requested endpoint (default deny)."""
    if request.endpoint is None:
        return None  # no such route: the 404/405 handler answers
    rule = rule_for(request.endpoint)
    if rule is None:
        log.error("route %s declares no access rule: denied", request.endpoint)
        abort(403)
    if rule.public:
        return None
    if g.user is None:
        return login_required()
    if g.user.must_change_password and request.endpoint not in ("auth.password", "auth.logout"):
        return redirect(url_for("auth.password"), 303)
    if rule.admin and g.user.is_admin:
        return None
    if not rule.admin and g.user.role in rule.roles:
        return None
    record("akses.ditolak", entity=request.endpoint or "")
    abort(403)


def login_required():
    """Send an anonymous visitor to the log-in page (HX-Redirect for htmx requests)."""
    target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def same_origin():
    """Refuse unsafe requests whose Origin header names another site (a second layer over CSRF tokens)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        abort(403, "Permintaan dari situs lain ditolak.")
    return None


def record(action, entity="", entity_id=None, field="", old=None, new=None, username=None, batch=None):
    """Write an audit event for the current user (call inside the transaction of the change)."""
    user = getattr(g, "user", None)
    AuditEvent.create(user=user, username=username if username is not None else (user.username if user else ""),
                      action=action, entity=entity, entity_id=entity_id, field=field,
                      old=None if old is None else str(old), new=None if new is None else str(new),
                      import_batch=batch)


def mask_id(value):
    """Show a NIK or No KK whole to operators, masked (3205••••••••0012) to everyone else."""
    if not value:
        return value
    user = getattr(g, "user", None)
    if user is not None and user.sees_full_ids:
        return value
    return value[:4] + "•" * (len(value) - 8) + value[-4:] if len(value) > 8 else "•" * len(value)


def init_app(app):
    """Load the user and enforce access rules on every request."""
    app.before_request(same_origin)
    app.before_request(load_user)
    app.before_request(check_access)
    app.add_template_filter(mask_id, "id_number")
    app.context_processor(page_context)


def page_context():
    """Template globals: the user, and for admins whether the last good backup is too old."""
    from . import backups
    user = getattr(g, "user", None)
    stale = bool(user and user.is_admin and backups.is_stale(current_app.config["BACKUP_DIR"]))
    return {"current_user": user, "backup_stale": stale}


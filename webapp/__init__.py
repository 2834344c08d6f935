"""Rekap Bansos: the bansos recap of a desa, from DTSEN data and disbursement lists."""
import logging
import traceback

import peewee

from flask import Flask
from flask import make_response
from flask import render_template
from flask import request
from jinja2_fragments.flask import render_block
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from . import access
from . import cli
from . import config
from . import db
from . import formatting
from .htmx import is_htmx

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

ERROR_TITLES = {
    400: "Permintaan tidak valid",
    403: "Tidak diizinkan",
    404: "Halaman tidak ditemukan",
    405: "Metode tidak diizinkan",
    409: "Data sudah diubah",
    413: "Berkas terlalu besar",
    422: "Data tidak valid",
    500: "Terjadi kesalahan",
    503: "Layanan sedang tidak tersedia",
}

log = logging.getLogger(__name__)
csrf = CSRFProtect()


def create_app(test_config=None):
    """Create and configure an instance of the Flask application."""
    app = Flask(__name__, instance_relative_config=True)
    config.load(app, test_config)
    db.init_app(app)
    csrf.init_app(app)
    access.init_app(app)
    formatting.init_app(app)
    cli.init_app(app)

    from . import admin
    from . import auth
    from . import disbursements
    from . import home
    from . import households
    from . import imports
    from . import programs
    from . import reports
    from . import verification
    for area in (auth, home, households, programs, disbursements, imports, reports, admin, verification):
        app.register_blueprint(area.bp)

    app.after_request(security_headers)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(peewee.OperationalError, database_error)
    app.register_error_handler(peewee.DatabaseError, database_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    return app


def security_headers(response):
    """Send the CSP and the other protective headers on every response."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.vary.add("HX-Request")
        # Pages carry personal data (names, NIK): never keep them in a cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def render_error(code, message=None):
    """Render an error as a whole page, or as a fragment into #flash for htmx requests."""
    title = ERROR_TITLES.get(code, "Terjadi kesalahan")
    if is_htmx():
        response = make_response(render_block("errors/error.html", "message", code=code, title=title,
                                              message=message), code)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return make_response(render_template("errors/error.html", code=code, title=title, message=message), code)


def http_error(exc):
    """Answer 4xx/5xx raised with abort() with an Indonesian page or fragment."""
    if exc.code is None or exc.code < 400:
        return exc
    message = exc.description if exc.description and exc.description != type(exc).description else None
    response = render_error(exc.code, message)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def csrf_error(exc):
    """A missing or stale CSRF token: ask for a reload instead of showing Flask-WTF's English text."""
    return render_error(400, "Halaman ini sudah kedaluwarsa atau tidak sah. Muat ulang halaman, lalu coba lagi.")


def database_error(exc):
    """The database could not be used (busy for too long, damaged, missing): 503 with advice."""
    log.error("database unavailable on %s %s: %s", request.method, request.url_rule, type(exc).__name__)
    return render_error(503, "Basis data sedang tidak dapat dipakai. Coba lagi sebentar lagi; bila terus "
                             "terjadi, hubungi operator (lihat panduan: memulihkan dari cadangan).")


def unexpected_error(exc):
    """Log an unexpected error (type and place, never its message, which may hold data) and answer 500."""
    log.error("unexpected %s on %s %s\n%s", type(exc).__name__, request.method, request.url_rule,
              "".join(traceback.format_tb(exc.__traceback__)))
    return render_error(500)

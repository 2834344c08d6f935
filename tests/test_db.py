"""The database object: pragmas, the WAL version gate, the connection lifecycle, settings."""
import os
import sqlite3
import stat

import pytest
from peewee import InterfaceError

from webapp import config
from webapp import create_app
from webapp import db as database
from webapp.models import Desa


@pytest.mark.parametrize("version, safe", [
    ("3.40.1", False),   # Debian 12 / Raspberry Pi OS Bookworm
    ("3.44.5", False),
    ("3.44.6", True),    # backport
    ("3.45.0", False),
    ("3.46.1", False),   # Debian 13
    ("3.50.6", False),
    ("3.50.7", True),    # backport
    ("3.51.2", False),
    ("3.51.3", True),    # the fix
    ("3.52.0", True),
])
def test_wal_only_where_the_wal_reset_bug_is_fixed(version, safe):
    assert database.wal_is_safe(version) is safe
    pragmas = dict(database.pragmas_for(version))
    assert pragmas["journal_mode"] == ("wal" if safe else "delete")
    assert pragmas["synchronous"] == "full"
    assert pragmas["foreign_keys"] == 1


def test_request_connection_has_the_durable_pragmas(app):
    with app.test_request_context():
        app.preprocess_request()
        conn = database.db.connection()
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert journal == ("wal" if database.wal_is_safe(sqlite3.sqlite_version) else "delete")
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 15000


def test_connection_is_closed_after_each_request(client):
    assert database.db.is_closed()
    assert client.get("/").status_code == 200
    assert database.db.is_closed()


def test_no_connection_outside_a_request_or_context(app):
    assert database.db.is_closed()
    with pytest.raises(InterfaceError):
        Desa.select().count()


def test_secret_key_is_generated_once_per_install(tmp_path):
    first = tmp_path / "a"
    key = config.instance_secret(str(first))
    assert len(key) == 64
    assert config.instance_secret(str(first)) == key
    assert stat.S_IMODE(os.stat(first / "secret_key").st_mode) == 0o600
    assert config.instance_secret(str(tmp_path / "b")) != key


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("DESA_NAMA", "Sukamaju")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["DATABASE"] == str(tmp_path / "env.db")
    assert app.config["DESA_NAMA"] == "Sukamaju"
    assert app.config["SECRET_KEY"] == "from-env"
    app = create_app({"DESA_NAMA": "Test"})
    assert app.config["DESA_NAMA"] == "Test"


@pytest.mark.parametrize("url", ["postgres://x/y", "sqlite:///:memory:", "sqlite:///"])
def test_database_url_must_name_an_sqlite_file(url):
    with pytest.raises(ValueError):
        config.database_path(url)

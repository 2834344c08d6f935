"""Shared fixtures: a fresh SQLite file per test (never :memory:), the app, its clients."""
import shutil
import sqlite3
from pathlib import Path

import pytest

from webapp import accounts
from webapp import create_app
from webapp import db as database
from webapp import demo
from webapp.cli import init_db

DEMO_YEAR = 2026


def pytest_report_header(config):
    """Print the linked SQLite version: durability settings depend on it."""
    return f"sqlite {sqlite3.sqlite_version}"


def make_app(path, **extra):
    """An app on the SQLite file at path, with its schema created (cheap password hashing)."""
    config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "test-secret",
              "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "BACKUP_DIR": str(Path(path).parent / "backups"),
              **extra}
    app = create_app(config)
    with app.app_context():
        init_db()
    return app


PASSWORD = "Kopi-Tubruk-Pagi-7"


def add_user(app, username, role, is_admin=False, password=PASSWORD):
    """Create an account directly and return its id."""
    with app.app_context(), database.db.connection_context():
        user, _ = accounts.create_user(username, role, is_admin=is_admin, password=password)
        return user.id


def logged_in(app, role="operator", is_admin=False, username=None):
    """A test client whose session belongs to a new account with this role."""
    uid = add_user(app, username or f"{role}{'-admin' if is_admin else ''}", role, is_admin)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["uid"], sess["epoch"] = uid, 0
    return client


@pytest.fixture
def app(tmp_path):
    """An app on an empty database (schema, desa and national programmes only)."""
    return make_app(tmp_path / "test.db")


@pytest.fixture
def client(app):
    """A test client of the empty app, logged in as an operator."""
    return logged_in(app)


@pytest.fixture
def anon_client(app):
    """A test client of the empty app, not logged in."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of the empty app."""
    return app.test_cli_runner()


@pytest.fixture
def db_conn(app):
    """An open database connection for tests that work on the models directly."""
    with app.app_context(), database.db.connection_context():
        yield database.db


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory):
    """A small demo village (300 KK), built once per test run."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    app = make_app(path)
    with app.app_context(), database.db.connection_context():
        demo.seed(households=300, seed=11, year=DEMO_YEAR)
    return path


@pytest.fixture
def demo_app(demo_file, tmp_path):
    """An app on a private copy of the demo village."""
    path = tmp_path / "demo.db"
    shutil.copy(demo_file, path)
    return make_app(path)


@pytest.fixture
def demo_client(demo_app):
    """A test client of the demo village, logged in as an operator."""
    return logged_in(demo_app)


@pytest.fixture
def demo_db(demo_app):
    """An open connection to the demo village."""
    with demo_app.app_context(), database.db.connection_context():
        yield database.db

"""Shared fixtures: a fresh SQLite file per test (never :memory:), the app, its clients."""
import shutil
import sqlite3

import pytest

from webapp import create_app
from webapp import db as database
from webapp import demo
from webapp.cli import init_db

DEMO_YEAR = 2026


def pytest_report_header(config):
    """Print the linked SQLite version: durability settings depend on it."""
    return f"sqlite {sqlite3.sqlite_version}"


def make_app(path, **extra):
    """An app on the SQLite file at path, with its schema created."""
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "test-secret", **extra})
    with app.app_context():
        init_db()
    return app


@pytest.fixture
def app(tmp_path):
    """An app on an empty database (schema, desa and national programmes only)."""
    return make_app(tmp_path / "test.db")


@pytest.fixture
def client(app):
    """A test client of the empty app."""
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
    """A test client of the demo village."""
    return demo_app.test_client()


@pytest.fixture
def demo_db(demo_app):
    """An open connection to the demo village."""
    with demo_app.app_context(), database.db.connection_context():
        yield database.db

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


def living_counts():
    """{household id: (stored jiwa, living members counted from person)}."""
    return {hid: (stored, counted) for hid, stored, counted in database.db.execute_sql(
        "SELECT h.id, h.jiwa, (SELECT COUNT(*) FROM person p WHERE p.household_id = h.id AND p.deleted_at IS NULL "
        "AND p.keberadaan IN ('tinggal', 'baru')) FROM household h").fetchall()}


def assert_jiwa_stored_right():
    """Every household's stored jiwa equals its living, not deleted members."""
    wrong = {hid: pair for hid, pair in living_counts().items() if pair[0] != pair[1]}
    assert not wrong, f"stored jiwa differs from the members (stored, counted): {wrong}"


def test_stored_jiwa_follows_every_kind_of_person_write(db_conn):
    from webapp.models import Household
    from webapp.models import Person
    from webapp.models import utcnow

    desa = Desa.current()
    a = Household.create(no_kk="3205010101010001", desa=desa)
    b = Household.create(no_kk="3205010101010002", desa=desa)
    people = [Person.create(nik=f"32050101010100{i:02d}", household=a, nama=f"Warga {i}") for i in range(1, 5)]
    database.db.connection().executemany(
        "INSERT INTO person (nik, household_id, nama, keberadaan, hubungan, version, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, 'anak', 1, '2026-01-01', '2026-01-01')",
        [("3205010101010011", b.id, "Baru", "baru"), ("3205010101010012", b.id, "Pindah", "pindah")])
    assert living_counts()[a.id] == (4, 4) and living_counts()[b.id] == (1, 1)
    writes = [
        lambda: Person.update(keberadaan="meninggal").where(Person.id == people[0].id).execute(),
        lambda: Person.update(keberadaan="tinggal").where(Person.id == people[0].id).execute(),
        lambda: Person.update(deleted_at=utcnow()).where(Person.id == people[1].id).execute(),
        lambda: Person.update(deleted_at=None).where(Person.id == people[1].id).execute(),
        lambda: Person.update(household=b).where(Person.id == people[2].id).execute(),
        lambda: Person.update(household=a, keberadaan="pindah").where(Person.id == people[2].id).execute(),
        lambda: Person.update(nama="Nama Lain").where(Person.id == people[3].id).execute(),
        lambda: Person.delete().where(Person.id == people[3].id).execute(),
        lambda: Person.update(keberadaan="baru").where(Person.keberadaan == "pindah").execute(),
    ]
    for write in writes:
        write()
        assert_jiwa_stored_right()
    assert living_counts()[a.id] == (3, 3) and living_counts()[b.id] == (2, 2)
    # A save() of a household read before its members changed never writes back the old count.
    stale = Household.get_by_id(a.id)
    Person.create(nik="3205010101010021", household=a, nama="Lahir")
    stale.alamat = "Jl. Baru"
    stale.save()
    assert living_counts()[a.id] == (4, 4)


def test_init_db_adds_the_stored_jiwa_to_an_older_database(tmp_path):
    from tests.conftest import make_app
    from webapp import demo

    path = tmp_path / "old.db"
    app = make_app(path)
    with app.app_context(), database.db.connection_context():
        demo.seed(households=40, seed=3, year=2026)
        # The database as it was before the column: no triggers, no column, the older index.
        for name in ("person_jiwa_ai", "person_jiwa_ad", "person_jiwa_au"):
            database.db.execute_sql(f"DROP TRIGGER {name}")
        database.db.execute_sql("DROP INDEX household_desa_id_dusun_rw_rt_desil_deleted_at_jiwa")
        # A membership trigger of an older version, which did not watch jiwa.
        database.db.execute_sql("DROP TRIGGER household_membership_au")
        database.db.execute_sql("CREATE TRIGGER household_membership_au AFTER UPDATE ON household "
                                "WHEN old.desil IS NOT new.desil BEGIN UPDATE recap_membership SET token = random(); END")
        database.db.execute_sql("ALTER TABLE household DROP COLUMN jiwa")
        database.db.execute_sql("CREATE INDEX household_desa_id_dusun_rw_rt_desil_deleted_at "
                                "ON household (desa_id, dusun, rw, rt, desil, deleted_at)")
    app = make_app(path)
    with app.app_context(), database.db.connection_context():
        counts = living_counts()
        assert len(counts) == 40 and sum(stored for stored, _ in counts.values()) > 40
        assert_jiwa_stored_right()
        indexes = {row[1] for row in database.db.execute_sql("PRAGMA index_list(household)").fetchall()}
        assert "household_desa_id_dusun_rw_rt_desil_deleted_at_jiwa" in indexes
        assert "household_desa_id_dusun_rw_rt_desil_deleted_at" not in indexes
        trigger = database.db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'household_membership_au'").fetchone()[0]
        assert "old.jiwa IS NOT new.jiwa" in trigger and "old.dusun IS NOT new.dusun" in trigger

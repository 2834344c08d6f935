"""The one Peewee database object, its SQLite pragmas and the per-request connection hooks.

Durability rule (reliability.md §1.3): SQLite before 3.51.3 carries the WAL-reset bug, which two
gunicorn workers writing at once can trigger. WAL is used only where the linked SQLite has the fix
(3.51.3+, or the 3.50.7 / 3.44.6 backports); everywhere else the rollback journal with
synchronous=FULL, which survives power loss without corruption.
All SQLite-specific SQL of the app lives in this module.
"""
import itertools
import os
import sqlite3
import threading
from contextlib import contextmanager

from flask import g

from peewee import SQL
from peewee import Model
from peewee import OperationalError
from peewee import SqliteDatabase
from peewee import fn

db = SqliteDatabase(None, autoconnect=False)

WAL_FIXED_BACKPORTS = ((3, 44, 6), (3, 50, 7))
WAL_FIXED_FROM = (3, 51, 3)


class BaseModel(Model):
    """Base class binding every model to the one database object."""

    class Meta:
        database = db
        legacy_table_names = False


def version_tuple(version):
    """Turn '3.40.1' into (3, 40, 1)."""
    return tuple(int(part) for part in version.split(".")[:3])


def wal_is_safe(version):
    """True when this SQLite version has the WAL-reset fix (3.51.3+, 3.50.7+, 3.44.6+ on 3.44)."""
    v = version_tuple(version)
    if v >= WAL_FIXED_FROM:
        return True
    return any(v[:2] == fix[:2] and v >= fix for fix in WAL_FIXED_BACKPORTS)


def pragmas_for(version):
    """Return the connection pragmas, in order, for the given SQLite version."""
    journal = "wal" if wal_is_safe(version) else "delete"
    return [
        ("journal_mode", journal),
        ("synchronous", "full"),
        ("foreign_keys", 1),
        ("cache_size", -16000),
        ("temp_store", "memory"),
    ]


_watchers = {}
_watcher_serials = itertools.count()
_watch_lock = threading.Lock()


def data_version():
    """A number that changes whenever any connection commits to the database.

    SQLite's `PRAGMA data_version` changes when *another* connection commits, so it is read on a
    connection of this process's own that never writes: every commit, from any worker, import job or
    CLI command, moves it. Opened lazily per process, never carried across gunicorn's fork."""
    key = (os.getpid(), db.database)
    with _watch_lock:
        watcher = _watchers.get(key)
        if watcher is None:
            while len(_watchers) >= 4:  # one database per install; tests open many
                _watchers.pop(next(iter(_watchers)))[1].close()
            # A new watcher counts from 1 again: its serial keeps its versions apart from the last one's.
            watcher = _watchers[key] = (next(_watcher_serials), sqlite3.connect(db.database, check_same_thread=False))
        serial, conn = watcher
        return serial, conn.execute("PRAGMA data_version").fetchone()[0]


def init_app(app):
    """Configure the database from app.config and open/close a connection around each request."""
    db.init(
        app.config["DATABASE"],
        pragmas=pragmas_for(sqlite3.sqlite_version),
        timeout=app.config["SQLITE_BUSY_TIMEOUT_S"],
    )

    @app.before_request
    def _connect():
        # Remember whether this request opened the connection, so it closes only its own.
        g.db_opened = db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if g.pop("db_opened", False) and not db.is_closed():
            db.close()


# Word-prefix name search (perf.md §4.3: 0.16 ms at 206k persons, against 13 ms for a LIKE scan).
# An external-content FTS5 table kept in step with person by triggers, so every writer (the ORM,
# executemany bulk loads, imports) updates it without thinking about it.
NAME_INDEX_SQL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS person_fts USING fts5(nama, content='person', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER IF NOT EXISTS person_fts_ai AFTER INSERT ON person BEGIN "
    "INSERT INTO person_fts(rowid, nama) VALUES (new.id, new.nama); END",
    "CREATE TRIGGER IF NOT EXISTS person_fts_ad AFTER DELETE ON person BEGIN "
    "INSERT INTO person_fts(person_fts, rowid, nama) VALUES ('delete', old.id, old.nama); END",
    "CREATE TRIGGER IF NOT EXISTS person_fts_au AFTER UPDATE OF nama ON person BEGIN "
    "INSERT INTO person_fts(person_fts, rowid, nama) VALUES ('delete', old.id, old.nama); "
    "INSERT INTO person_fts(rowid, nama) VALUES (new.id, new.nama); END",
]


@contextmanager
def bulk_person_inserts():
    """Within a transaction: do the work of the person insert triggers (name index, stored jiwa, membership
    token) in one statement each at the block's end, for the persons inserted in the block.

    Inside the block, only insert persons, with new ids; change them after it (the update triggers
    count from the stored jiwa the insert trigger did not add)."""
    # Per row, the name index trigger costs 3.5 s per 200,000 persons, the INSERT … SELECT below 1 s;
    # the jiwa and token triggers another 1.8 s against well under 1 s (import benchmark).
    if not db.in_transaction():
        raise RuntimeError("bulk_person_inserts() needs a transaction")
    last = db.execute_sql("SELECT COALESCE(MAX(id), 0) FROM person").fetchone()[0]
    triggers = {"person_fts_ai": next(sql for sql in NAME_INDEX_SQL if "person_fts_ai" in sql),
                "person_jiwa_ai": next(sql for sql in jiwa_sql() if "person_jiwa_ai" in sql),
                "person_membership_ai": next(sql for sql in membership_sql() if "person_membership_ai" in sql)}
    for name in triggers:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
    try:
        yield
    finally:
        # Also when the block failed: a caller that catches the error and commits keeps what was inserted.
        try:
            db.execute_sql("INSERT INTO person_fts(rowid, nama) SELECT id, nama FROM person WHERE id > ?", (last,))
            db.execute_sql("UPDATE household SET jiwa = (SELECT COUNT(*) FROM person WHERE person.household_id "
                           f"= household.id AND {_counted('person')}) "
                           "WHERE id IN (SELECT household_id FROM person WHERE id > ?)", (last,))
            db.execute_sql(RENEW_TOKEN)
        finally:
            for sql in triggers.values():
                db.execute_sql(sql)


def name_matches(column, words):
    """SQL condition: column (a person id) belongs to a person whose name has every word as a word prefix."""
    quoted = " ".join('"{}"*'.format(word.replace('"', "")) for word in words)
    return column.in_(SQL("(SELECT rowid FROM person_fts WHERE person_fts MATCH ?)", [quoted]))


def is_id_number(column):
    """SQL condition: column has the shape of a NIK or No KK (16 digits, opening with a province code 11–96)."""
    # SQLite's CAST reads leading digits only: a value survives the round trip only when it is all digits
    # without a leading zero; the range then pins the province code. Three times cheaper than GLOB.
    number = column.cast("INTEGER")
    return ((fn.LENGTH(column) == 16) & number.between(1100000000000000, 9699999999999999)
            & (number.cast("TEXT") == column))


def joined(expression, separator):
    """SQL aggregate: every value of an expression joined into one text (one row, however many values)."""
    return fn.group_concat(expression, separator)


def date_digits(column):
    """SQL text DDMMYY of a date column, as NIK digits 7–12 write a birth date (SQLite keeps dates as ISO text;
    its strftime() has no %y before 3.44)."""
    return fn.SUBSTR(column, 9, 2).concat(fn.SUBSTR(column, 6, 2)).concat(fn.SUBSTR(column, 3, 2))


# The recap's household figures (who receives in which period, in which wilayah and desil, with how
# many jiwa) read only these columns; a status change touches none of them. Triggers give the one row
# of recap_membership a new random token whenever one changes, whoever writes, so the recap can keep
# those figures across status changes (webapp/recap.py). Random, not a counter: a database restored
# from a backup never answers with a token of a different history. 0.4 µs per inserted row.
MEMBERSHIP_COLUMNS = {
    "household": ("desa_id", "dusun", "rw", "rt", "desil", "deleted_at", "jiwa"),
    "person": ("household_id", "keberadaan", "deleted_at"),
    "disbursement": ("household_id", "period_id", "person_id", "channel", "deleted_at"),
}


RENEW_TOKEN = "UPDATE recap_membership SET token = random()"


def membership_sql():
    """The token table, its row and the triggers that renew it (idempotent statements)."""
    renew = f"BEGIN {RENEW_TOKEN}; END"
    statements = [
        "CREATE TABLE IF NOT EXISTS recap_membership (id INTEGER PRIMARY KEY CHECK (id = 1), token INTEGER NOT NULL)",
        "INSERT OR IGNORE INTO recap_membership (id, token) VALUES (1, random())",
    ]
    for table, columns in MEMBERSHIP_COLUMNS.items():
        changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)
        statements += [
            f"CREATE TRIGGER IF NOT EXISTS {table}_membership_ai AFTER INSERT ON {table} {renew}",
            f"CREATE TRIGGER IF NOT EXISTS {table}_membership_ad AFTER DELETE ON {table} {renew}",
            f"CREATE TRIGGER IF NOT EXISTS {table}_membership_au AFTER UPDATE ON {table} WHEN {changed} {renew}",
        ]
    return statements


def membership_token():
    """The current token of the recap's household figures; a new one after any change they read."""
    try:
        row = db.execute_sql("SELECT token FROM recap_membership").fetchone()
    except OperationalError:  # a database from before the token, until `flask init-db` adds it
        row = None
    return row[0] if row else object()  # never equal to anything: nothing is remembered


def _counted(row):
    """SQL: the person row counts as jiwa (living, not deleted)."""
    from .models import KEBERADAAN_JIWA

    living = ", ".join(f"'{value}'" for value in KEBERADAAN_JIWA)
    return f"{row}.deleted_at IS NULL AND {row}.keberadaan IN ({living})"


def jiwa_sql():
    """Triggers keeping household.jiwa, the count of its living members, whoever writes persons."""

    def add(row, step):
        """SQL: add step to the jiwa of the row's household when the row counts."""
        return f"UPDATE household SET jiwa = jiwa {step} WHERE id = {row}.household_id AND {_counted(row)};"

    return [
        f"CREATE TRIGGER IF NOT EXISTS person_jiwa_ai AFTER INSERT ON person BEGIN {add('new', '+ 1')} END",
        f"CREATE TRIGGER IF NOT EXISTS person_jiwa_ad AFTER DELETE ON person BEGIN {add('old', '- 1')} END",
        "CREATE TRIGGER IF NOT EXISTS person_jiwa_au AFTER UPDATE OF household_id, keberadaan, deleted_at ON person "
        f"BEGIN {add('old', '- 1')} {add('new', '+ 1')} END",
    ]


def _add_jiwa_column():
    """Give a household table from before the stored jiwa count its column (filled after the triggers exist)."""
    columns = {row[1] for row in db.execute_sql("PRAGMA table_info(household)").fetchall()}
    if not columns or "jiwa" in columns:
        return False
    db.execute_sql("ALTER TABLE household ADD COLUMN jiwa INTEGER NOT NULL DEFAULT 0")
    db.execute_sql("DROP INDEX IF EXISTS household_desa_id_dusun_rw_rt_desil_deleted_at")
    return True


def create_schema(models):
    """Create tables, indexes, the name index, the recap's membership token, the stored jiwa counts and the
    audit triggers (idempotent; brings an older database up to date)."""
    added = _add_jiwa_column()
    db.create_tables(models, safe=True)
    stored = dict(db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
    for statement in NAME_INDEX_SQL + membership_sql() + jiwa_sql():
        if statement.startswith("CREATE TRIGGER IF NOT EXISTS "):
            name = statement.split()[5]
            # SQLite keeps the statement without IF NOT EXISTS: an older version's trigger is replaced.
            if name in stored and stored[name] != statement.replace(" IF NOT EXISTS", "", 1):
                db.execute_sql(f"DROP TRIGGER {name}")
        db.execute_sql(statement)
    if added:
        db.execute_sql("UPDATE household SET jiwa = (SELECT COUNT(*) FROM person WHERE person.household_id = "
                       f"household.id AND {_counted('person')})")
        db.execute_sql("ANALYZE household")  # statistics for the new covering index
    for op in ("UPDATE", "DELETE"):
        db.execute_sql(
            f"CREATE TRIGGER IF NOT EXISTS audit_event_no_{op.lower()} BEFORE {op} ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
        )


REQUIRED_TABLES = {"desa", "user", "household", "person", "program", "period", "disbursement", "audit_event"}


def startup_problem(path):
    """Why the database file cannot serve the app (a message in Bahasa Indonesia), or None when it can."""
    import os

    if not os.path.exists(path):
        return f"Basis data {path} belum ada. Buat dengan: flask init-db"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return f"Basis data {path} rusak. Pulihkan dari cadangan: flask restore BERKAS"
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return f"Berkas {path} rusak atau bukan basis data SQLite. Pulihkan dari cadangan: flask restore BERKAS"
    missing = REQUIRED_TABLES - tables
    if missing:
        return (f"Berkas {path} bukan basis data Rekap Bansos (tabel {', '.join(sorted(missing))} tidak ada). "
                "Periksa DATABASE_URL, atau buat basis data baru dengan: flask init-db")
    return None


def optimize():
    """Refresh the query planner's statistics after bulk changes."""
    db.execute_sql("PRAGMA optimize")
    db.execute_sql("ANALYZE")

"""Faults (issue 9): a full disk during an import, a bad database file at start-up, an import racing
with status changes, and status changes racing with each other, with real concurrency.

The full disk is injected where the app really meets it: SQLite's own SQLITE_FULL ("database or disk
is full", what SQLite answers when a write hits ENOSPC) from a `max_page_count` ceiling on the import
job's connection, and OSError(ENOSPC) from the Python write calls of the upload, the staged files and
the backup before apply. No tmpfs or loop device is needed.
"""
import errno
import hashlib
import importlib.util
import itertools
import json
import os
import pathlib
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

from webapp import db as database
from webapp import demo
from webapp.jobs import DISK_FULL_MESSAGE
from webapp.models import Disbursement
from webapp.models import Period

from .conftest import PASSWORD
from .conftest import add_user
from .conftest import logged_in
from .conftest import make_app
from .gunicorn_harness import Client
from .gunicorn_harness import Server
from .test_imports_web import token
from .test_imports_web import upload
from .test_imports_web import wait

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("household", "person", "disbursement", "import_batch", "import_rejection", "audit_event")


def dtsen_file(path, rows):
    """A synthetic DTSEN person file (bench/import_dtsen.py's generator: invented people only)."""
    spec = importlib.util.spec_from_file_location("bench_import_dtsen", ROOT / "bench" / "import_dtsen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_file(path, rows)
    return path


@pytest.fixture(scope="module")
def dtsen_600(tmp_path_factory):
    """A 600-row DTSEN file, written once for this module."""
    return dtsen_file(tmp_path_factory.mktemp("dtsen") / "dtsen-600.xlsx", 600)


def contents(path):
    """A digest per data table: what a failed import must leave exactly as it was."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        digests = {}
        for table in TABLES:
            digest = hashlib.sha256()
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                digest.update(repr(row).encode())
            digests[table] = digest.hexdigest()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    return digests


def seeded(path, households=120):
    """A small demo village on a file; returns the app."""
    app = make_app(path)
    with app.app_context(), database.db.connection_context():
        demo.seed(households=households, seed=5, year=2026)
    return app


def page_count(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()


def confirm(client, job_id):
    return client.post(f"/impor/tugas/{job_id}/terapkan", data={"version_label": "DTSEN uji disk penuh"},
                       headers={"X-CSRFToken": token(client)})


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_applying_an_import_changes_nothing_and_says_so(tmp_path, monkeypatch, dtsen_600):
    path = tmp_path / "live.db"
    seeded(path)
    # The database may grow by a few pages only: the apply's inserts hit SQLITE_FULL half-way.
    ceiling = page_count(path) + 12
    normal = database.pragmas_for
    monkeypatch.setattr(database, "pragmas_for", lambda version: [*normal(version), ("max_page_count", ceiling)])
    app = make_app(path)
    client = logged_in(app)
    response = upload(client, dtsen_600.read_bytes())
    job_id, status = wait(app, response.headers["Location"])
    assert status["phase"] == "preview"
    before = contents(path)
    assert confirm(client, job_id).status_code == 303
    _, status = wait(app, f"/{job_id}", phases=("done", "failed"))
    assert status["phase"] == "failed"
    assert status["error"] == DISK_FULL_MESSAGE
    assert contents(path) == before
    assert "Ruang penyimpanan penuh" in client.get(f"/impor/tugas/{job_id}").data.decode()
    # Once there is room again, the same file imports.
    monkeypatch.setattr(database, "pragmas_for", normal)
    roomy = make_app(path)
    again = logged_in(roomy, username="operator2")
    job_id, status = wait(roomy, upload(again, dtsen_600.read_bytes()).headers["Location"])
    confirm(again, job_id)
    _, status = wait(roomy, f"/{job_id}", phases=("done", "failed"))
    assert status["phase"] == "done", status.get("error")
    assert contents(path)["person"] != before["person"]


@pytest.mark.parametrize("where", ["staged files", "backup before apply"])
def test_disk_full_in_the_import_files_or_the_backup_changes_nothing_and_says_so(tmp_path, monkeypatch, dtsen_600,
                                                                                  where):
    path = tmp_path / "live.db"
    app = seeded(path)
    client = logged_in(app)
    before = contents(path)
    if where == "staged files":
        real = pathlib.Path.write_text
        monkeypatch.setattr(pathlib.Path, "write_text",
                            lambda self, *a, **k: enospc() if self.name == "staged.json" else real(self, *a, **k))
        job_id, status = wait(app, upload(client, dtsen_600.read_bytes()).headers["Location"])
    else:
        job_id, status = wait(app, upload(client, dtsen_600.read_bytes()).headers["Location"])
        assert status["phase"] == "preview"
        before = contents(path)
        monkeypatch.setattr(os, "fsync", enospc)
        confirm(client, job_id)
        _, status = wait(app, f"/{job_id}", phases=("done", "failed"))
    assert status["phase"] == "failed"
    assert status["error"] == DISK_FULL_MESSAGE
    assert contents(path) == before


def test_disk_full_while_receiving_the_upload_says_so_and_keeps_no_partial_file(tmp_path, monkeypatch, dtsen_600):
    path = tmp_path / "live.db"
    app = seeded(path)
    client = logged_in(app)
    before = contents(path)

    def half_then_full(self, dst, buffer_size=16384):
        Path(dst).write_bytes(self.stream.read(1000))
        enospc()

    monkeypatch.setattr(FileStorage, "save", half_then_full)
    response = upload(client, dtsen_600.read_bytes())
    assert response.status_code == 422
    assert "Ruang penyimpanan penuh" in response.data.decode()
    assert contents(path) == before
    assert not any((path.parent / "imports").glob("*/upload*"))


def gunicorn_start(path):
    """gunicorn with the project's settings on a bad database: (exit status, stderr, seconds)."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"}
    started = time.monotonic()
    result = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "--config", "deploy/gunicorn.conf.py",
                             "--bind", "127.0.0.1:0", "wsgi:app"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    return result.returncode, result.stderr, time.monotonic() - started


def damage(path, kind, tmp_path):
    """Turn a good Rekap Bansos database into one of the bad files a Pi may meet after a crash or mix-up."""
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif kind == "damaged pages":
        page = int.from_bytes(data[16:18], "big")
        start = page * (len(data) // page // 2)
        path.write_bytes(data[:start] + os.urandom(page * 4) + data[start + page * 4:])
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "other app's tables":
        path.unlink()
        conn = sqlite3.connect(path)
        conn.executescript("CREATE TABLE household (id INTEGER PRIMARY KEY); CREATE TABLE person (id INTEGER);")
        conn.close()
    elif kind == "a folder":
        path.unlink()
        path.mkdir()


# The three classic cases (corrupt bytes, a foreign SQLite file, no file) are in test_deploy.py; these
# are the ones a power cut, a full card or a wrong copy leave behind.
@pytest.mark.parametrize("kind, message", [
    ("truncated", "rusak"),
    ("damaged pages", "rusak"),
    ("empty file", "bukan basis data Rekap Bansos"),
    ("other app's tables", "bukan basis data Rekap Bansos"),
    ("a folder", "rusak atau bukan basis data SQLite"),
])
def test_gunicorn_refuses_a_damaged_database_once_with_a_message_and_exit_3(tmp_path, kind, message):
    path = tmp_path / "rekap.db"
    seeded(path, households=60)
    damage(path, kind, tmp_path)
    code, stderr, seconds = gunicorn_start(path)
    assert code == 3, stderr[-2000:]
    assert stderr.count("Rekap Bansos tidak dapat dimulai") == 1 and message in stderr
    assert "Traceback" not in stderr and "Booting worker" not in stderr
    assert seconds < 20


IMPORT_SCRIPT = """
import json, sys, time
from webapp import create_app
from webapp import db as database
from webapp.importing import dtsen
app = create_app({"DATABASE_URL": "sqlite:///" + sys.argv[1], "SECRET_KEY": "race"})
with app.app_context():
    staged = dtsen.stage(sys.argv[2])
    with database.db.connection_context():
        new = dtsen.preview(staged)["counts"]["persons_new"]
        started = time.time()
        result = dtsen.apply(staged, "DTSEN balapan")
        ended = time.time()
print(json.dumps({"started": started, "ended": ended, "batch": result["batch_id"], "new": new}))
"""


def test_an_import_racing_with_status_changes_loses_neither(tmp_path):
    path = tmp_path / "live.db"
    app = seeded(path)
    xlsx = dtsen_file(tmp_path / "dtsen.xlsx", 6000)
    client = logged_in(app)
    csrf = token(client)
    with app.app_context(), database.db.connection_context():
        period = Period.select().where(~Period.closed).order_by(Period.id.desc()).first()
        rows = [(d.id, d.version, d.status) for d in Disbursement.select().where(Disbursement.period == period)]
        persons_before = database.db.execute_sql("SELECT count(*) FROM person").fetchone()[0]
    importer = subprocess.Popen([sys.executable, "-c", IMPORT_SCRIPT, str(path), str(xlsx)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    windows, confirmed, after = [], {}, 0
    deadline = time.monotonic() + 90
    for row_id, version, status in itertools.islice(itertools.cycle(rows), 20_000):
        if importer.poll() is not None:
            after += 1
            if after > 20:
                break
        assert time.monotonic() < deadline, "the import did not finish"
        version, status = confirmed.get(row_id, (version, status))
        target = "belum" if status == "cair" else "cair"
        started = time.time()
        response = client.post(f"/penyaluran/{row_id}/status", data={"status": target, "version": version},
                               headers={"X-CSRFToken": csrf, "HX-Request": "true"})
        windows.append((started, time.time()))
        assert response.status_code == 200, response.data.decode()[-500:]
        confirmed[row_id] = (version + 1, target)
    out, err = importer.communicate(timeout=120)
    assert importer.returncode == 0, err[-2000:]
    applied = json.loads(out.strip().splitlines()[-1])
    assert any(s < applied["ended"] and e > applied["started"] for s, e in windows), "the two did not overlap"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM person").fetchone()[0] == persons_before + applied["new"]
        assert conn.execute("SELECT state FROM import_batch WHERE id = ?", (applied["batch"],)).fetchone()[0] == \
            "applied"
        for row_id, (version, status) in confirmed.items():
            assert conn.execute("SELECT version, status FROM disbursement WHERE id = ?", (row_id,)).fetchone() == \
                (version, status)
            audited = conn.execute("SELECT count(*) FROM audit_event WHERE entity = 'disbursement' AND entity_id = ? "
                                   "AND field = 'status'", (row_id,)).fetchone()[0]
            assert audited == version - 1
    finally:
        conn.close()


def fire(clients, requests):
    """Send one POST per client from its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(clients))
    answers = [None] * len(clients)

    def send(i):
        path, data = requests[i]
        barrier.wait(timeout=30)
        answers[i] = clients[i].post(path, data)[0]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_fifty_parallel_status_changes_one_row_one_wins_and_fifty_rows_all_win(tmp_path):
    path = tmp_path / "live.db"
    app = seeded(path, households=200)
    add_user(app, "operator", "operator")
    with app.app_context(), database.db.connection_context():
        rows = list(Disbursement.select().join(Period).where(~Period.closed).order_by(Disbursement.id).limit(51))
    assert len(rows) == 51
    server = Server(path, tmp_path / "backups", workers=3)
    try:
        clients = []
        for _ in range(50):
            client = Client(server.url)
            client.log_in("operator", PASSWORD)
            clients.append(client)
        hot = rows[0]
        target = "belum" if hot.status == "cair" else "cair"
        answers = fire(clients, [(f"/penyaluran/{hot.id}/status", {"status": target, "version": hot.version})] * 50)
        assert sorted(answers) == [200] + [409] * 49
        answers = fire(clients, [(f"/penyaluran/{d.id}/status",
                                  {"status": "belum" if d.status == "cair" else "cair", "version": d.version})
                                 for d in rows[1:]])
        assert answers == [200] * 50
    finally:
        server.stop()
    conn = sqlite3.connect(path)
    try:
        version, status = conn.execute("SELECT version, status FROM disbursement WHERE id = ?", (hot.id,)).fetchone()
        assert (version, status) == (hot.version + 1, target)
        for d in rows:
            assert conn.execute("SELECT count(*) FROM audit_event WHERE entity = 'disbursement' AND entity_id = ? "
                                "AND field = 'status'", (d.id,)).fetchone()[0] == 1
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()

"""kill -9 of a real gunicorn at random moments never corrupts the database or loses a confirmed change."""
import http.client
import random
import sqlite3
import threading
import time
import urllib.error
import urllib.request

from webapp import db as database
from webapp import demo
from webapp.models import Disbursement
from webapp.models import Period

from .conftest import PASSWORD
from .conftest import add_user
from .conftest import make_app
from .gunicorn_harness import Client
from .gunicorn_harness import Server

ROUNDS = 8


def stored_row(path, row_id):
    """(version, status) of one disbursement, read as the next request would."""
    conn = sqlite3.connect(path, timeout=15)
    try:
        return conn.execute("SELECT version, status FROM disbursement WHERE id = ?", (row_id,)).fetchone()
    finally:
        conn.close()


def check_database(path):
    """integrity_check and foreign_key_check on the file, as the next start would see it."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute(
            "SELECT d.id, d.version, d.status, (SELECT count(*) FROM audit_event a WHERE a.entity = 'disbursement' "
            "AND a.entity_id = d.id AND a.field = 'status') FROM disbursement d").fetchall()
    finally:
        conn.close()
    return {row_id: (version, status, audited) for row_id, version, status, audited in rows}


def test_kill_9_at_random_moments(tmp_path):
    path = tmp_path / "live.db"
    app = make_app(path)
    with app.app_context(), database.db.connection_context():
        demo.seed(households=150, seed=3, year=2026)
        period = Period.select().where((Period.label == "Tahap 4 2026") & ~Period.closed).first()
        row_ids = [d.id for d in Disbursement.select().where(Disbursement.period == period)]
    add_user(app, "operator", "operator")
    rng = random.Random(7)
    confirmed = {}   # row id -> (version, status) the server confirmed
    bulk_confirmed = 0

    for _ in range(ROUNDS):
        server = Server(path, tmp_path / "backups")
        client = Client(server.url)
        client.log_in("operator", PASSWORD)
        stop = threading.Event()

        def work():
            nonlocal bulk_confirmed
            while not stop.is_set():
                try:
                    if rng.random() < 0.1:
                        target = rng.choice(["cair", "belum"])
                        status, _ = client.post(f"/periode/{period.id}/massal",
                                                {"scope": "filter", "status": target}, htmx=False)
                        if status == 303:
                            bulk_confirmed += 1
                        continue
                    row_id = rng.choice(row_ids)
                    version, current = confirmed.get(row_id, (None, None))
                    if version is None:
                        version, current = stored_row(path, row_id)
                    target = "belum" if current == "cair" else "cair"
                    status, body = client.post(f"/penyaluran/{row_id}/status", {"status": target, "version": version})
                    if status == 200:
                        confirmed[row_id] = (version + 1, target)
                    elif status == 409:
                        confirmed.pop(row_id, None)
                except (OSError, http.client.HTTPException, sqlite3.Error):
                    return  # the server was killed mid-request (or the file is busy): this round is over

        thread = threading.Thread(target=work)
        thread.start()
        time.sleep(rng.uniform(0.3, 1.2))
        server.kill()
        stop.set()
        thread.join(timeout=30)
        state = check_database(path)
        for row_id, (version, status) in confirmed.items():
            now_version, now_status, _ = state[row_id]
            assert now_version >= version, "a confirmed change was lost"
            if now_version == version:
                assert now_status == status
        for row_id, (version, _, audited) in state.items():
            assert audited == version - 1, "every committed change has exactly one status audit event"
        # Rows may have moved on through bulk changes: forget them and re-read next round.
        confirmed = {r: v for r, v in confirmed.items() if state[r][0] == v[0]}

    assert sum(v[0] for v in check_database(path).values()) > len(row_ids), "the loop did change rows"


def test_kill_9_mid_import_leaves_all_or_nothing(tmp_path):
    """An import confirmed over HTTP and killed while applying is either fully there or not at all."""
    import io

    import openpyxl

    path = tmp_path / "live.db"
    app = make_app(path)
    add_user(app, "operator", "operator")
    book = openpyxl.Workbook()
    book.active.append(["NO KK", "NIK", "NAMA", "HUBUNGAN", "DESIL"])
    for i in range(6000):
        book.active.append([f"32052212031{i:05d}", f"32052215058{i:05d}", f"Warga Uji {i}", "KEPALA KELUARGA",
                            str(i % 10 + 1)])
    buffer = io.BytesIO()
    book.save(buffer)
    rng = random.Random(11)
    for attempt in range(3):
        server = Server(path, tmp_path / "backups")
        client = Client(server.url)
        client.log_in("operator", PASSWORD)
        boundary = "----rekapbansos"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"uji{attempt}.xlsx\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + buffer.getvalue() + f"\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(server.url + "/impor/dtsen", data=body, method="POST",
                                     headers={"X-CSRFToken": client.token,
                                              "Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            with client.opener.open(req, timeout=30) as response:
                location = response.headers["Location"]
        except urllib.error.HTTPError as exc:
            location = exc.headers["Location"]
        job = location.rsplit("/", 1)[1]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, page = client.request("GET", f"/impor/tugas/{job}")
            if "Konfirmasi" in page or "sudah pernah diimpor" in page:
                break
            time.sleep(0.2)
        client.post(f"/impor/tugas/{job}/terapkan", {"version_label": f"uji {attempt}"}, htmx=False)
        time.sleep(rng.uniform(0.05, 1.5))
        server.kill()
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            households = conn.execute("SELECT count(*) FROM household").fetchone()[0]
            batches = conn.execute("SELECT count(*) FROM import_batch WHERE state = 'applied'").fetchone()[0]
        finally:
            conn.close()
        assert households in (0, 6000), "never a half-applied import"
        assert (households == 6000) == (batches >= 1)
        if households:
            break

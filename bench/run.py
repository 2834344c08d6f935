"""`make bench`: every figure of issue 9 in one table, with its target, the peers and a Pi estimate.

    .venv/bin/python bench/run.py                 # everything (4–7 minutes; seeding and files are cached)
    .venv/bin/python bench/run.py --only client   # one part: data, import, client, gunicorn, peers, pi

Data: the synthetic demo village at village scale (2,000 KK) and kecamatan scale (60,000 KK), seeded
once into bench/results/data/ (rebuilt when models.py or demo.py change), and generated DTSEN .xlsx
files of 10,000 and 200,000 rows (bench/import_dtsen.py's generator). Every part runs in a fresh child
process on a fresh copy of the data, so no figure warms or changes another. Figures are the median and
the 95th percentile (nearest rank) of repeated runs after warm-up runs.

Parts:
- import: upload → staged → confirmed → applied through the app's own upload pages (Flask test client,
  background job, backup before apply), peak RSS of the process; then the warm recap page on that data.
- client: server time through the Flask test client: recap page (/rekap when the route exists, else the
  home page, which builds the recap headline) warm and right after a status change or a household change,
  its bare SQL floor (bench/recap.py), search as you type
  (one request per keystroke), household page, inline status change, the largest list's .xlsx export,
  the verification page when /verifikasi exists.
- gunicorn: real gunicorn (deploy/gunicorn.conf.py, 2 sync workers) on 127.0.0.1: recap page over HTTP,
  proportional memory (PSS, /proc/<pid>/smaps_rollup) of master and workers after warm-up, cold start.
- peers: pandas reading the same .xlsx files and computing the same figures with groupby (file on disk,
  our page warm), and Datasette serving the same SQLite file (its facet page for the same status counts).
- pi: the village-scale client and gunicorn parts again pinned to one core (taskset -c 0); the Pi figures
  are that × 8 (Pi 4) and × 3 (Pi 5), the planning factors of docs/perf.md §7 (public n-body, phpbench
  and Geekbench ratios against this machine's own n-body run).
Everything is invented data and every request goes to 127.0.0.1.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA = RESULTS / "data"
WORK = RESULTS / "work"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
PASSWORD = "Bench-Kopi-Tubruk-7"
SCALES = {"village": 2_000, "kecamatan": 60_000}
XLSX_ROWS = (10_000, 200_000)
PI4, PI5 = 8, 3
ROLE_USERS = {"operator": "operator", "kecamatan": "kecamatan"}
# Runs per figure: (village, kecamatan).
RUNS = {"recap": (200, 30), "after_write": (50, 10), "after_household": (30, 10), "rekap_json": (100, 20), "search": (1, 1), "household": (200, 100),
        "status": (150, 100), "export": (5, 3), "verify": (20, 5), "http_recap": (100, 20),
        "datasette": (30, 10), "import": {10_000: 5, 200_000: 3}, "pandas": {10_000: 5, 200_000: 3},
        "cold": 3}


def load_module(name, path):
    """Import a sibling benchmark script as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


recap_bench = load_module("bench_recap", ROOT / "bench" / "recap.py")
import_bench = load_module("bench_import_dtsen", ROOT / "bench" / "import_dtsen.py")
percentiles = recap_bench.percentiles


def stats(seconds, unit=1000):
    """{median, p95, runs} of a list of seconds, in ms by default."""
    median, p95 = percentiles(seconds)
    return {"median": median * unit / 1000, "p95": p95 * unit / 1000, "runs": len(seconds)}


# ---------------------------------------------------------------- data

def fingerprint():
    """A short hash of the code that decides what the seeded data looks like."""
    digest = hashlib.sha256()
    for name in ("webapp/models.py", "webapp/demo.py", "webapp/db.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:10]


def dataset(households):
    """The pristine demo database of this size (seeded once per code fingerprint)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"demo-{households}-{fingerprint()}.db"
    if not path.exists():
        for old in DATA.glob(f"demo-{households}-*.db"):
            old.unlink()
        tmp = DATA / f".seeding-{households}.db"
        recap_bench.seed(households, tmp, rebuild=True)
        os.replace(tmp, path)
    return path


def xlsx_file(rows):
    """The generated DTSEN person file of this many rows (written once)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"dtsen-{rows}.xlsx"
    if not path.exists():
        tmp = DATA / f".dtsen-{rows}.xlsx"
        import_bench.write_file(tmp, rows)
        os.replace(tmp, path)
    return path


def fresh_copy(source, name):
    """A private working copy of a database file."""
    WORK.mkdir(parents=True, exist_ok=True)
    target = WORK / f"{name}.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


# ---------------------------------------------------------------- the app in a child process

def bench_app(path):
    """An app on the file, schema brought up to date, with an operator and a kecamatan viewer."""
    from webapp import accounts
    from webapp import create_app
    from webapp import db as database
    from webapp.cli import init_db
    from webapp.models import User

    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "bench-secret",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "BACKUP_DIR": str(Path(path).parent / "backups"),
                      "IMPORT_DIR": str(Path(path).parent / f"imports-{Path(path).stem}")})
    with app.app_context():
        init_db()
        with database.db.connection_context():
            for username, role in ROLE_USERS.items():
                if not User.by_username(username):
                    accounts.create_user(username, role, password=PASSWORD)
    return app


def logged_in_client(app, username):
    """A test client whose session belongs to the named user, with its CSRF token."""
    from webapp import db as database
    from webapp.models import User

    with app.app_context(), database.db.connection_context():
        user = User.by_username(username)
    client = app.test_client()
    with client.session_transaction() as session:
        session["uid"], session["epoch"] = user.id, user.session_epoch
    page = client.get("/").data.decode()
    client.csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    return client


def routes(app):
    """The URL rules the app has now (the recap and verification pages are being built alongside)."""
    return {rule.rule for rule in app.url_map.iter_rules()}


def verify_url(rules):
    """The verification page's URL, when the route exists."""
    return next((url for url in ("/verifikasi", "/verifikasi/") if url in rules), None)


def recap_url(rules):
    """The recap page: /rekap when it exists, else the home page that builds the recap headline."""
    return "/rekap" if "/rekap" in rules else "/"


def time_calls(call, runs, warmup=5, check=None):
    """Seconds of `runs` calls after warm-up; check(result) must hold for every call."""
    seconds = []
    for n in range(warmup + runs):
        started = time.perf_counter()
        result = call()
        if n >= warmup:
            seconds.append(time.perf_counter() - started)
        if check and not check(result):
            raise RuntimeError(f"HTTP {getattr(result, 'status_code', None) or result[0]}")
    return seconds


def measured(figures, key, work):
    """figures[key] = work(), or {"error": why} when the page failed (the table then says so)."""
    try:
        figures[key] = work()
    except Exception as exc:  # a page being built by someone else may fail: report it, measure the rest
        figures[key] = {"error": f"{type(exc).__name__}: {exc}"[:120]}


def ok(response):
    """True for a 200 answer of the test client."""
    return response.status_code == 200


def sample(path, scale):
    """Names, NIKs, households and open-period rows to drive the requests (read straight from SQLite)."""
    rng = random.Random(9)
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT nama FROM person WHERE deleted_at IS NULL ORDER BY id LIMIT 2000")]
        niks = [r[0] for r in conn.execute("SELECT nik FROM person WHERE deleted_at IS NULL ORDER BY id LIMIT 2000")]
        households = [r[0] for r in conn.execute("SELECT id FROM household WHERE deleted_at IS NULL")]
        rows = conn.execute(
            "SELECT d.id, d.version, d.status FROM disbursement d JOIN period p ON p.id = d.period_id "
            "WHERE NOT p.closed AND d.deleted_at IS NULL ORDER BY d.id").fetchall()
        largest = conn.execute(
            "SELECT period_id, count(*) FROM disbursement WHERE deleted_at IS NULL "
            "GROUP BY period_id ORDER BY 2 DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return {"names": rng.sample(names, 8), "niks": rng.sample(niks, 4), "households": households,
            "rows": rng.sample(rows, min(len(rows), 400)), "largest": largest, "rng": rng}


def keystrokes(data):
    """What a person types into the search box, one query per keystroke (names and NIKs)."""
    typed = []
    for name in data["names"]:
        words = name.split()[:2]
        text = " ".join(words)
        typed += [text[:n] for n in range(2, len(text) + 1) if not text[:n].endswith(" ")]
    for nik in data["niks"]:
        typed += [nik[:n] for n in range(4, 17)]
    return typed


def child_client(path, scale):
    """Server time of every page through the Flask test client; prints the figures as JSON."""
    big = scale == "kecamatan"
    runs = {key: value[big] for key, value in RUNS.items() if isinstance(value, tuple)}
    app = bench_app(path)
    rules = routes(app)
    data = sample(path, scale)
    operator = logged_in_client(app, "operator")
    url = recap_url(rules)
    figures = {"recap_url": url}
    measured(figures, "recap", lambda: stats(time_calls(lambda: operator.get(url), runs["recap"], check=ok)))
    if url != "/":
        measured(figures, "home", lambda: stats(time_calls(lambda: operator.get("/"), runs["recap"], check=ok)))
    if "/rekap.json" in rules:
        measured(figures, "rekap_json", lambda: stats(time_calls(lambda: operator.get("/rekap.json"),
                                                                 runs["rekap_json"], check=ok)))
    if verify_url(rules):
        measured(figures, "verify", lambda: stats(time_calls(lambda: operator.get(verify_url(rules)),
                                                             runs["verify"], warmup=2, check=ok)))
    typed = keystrokes(data)
    keys = iter(typed * 2)
    measured(figures, "search", lambda: stats(time_calls(
        lambda: operator.get("/cari", query_string={"q": next(keys)}, headers={"HX-Request": "true"}),
        len(typed), check=ok)))
    households = iter(data["rng"].sample(data["households"], runs["household"] + 5))
    measured(figures, "household", lambda: stats(time_calls(lambda: operator.get(f"/keluarga/{next(households)}"),
                                                            runs["household"], check=ok)))
    changes = iter(data["rows"])

    def change():
        row_id, version, status = next(changes)
        target = "belum" if status == "cair" else "cair"
        return operator.post(f"/penyaluran/{row_id}/status", data={"status": target, "version": version},
                             headers={"X-CSRFToken": operator.csrf, "HX-Request": "true"})

    measured(figures, "status", lambda: stats(time_calls(change, runs["status"], check=ok)))

    def status_change():
        """A status change through the page, the everyday write: the household figures stay remembered."""
        if not ok(change()):
            raise RuntimeError("status change failed")

    with closing(sqlite3.connect(path)) as conn:
        with_desil = [r[0] for r in conn.execute("SELECT id FROM household WHERE desil IS NOT NULL")]
    # Each household twice in a row: changed, then changed back, so the bench data stay as seeded.
    toggled = iter([h for h in data["rng"].sample(with_desil, runs["after_household"] // 2) for _ in range(2)])

    def household_change():
        """A household's desil changed by another connection, as an import does: the whole recap computes again."""
        household = next(toggled)
        conn = sqlite3.connect(path)
        try:
            with conn:
                conn.execute("UPDATE household SET desil = 11 - desil WHERE id = ?", (household,))
        finally:
            conn.close()

    def after_writes(write, count):
        """The recap page's server time right after each of count writes."""
        seconds = []
        for _ in range(count):
            write()
            started = time.perf_counter()
            response = operator.get(url)
            seconds.append(time.perf_counter() - started)
            if not ok(response):
                raise RuntimeError(f"HTTP {response.status_code}")
        return stats(seconds)

    measured(figures, "recap_after_write", lambda: after_writes(status_change, runs["after_write"]))
    measured(figures, "recap_after_household", lambda: after_writes(household_change, runs["after_household"]))
    period_id, count = data["largest"]
    measured(figures, "export", lambda: {
        **stats(time_calls(lambda: operator.get(f"/periode/{period_id}/ekspor.xlsx"), runs["export"], warmup=1,
                           check=ok), unit=1), "rows": count})
    return figures


def child_floor(path, scale):
    """bench/recap.py on this database: recap.build() and the bare SQL it runs (the floor)."""
    try:
        from webapp import cache
        # The floor is the SQL of a recap computed afresh, not of a remembered one.
        cache.remember = lambda key, compute, version=None: compute()
    except ImportError:
        pass
    figures = recap_bench.measure(path, RUNS["recap"][scale == "kecamatan"])
    return {"build": dict(zip(("median", "p95"), figures["build"])),
            "bare": dict(zip(("median", "p95"), figures["bare"])), "statements": figures["statements"]}


def child_import(xlsx, rows, folder):
    """Upload → applied through the app's upload pages, then our warm recap page on the result."""
    from webapp import db as database
    from webapp.jobs import Job

    folder = Path(folder)
    path = folder / "import.db"
    app = bench_app(path)
    operator = logged_in_client(app, "operator")
    job_root = app.config["IMPORT_DIR"]

    def wait(job_id, phases):
        """Poll the job's status file until it reaches one of phases."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = Job.find(job_root, job_id).status()
            if status["phase"] in phases:
                return status
            time.sleep(0.01)
        raise RuntimeError("import job did not finish")

    started = time.perf_counter()
    with open(xlsx, "rb") as fh:
        response = operator.post("/impor/dtsen", data={"file": (fh, "dtsen.xlsx")},
                                 headers={"X-CSRFToken": operator.csrf}, content_type="multipart/form-data")
    job_id = response.headers["Location"].rstrip("/").split("/")[-1]
    status = wait(job_id, {"preview", "failed"})
    staged = time.perf_counter()
    if status["phase"] != "preview":
        raise RuntimeError(status.get("error"))
    response = operator.post(f"/impor/tugas/{job_id}/terapkan", data={"version_label": "Bench"},
                             headers={"X-CSRFToken": operator.csrf})
    status = wait(job_id, {"done", "failed"})
    applied = time.perf_counter()
    if status["phase"] != "done":
        raise RuntimeError(status.get("error"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    url = recap_url(routes(app))
    try:
        page = stats(time_calls(lambda: operator.get(url), 30, warmup=5, check=ok))
    except RuntimeError:
        url = "/"  # the recap page is being built and failed: compare with the home page's recap headline
        page = stats(time_calls(lambda: operator.get(url), 30, warmup=5, check=ok))
    with app.app_context(), database.db.connection_context():
        kk, jiwa = database.db.execute_sql(
            "SELECT (SELECT count(*) FROM household WHERE deleted_at IS NULL), (SELECT count(*) FROM person "
            "WHERE deleted_at IS NULL AND keberadaan = 'tinggal')").fetchone()
    return {"total_s": applied - started, "staged_s": staged - started, "apply_s": applied - staged,
            "peak_rss_mb": peak, "page": page, "recap_url": url, "kk": kk, "jiwa": jiwa}


def child_pandas(xlsx):
    """The scripted spreadsheet way: read the file with pandas and compute the recap figures with groupby."""
    started = time.perf_counter()
    import pandas as pd
    imported = time.perf_counter()
    df = pd.read_excel(xlsx, dtype=str, engine="calamine")
    df["desil"] = pd.to_numeric(df["DESIL"], errors="coerce")
    df["jiwa"] = df["KETERANGAN KEBERADAAN"].str.lower().str.startswith("tinggal").astype(int)
    kk = df.groupby("NO KK").agg(dusun=("DUSUN", "first"), rw=("RW", "first"), rt=("RT", "first"),
                                 desil=("desil", "first"), jiwa=("jiwa", "sum"))
    kk["d14"] = kk["desil"].between(1, 4)
    kk["d15"] = kk["desil"].between(1, 5)
    kk["jiwa14"] = kk["jiwa"].where(kk["d14"], 0)
    kk["jiwa15"] = kk["jiwa"].where(kk["d15"], 0)
    per_desil = kk.groupby("desil", dropna=False).agg(kk=("jiwa", "size"), jiwa=("jiwa", "sum"))
    per_rt = kk.groupby(["dusun", "rw", "rt"]).agg(kk=("jiwa", "size"), jiwa=("jiwa", "sum"), kk14=("d14", "sum"),
                                                   jiwa14=("jiwa14", "sum"), kk15=("d15", "sum"),
                                                   jiwa15=("jiwa15", "sum"))
    done = time.perf_counter()
    return {"import_s": imported - started, "answer_s": done - imported, "kk": int(len(kk)),
            "jiwa": int(kk["jiwa"].sum()), "desil_groups": int(len(per_desil)), "rt_groups": int(len(per_rt))}


# ---------------------------------------------------------------- gunicorn and Datasette on 127.0.0.1

def free_port():
    """A free TCP port on 127.0.0.1."""
    from tests.gunicorn_harness import free_port as harness_free_port
    return harness_free_port()


class Service:
    """A server process on 127.0.0.1 in its own session, logging to a file, stopped by its own id."""

    def __init__(self, argv, env, log, ready_path, timeout=60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "ab")
        argv = [part.replace("{port}", str(self.port)) for part in argv]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.ready_s = self.wait(ready_path, timeout)

    def wait(self, path, timeout):
        """Seconds from start until path answers 200 (polled every 5 ms)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - self.started
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.005)
        raise RuntimeError(f"server did not answer {path}")

    def pids(self):
        """The master's pid and its children's (the workers)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return self.proc.pid, [int(pid) for pid in children]

    def stop(self):
        """SIGTERM the server's process group and wait for it."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def gunicorn(path, log, workers=2):
    """The app under gunicorn with the project's settings (deploy/gunicorn.conf.py) on a free port."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "bench-secret",
           "BACKUP_DIR": str(Path(path).parent / "backups")}
    return Service([str(BIN / "gunicorn"), "--config", str(ROOT / "deploy/gunicorn.conf.py"), "--workers",
                    str(workers), "--bind", "127.0.0.1:{port}", "--access-logfile", "/dev/null", "wsgi:app"],
                   env, log, "/healthz")


def http_client(url, username):
    """A logged-in HTTP client (tests/gunicorn_harness.py)."""
    from tests.gunicorn_harness import Client
    client = Client(url)
    client.log_in(username, PASSWORD)
    return client


def pss_mb(pid):
    """Proportional set size of a process in MB (smaps_rollup)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def heavy_libraries(pid):
    """Which of pandas, numpy, python-calamine have shared objects mapped into a process."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return sorted(name for name, needle in (("pandas", "/pandas/"), ("numpy", "/numpy/"),
                                            ("calamine", "python_calamine")) if needle in maps)


def warm_up(url, rules, data, threads=4, each=60):
    """Mixed pages from several threads at once, so that both workers serve and warm up."""
    import threading

    answers = []

    def work(seed):
        rng = random.Random(seed)
        client = http_client(url, "operator")
        recap = recap_url(rules)
        for i in range(each):
            choice = i % 4
            if choice == 0:
                status, _ = client.request("GET", recap)
            elif choice == 1:
                status, _ = client.request("GET", "/cari?q=" + rng.choice(data["names"]).split()[0][:4],
                                           headers={"HX-Request": "true"})
            elif choice == 2:
                status, _ = client.request("GET", f"/keluarga/{rng.choice(data['households'])}")
            else:
                status, _ = client.request("GET", "/")
            answers.append(status)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return answers


def child_gunicorn(path, scale):
    """Recap page over HTTP, memory after warm-up and cold start, against real gunicorn."""
    big = scale == "kecamatan"
    app = bench_app(path)
    rules = routes(app)
    data = sample(path, scale)
    url_path = recap_url(rules)
    log = Path(path).with_suffix(".gunicorn.log")
    figures = {"recap_url": url_path}
    server = gunicorn(path, log)
    try:
        warm_up(server.url, rules, data, each=30 if big else 60)
        master, workers = server.pids()
        figures["pss"] = {"master": pss_mb(master), "workers": [pss_mb(pid) for pid in workers]}
        figures["pss"]["total"] = figures["pss"]["master"] + sum(figures["pss"]["workers"])
        figures["heavy"] = sorted({lib for pid in (master, *workers) for lib in heavy_libraries(pid)})
        client = http_client(server.url, "operator")
        for key, page in (("recap", url_path), ("home", "/")):
            if key == "home" and url_path == "/":
                break
            measured(figures, key, lambda: stats(time_calls(lambda: client.request("GET", page),
                                                            RUNS["http_recap"][big],
                                                            check=lambda answer: answer[0] == 200)))
    finally:
        server.stop()
    starts, firsts = [], []
    for _ in range(RUNS["cold"]):
        server = gunicorn(path, log, workers=1)
        try:
            client = http_client(server.url, "operator")
            began = time.perf_counter()
            client.request("GET", url_path)
            firsts.append(time.perf_counter() - began)
            starts.append(server.ready_s)
        finally:
            server.stop()
    figures["cold_start"] = stats(starts)
    figures["first_recap"] = stats(firsts)
    return figures


def latest_year_periods(path):
    """The ids of the periods of the latest year with disbursements (the recap's default scope)."""
    conn = sqlite3.connect(path)
    try:
        year = conn.execute("SELECT max(p.year) FROM period p JOIN disbursement d ON d.period_id = p.id "
                            "WHERE d.deleted_at IS NULL").fetchone()[0]
        return [r[0] for r in conn.execute("SELECT id FROM period WHERE year = ? ORDER BY id", (year,))]
    finally:
        conn.close()


def child_datasette(path, scale):
    """Datasette's facet page for the status counts of the recap's periods, on the same SQLite file."""
    big = scale == "kecamatan"
    periods = ",".join(str(p) for p in latest_year_periods(path))
    env = {**os.environ}
    # Raised time limits: by default Datasette drops facets that take over 200 ms (it would show no counts).
    server = Service([str(BIN / "datasette"), "serve", str(path), "--host", "127.0.0.1", "--port", "{port}",
                      "--setting", "facet_time_limit_ms", "60000", "--setting", "sql_time_limit_ms", "60000",
                      "--setting", "suggest_facets", "off"], env, Path(path).with_suffix(".datasette.log"),
                     "/-/versions.json")
    name = Path(path).stem
    url = (f"{server.url}/{name}/disbursement?_facet=status&_facet=period_id&deleted_at__isnull=1"
           f"&period_id__in={periods}")

    def page():
        with urllib.request.urlopen(url, timeout=120) as response:
            body = response.read().decode()
        return body

    try:
        body = page()
        if "facet-status" not in body and "cair" not in body:
            raise RuntimeError("Datasette's page shows no status facet")
        figures = stats(time_calls(page, RUNS["datasette"][big], warmup=3))
    finally:
        server.stop()
    return figures


# ---------------------------------------------------------------- the parent: run children, build the table

def run_child(part, *args, pinned=False):
    """Run one part in a fresh child process (optionally pinned to core 0) and return its JSON figures."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", part, *map(str, args)]
    if pinned:
        argv = ["taskset", "-c", "0", *argv]
    started = time.perf_counter()
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    print(f"  {part} {' '.join(map(str, args))}{' (1 core)' if pinned else ''}: "
          f"{time.perf_counter() - started:.0f} s{'' if out.returncode == 0 else ' FAILED'}", file=sys.stderr,
          flush=True)
    if out.returncode != 0:
        # The tree is shared with people building other pages: a broken import must not hide every figure.
        print(out.stderr[-3000:], file=sys.stderr)
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"part {part} failed: {last}"[:160]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_import(results):
    """Upload → applied, three to five times per file size, each in a fresh process and database."""
    for rows in XLSX_ROWS:
        xlsx = xlsx_file(rows)
        runs = []
        for n in range(RUNS["import"][rows]):
            folder = WORK / f"import-{rows}-{n}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            runs.append(run_child("import", xlsx, rows, folder))
            shutil.rmtree(folder, ignore_errors=True)
        results["import"][rows] = runs


def part_client(results, pinned=False):
    """The test-client figures at both scales (village only when pinned)."""
    for scale, households in SCALES.items():
        if pinned and scale != "village":
            continue
        path = fresh_copy(dataset(households), f"client-{scale}")
        key = "client_1core" if pinned else "client"
        if not pinned:
            results["floor"][scale] = run_child("floor", path, scale)
            path = fresh_copy(dataset(households), f"client-{scale}")
        results[key][scale] = run_child("client", path, scale, pinned=pinned)


def part_gunicorn(results, pinned=False):
    """The gunicorn figures at both scales (village only when pinned)."""
    for scale, households in SCALES.items():
        if pinned and scale != "village":
            continue
        path = fresh_copy(dataset(households), f"gunicorn-{scale}")
        results["gunicorn_1core" if pinned else "gunicorn"][scale] = run_child("gunicorn", path, scale,
                                                                               pinned=pinned)


def part_peers(results):
    """pandas on the .xlsx files, Datasette on the databases."""
    for rows in XLSX_ROWS:
        xlsx = xlsx_file(rows)
        results["pandas"][rows] = [run_child("pandas", xlsx) for _ in range(RUNS["pandas"][rows])]
    for scale, households in SCALES.items():
        path = fresh_copy(dataset(households), f"datasette-{scale}")
        results["datasette"][scale] = run_child("datasette", path, scale)


def ms(value):
    """A duration in ms as table text."""
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def secs(value):
    """A duration in s as table text."""
    return "–" if value is None else f"{value:.2f} s"


class Table:
    """The one table: figure, scale, median, p95, target, verdict, one-core p95 and Pi estimates."""

    HEAD = ["Figure", "Scale", "Median", "p95", "Target", "Met?", "1 core p95", "Pi 4 (×8)", "Pi 5 (×3)", "Notes"]

    def __init__(self):
        self.rows = []
        self.verdicts = []

    def add(self, figure, scale, median, p95, target="", met=None, one_core=None, fmt=ms, note=""):
        """One row; met None means no target; one_core is the pinned p95 (same unit)."""
        verdict = "–" if met is None else ("met" if met else "**not met**")
        if met is not None:
            self.verdicts.append((figure, scale, met))
        pi = [fmt(one_core * f) if one_core is not None else "–" for f in (PI4, PI5)]
        self.rows.append([figure, scale, fmt(median) if median is not None else "–",
                          fmt(p95) if p95 is not None else "–", target, verdict,
                          fmt(one_core) if one_core is not None else "–", *pi, note])

    def markdown(self):
        """The table as GitHub markdown."""
        lines = ["| " + " | ".join(self.HEAD) + " |", "|" + "---|" * len(self.HEAD)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in self.rows]
        return "\n".join(lines)


def median_of(runs, key):
    """(median, p95) of one key over a list of run dicts, in the key's own unit."""
    values = [run[key] for run in runs]
    median, p95 = percentiles(values)
    return median / 1000, p95 / 1000


def timed_row(t, name, scale, fig, limit=None, one_core=None, fmt=ms, note="", unit_limit=""):
    """A row for a timed figure that may be missing (route not built) or failed (error)."""
    target = f"≤ {limit} {unit_limit or 'ms'}" if limit is not None else ""
    if fig is None:
        t.add(name, scale, None, None, target, None, note="route not built yet: not measured")
    elif "error" in fig:
        t.add(name, scale, None, None, target, False if limit is not None else None,
              note=f"**failed**: {fig['error']}")
    else:
        t.add(name, scale, fig["median"], fig["p95"], target, fig["p95"] <= limit if limit is not None else None,
              one_core, fmt=fmt, note=note or f"{fig['runs']} runs")


def build_table(results):
    """Turn the parts' figures into the table, with a verdict for every target of the issue."""
    t = Table()
    for key in ("client", "client_1core", "floor", "gunicorn", "gunicorn_1core", "datasette"):
        for scale, figures in list(results[key].items()):
            if "error" in figures:
                t.add(f"Part {key}", scale, None, None, note=f"**failed**: {figures['error']}")
                del results[key][scale]
    for key in ("import", "pandas"):
        for rows, runs in list(results[key].items()):
            failed = [run["error"] for run in runs if "error" in run]
            if failed:
                t.add(f"Part {key}, {rows:,} rows", "file", None, None,
                      note=f"**failed** {len(failed)} of {len(runs)} runs: {failed[0]}")
            results[key][rows] = [run for run in runs if "error" not in run]
            if not results[key][rows]:
                del results[key][rows]
    client, one = results["client"], results["client_1core"]
    guni, guni1 = results["gunicorn"], results["gunicorn_1core"]

    def pinned(scale, key, source=None, unit=1):
        """The one-core p95 of a village figure, when measured."""
        fig = (one if source is None else source).get(scale, {}).get(key) if scale == "village" else None
        return fig["p95"] / unit if fig and "p95" in fig else None

    for rows, runs in sorted(results["import"].items()):
        total, peak, staged = median_of(runs, "total_s"), median_of(runs, "peak_rss_mb"), median_of(runs, "staged_s")
        kk = runs[0]["kk"]
        if rows == 200_000:
            t.add(f"DTSEN import {rows:,} rows, upload → applied", "file", *total, "≤ 15 s", total[1] <= 15,
                  fmt=secs, note=f"{kk:,} KK; of which staging + preview {staged[0]:.1f} s; {len(runs)} runs")
            t.add(f"DTSEN import {rows:,} rows, peak memory", "file", *peak, "≤ 600 MB", peak[1] <= 600,
                  fmt=lambda v: f"{v:.0f} MB", note="ru_maxrss of the process (app + import job thread)")
        else:
            t.add(f"DTSEN import {rows:,} rows, upload → applied", "file", *total, fmt=secs,
                  note=f"{kk:,} KK; peak {peak[0]:.0f} MB; {len(runs)} runs")
    for scale in SCALES:
        c, floor = client.get(scale), results["floor"].get(scale)
        if not c:
            continue
        url = c["recap_url"]
        label = f"Recap page {url}" + (" (home page: /rekap not built yet)" if url == "/" else "")
        limit = 20 if scale == "village" else 250
        timed_row(t, label + ", test client", scale, c.get("recap"), limit, pinned(scale, "recap"))
        g = guni.get(scale)
        if g:
            timed_row(t, label + ", gunicorn HTTP", scale, g.get("recap"), limit, pinned(scale, "recap", guni1),
                      note="2 sync workers on 127.0.0.1")
        if "recap_after_write" in c:
            timed_row(t, label + ", first view after a status change", scale, c["recap_after_write"], limit,
                      pinned(scale, "recap_after_write"),
                      note="test client; household figures stay remembered, rows and rupiah are read again")
        if "recap_after_household" in c:
            timed_row(t, label + ", first view after a household change", scale, c["recap_after_household"], limit,
                      pinned(scale, "recap_after_household"),
                      note="test client; desil changed by another connection, as an import does: all computed again")
        if floor:
            t.add("Recap engine recap.build() (bench/recap.py)", scale, floor["build"]["median"],
                  floor["build"]["p95"])
            t.add("Bare SQL floor of the recap (bench/recap.py)", scale, floor["bare"]["median"],
                  floor["bare"]["p95"], note=f"{floor['statements']} statements replayed on sqlite3")
            # The ratio that means something is that of a page computing its whole recap, as the floor
            # does: a remembered recap (or its remembered household part) answers below the floor.
            fresh = c.get("recap_after_household", {})
            if "median" in fresh:
                ratio = fresh["median"] / floor["bare"]["median"]
                others = "".join(f"; {name} {c[key]['median'] / floor['bare']['median']:.1f}×"
                                 for key, name in (("recap_after_write", "after a status change"),
                                                   ("recap", "warm page")) if "median" in c.get(key, {}))
                t.add("Recap page computing its recap / floor (medians)", scale, None, None,
                      "≤ 2×" if scale == "kecamatan" else "", ratio <= 2 if scale == "kecamatan" else None,
                      note=f"**{ratio:.1f}×** (first view after a household change){others}")
        if url != "/":
            timed_row(t, "Home page (recap headline), test client", scale, c.get("home"),
                      one_core=pinned(scale, "home"))
            if g and "home" in g:
                timed_row(t, "Home page (recap headline), gunicorn HTTP", scale, g["home"],
                          one_core=pinned(scale, "home", guni1))
        if "rekap_json" in c:
            timed_row(t, "/rekap.json", scale, c["rekap_json"], one_core=pinned(scale, "rekap_json"))
        limit = 10 if scale == "village" else 25
        for key, name in (("search", "Search as you type (htmx, one request per keystroke)"),
                          ("household", "Household page"), ("status", "Inline status change (htmx POST)")):
            timed_row(t, name, scale, c.get(key), limit, pinned(scale, key))
        timed_row(t, "Verification page /verifikasi", scale, c.get("verify"),
                  1000 if scale == "kecamatan" else None, pinned(scale, "verify"))
        e = c.get("export", {})
        if "rows" in e:
            per_60k = e["p95"] * 60_000 / e["rows"]
            t.add(f".xlsx export of the largest list ({e['rows']:,} rows)", scale, e["median"], e["p95"],
                  "≤ 6 s per 60,000 rows" if scale == "kecamatan" else "",
                  per_60k <= 6 if scale == "kecamatan" else None, pinned(scale, "export"), fmt=secs,
                  note=f"{per_60k:.2f} s per 60,000 rows (p95)")
        else:
            timed_row(t, ".xlsx export of the largest list", scale, e or None, fmt=secs)
    for scale in SCALES:
        g = guni.get(scale)
        if not g:
            continue
        pss = g["pss"]
        workers = " + ".join(f"{w:.0f}" for w in pss["workers"])
        one_pss = guni1.get(scale, {}).get("pss", {}).get("total") if scale == "village" else None
        t.add("Service memory, PSS of master + 2 workers after warm-up", scale, pss["total"], pss["total"],
              "≤ 150 MB" if scale == "village" else "", pss["total"] <= 150 if scale == "village" else None,
              one_pss, fmt=lambda v: f"{v:.0f} MB",
              note=f"master {pss['master']:.0f} + workers {workers} MB; pandas/numpy/calamine mapped: "
                   f"{', '.join(g['heavy']) or 'none'}; Pi columns: memory is not scaled by CPU speed")
        if one_pss is not None:
            t.rows[-1][7] = t.rows[-1][8] = f"≈ {one_pss:.0f} MB"
        timed_row(t, "Cold start: gunicorn start → first answer (1 worker, preload)", scale,
                  {k: v / 1000 for k, v in g["cold_start"].items() if k != "runs"} | {"runs": g["cold_start"]["runs"]},
                  one_core=pinned(scale, "cold_start", guni1, unit=1000), fmt=secs)
        timed_row(t, "Cold start: first recap page on the fresh worker", scale, g["first_recap"],
                  one_core=pinned(scale, "first_recap", guni1),
                  note="after log-in, whose home page has already computed the recap headline")
    for rows, runs in sorted(results["pandas"].items()):
        theirs = median_of(runs, "answer_s")
        ours_runs = results["import"].get(rows)
        t.add(f"Peer: pandas read_excel (calamine) + groupby, {rows:,}-row file", "file", *theirs, fmt=secs,
              note=f"`import pandas` another {runs[0]['import_s']:.2f} s; {runs[0]['kk']:,} KK, "
                   f"{runs[0]['jiwa']:,} jiwa")
        if ours_runs and "median" in ours_runs[0]["page"]:
            pages = sorted(run["page"]["median"] for run in ours_runs)
            ours = pages[len(pages) // 2]
            factor = theirs[0] * 1000 / ours
            same = (runs[0]["kk"], runs[0]["jiwa"]) == (ours_runs[0]["kk"], ours_runs[0]["jiwa"])
            t.add(f"Ours / pandas: warm {ours_runs[0]['recap_url']} on the same {rows:,} rows, imported", "file",
                  ours, None, "≥ 20× faster", factor >= 20,
                  note=f"**{factor:.0f}× faster**; KK and jiwa totals {'equal' if same else '**differ**'}")
    for scale in SCALES:
        d, g = results["datasette"].get(scale), guni.get(scale, {})
        if not d:
            continue
        timed_row(t, "Peer: Datasette facet page, status × period counts", scale, d,
                  note="same SQLite file; facet time limits raised so the counts are computed")
        ours = next(((key, g[key]) for key in ("recap", "home") if "median" in g.get(key, {})), None)
        if "median" in d and ours:
            factor = d["median"] / ours[1]["median"]
            page = "recap page" if ours[0] == "recap" and g["recap_url"] != "/" else "home page (recap headline)"
            t.add(f"Ours / Datasette: {page} vs facet page, both over HTTP", scale, None, None, "faster",
                  factor > 1, note=f"**{factor:.1f}× {'faster' if factor > 1 else 'slower'}**")
    return t


def environment():
    """One line naming the machine, software and commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "webapp"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    return (f"{datetime.now():%Y-%m-%d %H:%M}, commit {commit}{' + uncommitted changes in webapp/' if dirty else ''}; "
            f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")


def main():
    """Run the parts, print the table and write it to bench/results/latest.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=["data", "import", "client", "gunicorn", "peers", "pi"])
    parser.add_argument("--child", nargs="+")
    options = parser.parse_args()
    if options.child:
        part, *args = options.child
        function = {"client": child_client, "floor": child_floor, "import": child_import, "pandas": child_pandas,
                    "gunicorn": child_gunicorn, "datasette": child_datasette}[part]
        print(json.dumps(function(*args)))
        return
    parts = options.only or ["data", "import", "client", "gunicorn", "peers", "pi"]
    started = time.perf_counter()
    state = RESULTS / "state.json"
    results = json.loads(state.read_text()) if options.only and state.exists() else {}
    for key in ("import", "client", "client_1core", "floor", "gunicorn", "gunicorn_1core", "pandas", "datasette"):
        results.setdefault(key, {})
    print("Preparing data (cached in bench/results/data)…", file=sys.stderr, flush=True)
    for households in SCALES.values():
        dataset(households)
    for rows in XLSX_ROWS:
        xlsx_file(rows)
    if "import" in parts:
        part_import(results)
    if "client" in parts:
        part_client(results)
    if "gunicorn" in parts:
        part_gunicorn(results)
    if "peers" in parts:
        part_peers(results)
    if "pi" in parts:
        part_client(results, pinned=True)
        part_gunicorn(results, pinned=True)
    if set(parts) - {"data"} or "_run" not in results:
        results["_run"] = {"environment": environment(), "seconds": time.perf_counter() - started}
    # JSON turns the row counts into strings; put them back.
    for key in ("import", "pandas"):
        results[key] = {int(rows): runs for rows, runs in results[key].items()}
    state.write_text(json.dumps(results))
    table = build_table(results)
    met = sum(1 for *_, ok_ in table.verdicts if ok_)
    text = "\n".join([
        f"# Rekap Bansos benchmark ({results['_run']['environment']}; {results['_run']['seconds']:.0f} s)", "",
        "Village = seed-demo 2,000 KK; kecamatan = seed-demo 60,000 KK; median and p95 over the runs noted. "
        "Pi columns: the village run pinned to one core (taskset -c 0) × 8 (Pi 4) and × 3 (Pi 5), "
        "planning factors from docs/perf.md §7.", "",
        table.markdown(), "",
        f"Targets met: {met} of {len(table.verdicts)}.",
    ])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""`make load`: 20 logged-in users against real gunicorn (2 workers) on 127.0.0.1 for 60 s per scale.

    .venv/bin/python bench/load.py                      # village and kecamatan scale, 60 s each
    .venv/bin/python bench/load.py --scale village --seconds 20 --users 10

Users: operators (recap, search as you type, household pages, inline status changes) and kecamatan
viewers (the recap page, its JSON, the home page), every one a plain thread with its own logged-in
urllib client (tests/gunicorn_harness.py). By default nobody pauses, so the two workers are always busy
and the p95 is mostly queueing; --think S adds a pause of 0–2·S seconds between a user's actions.
The run is bounded twice: by time and by a request count per user.

Expected, and checked afterwards: no error (every page 200; a status change 200, or 409 when another
user changed the row first), no "database is locked" in the server log, every successful status change
in the audit log exactly once with the old and new status it made, every row's version = its first
version + its successful changes, and `PRAGMA integrity_check` / `foreign_key_check` clean.
Writes bench/results/load.md. Synthetic data only (the seed-demo villages of bench/run.py).
"""
import argparse
import random
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: data, gunicorn on 127.0.0.1, percentiles)

OPERATORS, VIEWERS = 14, 6
MAX_REQUESTS_PER_USER = 20_000


def create_users(path, operators, viewers):
    """Operator and kecamatan accounts for the run; returns their user names by role."""
    from webapp import accounts
    from webapp import db as database

    app = bench.bench_app(path)
    names = {"operator": [f"op{n:02d}" for n in range(operators)],
             "kecamatan": [f"kec{n:02d}" for n in range(viewers)]}
    with app.app_context(), database.db.connection_context():
        for role, users in names.items():
            for username in users:
                accounts.create_user(username, role, password=bench.PASSWORD)
    return names, bench.routes(app)


def snapshot(path):
    """{row id: [version, status]} of the open periods' rows, plus names and households to look up."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = {r[0]: [r[1], r[2]] for r in conn.execute(
            "SELECT d.id, d.version, d.status FROM disbursement d JOIN period p ON p.id = d.period_id "
            "WHERE NOT p.closed AND d.deleted_at IS NULL")}
        names = [r[0] for r in conn.execute("SELECT nama FROM person ORDER BY id LIMIT 3000")]
        households = [r[0] for r in conn.execute("SELECT id FROM household WHERE deleted_at IS NULL")]
    finally:
        conn.close()
    return rows, names, households


class Tally:
    """Every request's kind, status and time, and the status changes that succeeded."""

    def __init__(self):
        self.lock = threading.Lock()
        self.times = defaultdict(list)
        self.statuses = defaultdict(Counter)
        self.errors = []
        self.changes = []   # (row id, version before, old status, new status)

    def add(self, kind, status, seconds, expected=(200,)):
        with self.lock:
            self.times[kind].append(seconds)
            self.statuses[kind][status] += 1
            if status not in expected:
                self.errors.append((kind, status))


class User(threading.Thread):
    """One logged-in person clicking without pause until the deadline."""

    def __init__(self, url, username, role, shared, tally, deadline, seed, think=0.0):
        super().__init__(name=username, daemon=True)
        self.url, self.username, self.role = url, username, role
        self.shared, self.tally, self.deadline = shared, tally, deadline
        self.rng = random.Random(seed)
        self.think = think

    def timed(self, kind, method, path, data=None, headers=None, expected=(200,)):
        """One request, recorded; connection failures count as errors."""
        started = time.perf_counter()
        try:
            status, body = (self.client.post(path, data) if method == "POST"
                            else self.client.request(method, path, headers=headers))
        except OSError as exc:
            status, body = f"{type(exc).__name__}", ""
        self.tally.add(kind, status, time.perf_counter() - started, expected)
        return status, body

    def run(self):
        from tests.gunicorn_harness import Client
        try:
            self.client = Client(self.url)
            self.client.log_in(self.username, bench.PASSWORD)
        except Exception as exc:  # a failed log-in is an error of the run, not a crash of the script
            self.tally.add("log-in", type(exc).__name__, 0.0)
            return
        for _ in range(MAX_REQUESTS_PER_USER):
            if time.monotonic() >= self.deadline:
                return
            if self.role == "operator":
                self.operator_step()
            else:
                self.viewer_step()
            if self.think:
                time.sleep(min(self.rng.uniform(0, 2 * self.think), max(0.0, self.deadline - time.monotonic())))

    def operator_step(self):
        """Recap, a search typed letter by letter, a household page or a status change."""
        roll = self.rng.random()
        if roll < 0.2:
            self.timed("recap page", "GET", self.shared["recap"])
        elif roll < 0.5:
            name = self.rng.choice(self.shared["names"]).split()[0]
            for n in range(2, min(len(name), 6) + 1):
                self.timed("search keystroke", "GET", "/cari?q=" + name[:n], headers={"HX-Request": "true"})
        elif roll < 0.75:
            self.timed("household page", "GET", f"/keluarga/{self.rng.choice(self.shared['households'])}")
        else:
            self.change_status()

    def viewer_step(self):
        """The kecamatan's view: recap figures only."""
        roll = self.rng.random()
        if roll < 0.6 or not self.shared["recap_json"]:
            self.timed("recap page", "GET", self.shared["recap"])
        elif roll < 0.8:
            self.timed("recap JSON", "GET", "/rekap.json")
        else:
            self.timed("home page", "GET", "/")

    def change_status(self):
        """Flip one open row between belum and cair at the version last seen (409 when someone was first)."""
        rows, lock = self.shared["rows"], self.shared["rows_lock"]
        row_id = self.rng.choice(self.shared["row_ids"])
        with lock:
            version, current = rows[row_id]
        target = "belum" if current == "cair" else "cair"
        status, _ = self.timed("status change", "POST", f"/penyaluran/{row_id}/status",
                               {"status": target, "version": version}, expected=(200, 409))
        with lock:
            if status == 200:
                self.tally.changes.append((row_id, version, current, target))
                if rows[row_id][0] == version:
                    rows[row_id] = [version + 1, target]
            elif status == 409:
                rows[row_id] = list(fresh_row(self.shared["path"], row_id))


def fresh_row(path, row_id):
    """(version, status) of one row as the database has it now (after a 409)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT version, status FROM disbursement WHERE id = ?", (row_id,)).fetchone()
    finally:
        conn.close()


def verify(path, first, changes):
    """Problems found after the run: audit log, versions, integrity."""
    problems = []
    conn = sqlite3.connect(path)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("integrity_check failed")
        if conn.execute("PRAGMA foreign_key_check").fetchall():
            problems.append("foreign_key_check found orphans")
        audited = Counter(conn.execute(
            "SELECT entity_id, old, new FROM audit_event WHERE entity = 'disbursement' AND field = 'status' "
            "AND action = 'penyaluran.ubah'").fetchall())
        versions = dict(conn.execute("SELECT id, version FROM disbursement").fetchall())
    finally:
        conn.close()
    made = Counter((row_id, old, new) for row_id, _, old, new in changes)
    if made != audited:
        missing, extra = made - audited, audited - made
        problems.append(f"audit log differs from the confirmed changes: {sum(missing.values())} missing, "
                        f"{sum(extra.values())} unexpected")
    per_row = Counter(row_id for row_id, *_ in changes)
    wrong = [r for r, n in per_row.items() if versions[r] != first[r][0] + n]
    if wrong:
        problems.append(f"{len(wrong)} rows whose version is not first version + confirmed changes")
    return problems


def run_scale(scale, users, seconds, think=0.0):
    """One load run at one scale; returns the report lines and whether everything held."""
    path = bench.fresh_copy(bench.dataset(bench.SCALES[scale]), f"load-{scale}")
    operators = max(1, round(users * OPERATORS / (OPERATORS + VIEWERS)))
    names, rules = create_users(path, operators, users - operators)
    rows, person_names, households = snapshot(path)
    first = {row_id: tuple(value) for row_id, value in rows.items()}
    log = path.with_suffix(".gunicorn.log")
    log.unlink(missing_ok=True)
    shared = {"recap": bench.recap_url(rules), "recap_json": "/rekap.json" in rules, "rows": rows,
              "row_ids": sorted(rows), "rows_lock": threading.Lock(), "names": person_names,
              "households": households, "path": path}
    tally = Tally()
    server = bench.gunicorn(path, log)
    try:
        deadline = time.monotonic() + seconds
        crowd = [User(server.url, username, role, shared, tally, deadline, seed, think)
                 for seed, (role, username) in enumerate((role, u) for role, us in names.items() for u in us)]
        started = time.perf_counter()
        for user in crowd:
            user.start()
        for user in crowd:
            user.join(timeout=seconds + 120)
        elapsed = time.perf_counter() - started
    finally:
        server.stop()
    text = log.read_text(errors="replace")
    locked = text.count("database is locked")
    failures = text.count("database unavailable") + text.count("unexpected ")
    problems = verify(path, first, tally.changes)
    total = sum(len(v) for v in tally.times.values())
    lines = [f"### {scale.capitalize()} scale ({bench.SCALES[scale]:,} KK): {operators} operators + "
             f"{users - operators} kecamatan viewers, {elapsed:.0f} s, {total:,} requests ({total / elapsed:.0f}/s), "
             f"think time {'none' if not think else f'0–{2 * think:g} s'}",
             "", "| Request | Count | Answers | Median | p95 | Max |", "|---|---|---|---|---|---|"]
    for kind in sorted(tally.times):
        median, p95 = bench.percentiles(tally.times[kind])
        answers = ", ".join(f"{code}: {n:,}" for code, n in sorted(tally.statuses[kind].items(), key=str))
        lines.append(f"| {kind} | {len(tally.times[kind]):,} | {answers} | {bench.ms(median)} | {bench.ms(p95)} | "
                     f"{bench.ms(max(tally.times[kind]) * 1000)} |")
    passed = not tally.errors and not locked and not failures and not problems
    lines += ["", f"Errors: {len(tally.errors)}; \"database is locked\" in the server log: {locked}; "
                  f"server-side failures logged: {failures}; confirmed status changes: {len(tally.changes):,}, "
                  f"audited exactly once each: {'yes' if not problems else 'NO'}; integrity_check: "
                  f"{'ok' if 'integrity_check failed' not in problems else 'FAILED'}.",
              *(f"- problem: {p}" for p in problems),
              *(f"- error: {kind} answered {status}" for kind, status in Counter(tally.errors)),
              f"Result: {'PASS' if passed else 'FAIL'}", ""]
    return lines, passed


def main():
    """Run the load at each scale, print and write the report; exit 1 when anything failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=list(bench.SCALES), action="append")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--think", type=float, default=0.0, help="mean pause between a user's actions, seconds")
    options = parser.parse_args()
    if not 1 <= options.users <= 50 or not 1 <= options.seconds <= 600 or not 0 <= options.think <= 30:
        parser.error("users 1–50, seconds 1–600, think 0–30")
    lines, passed = [f"# Load test ({bench.environment()})", ""], True
    for scale in options.scale or list(bench.SCALES):
        print(f"Load at {scale} scale for {options.seconds:.0f} s…", file=sys.stderr, flush=True)
        part, ok = run_scale(scale, options.users, options.seconds, options.think)
        lines += part
        passed &= ok
    text = "\n".join(lines)
    (bench.RESULTS / "load.md").write_text(text + "\n")
    print(text)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()

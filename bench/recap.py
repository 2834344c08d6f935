"""Benchmark of the recap (issue 6): the full recap, and the bare SQL behind it, at village and kecamatan scale.

    .venv/bin/python bench/recap.py               # 2,000 and 60,000 KK, 30 timed runs each
    .venv/bin/python bench/recap.py 2000 --runs 100
    .venv/bin/python bench/recap.py --rebuild     # seed the databases again

Each size is the synthetic demo village (`flask seed-demo --households N`, invented people) seeded once
into bench/results/recap-N.db and kept for later runs; the app's own init-db brings its indexes up to
date before timing. On one connection, after three warm-up runs, it times recap.build() (every figure
the page, the exports, the print view and the CLI read) and the same followed by as_json() and
summary_text(). It then replays the SQL statements build() ran, straight on the sqlite3 connection
(execute + fetchall, no Peewee, no Python after it), to show the floor the recap stands on.
Figures are the median and the 95th percentile of the timed runs.
Targets (issue 6): under 20 ms at 2,000 KK, under 250 ms at 60,000 KK; aim: recap ≤ 2 × bare SQL.
"""
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGETS_MS = {2_000: 20, 60_000: 250}


def seed(households, path, rebuild):
    """Seed the demo village of this size into path unless it is there already."""
    if path.exists() and not rebuild:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    subprocess.run([str(Path(sys.executable).parent / "flask"), "seed-demo", "--households", str(households)],
                   check=True, cwd=ROOT, env={"DATABASE_URL": f"sqlite:///{path}", "PATH": "/usr/bin:/bin",
                                              "SECRET_KEY": "bench"})


def percentiles(seconds):
    """(median, p95) in milliseconds."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(function, runs):
    """Run a function `runs` times and return the seconds of each run."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(path, runs):
    """Time the recap and its bare SQL on one database; return the figures."""
    sys.path.insert(0, str(ROOT))
    from webapp import create_app
    from webapp import db as database
    from webapp import recap
    from webapp.cli import init_db

    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "bench"})
    with app.app_context():
        init_db()
        with database.db.connection_context():
            database.optimize()
            for _ in range(3):
                result = recap.build()
            statements = []
            execute = database.db.execute_sql

            def capture(sql, params=None, *args, **kwargs):
                statements.append((sql, params or ()))
                return execute(sql, params, *args, **kwargs)

            database.db.execute_sql = capture
            try:
                recap.build()
            finally:
                database.db.execute_sql = execute
            connection = database.db.connection()

            def bare():
                for sql, params in statements:
                    connection.execute(sql, params).fetchall()

            def everything():
                built = recap.build()
                recap.as_json(built)
                recap.summary_text(built)

            bare()
            return {
                "kk": result.totals.data.kk, "jiwa": result.totals.data.jiwa,
                "rows": sum(p.rows.total.n for p in result.programs), "scope": result.scope.text(),
                "statements": len(statements),
                "build": percentiles(timed(recap.build, runs)),
                "everything": percentiles(timed(everything, runs)),
                "bare": percentiles(timed(bare, runs)),
            }


def main():
    """Seed, time and print one line per size, with the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[2_000, 60_000])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    options = parser.parse_args()
    for households in options.sizes:
        path = RESULTS / f"recap-{households}.db"
        seed(households, path, options.rebuild)
        f = measure(path, options.runs)
        (build_median, build_p95), (all_median, all_p95) = f["build"], f["everything"]
        bare_median, bare_p95 = f["bare"]
        target = TARGETS_MS.get(households)
        verdict = f"; target p95 < {target} ms: {'ok' if build_p95 < target else 'MISSED'}" if target else ""
        print(f"{households:>6} KK ({f['kk']} KK, {f['jiwa']} jiwa, {f['rows']} rows in scope: {f['scope']})")
        print(f"       recap.build()            median {build_median:7.1f} ms  p95 {build_p95:7.1f} ms{verdict}")
        print(f"       + as_json + summary_text median {all_median:7.1f} ms  p95 {all_p95:7.1f} ms")
        print(f"       bare SQL ({f['statements']} statements)  median {bare_median:7.1f} ms  p95 {bare_p95:7.1f} ms"
              f"  (recap / bare SQL = {build_median / bare_median:.2f})")


if __name__ == "__main__":
    main()

"""Benchmark of the verification page (issue 7) at village and kecamatan scale.

    .venv/bin/python bench/verification.py               # 2,000 and 60,000 KK, 10 timed runs each
    .venv/bin/python bench/verification.py 60000 --runs 20
    .venv/bin/python bench/verification.py --rebuild     # seed the databases again

Each size is the synthetic demo village (`flask seed-demo --households N`, invented people) seeded once
into bench/results/verification-N.db and kept for later runs; the app's own init-db brings its tables
and indexes up to date before timing. On one connection, after two warm-up runs, it times
checks.run_checks() (every check with its findings and open count) and each check alone; then, through
the Flask test client as a logged-in operator, the whole verification page (/verifikasi/), the longest
list's first page and the home page, which shows the open count. Nothing is cached between runs.
Figures are the median and the 95th percentile (nearest rank) of the timed runs.
Target (issue 7): the whole page under 1 s at 60,000 KK.
"""
import argparse
import sys

from recap import RESULTS
from recap import ROOT
from recap import percentiles
from recap import seed
from recap import timed

TARGET_MS = {60_000: 1000}


def warmed(function, runs, warm=2):
    """Run a function `warm` times untimed, then time it `runs` times (bench/recap.py's timed())."""
    for _ in range(warm):
        function()
    return timed(function, runs)


def operator_client(app):
    """A test client logged in as a benchmark operator (created once in the benchmark database)."""
    from webapp import accounts
    from webapp import db as database
    from webapp.models import User

    with app.app_context(), database.db.connection_context():
        user = User.by_username("bench-operator")
        if user is None:
            user, _ = accounts.create_user("bench-operator", "operator", password="Kopi-Tubruk-Pagi-7")
    client = app.test_client()
    with client.session_transaction() as session:
        session["uid"], session["epoch"] = user.id, user.session_epoch
    return client


def get(client, url):
    """GET a page and insist on 200."""
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return response


def measure(path, runs):
    """Time the checks and the pages on one database; return the figures."""
    sys.path.insert(0, str(ROOT))
    from webapp import checks
    from webapp import create_app
    from webapp import db as database
    from webapp.cli import init_db

    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        init_db()
        with database.db.connection_context():
            database.optimize()
            results = checks.run_checks()
            longest = max(results, key=lambda r: r.total)
            per_check = {}
            for found in checks.CHECKS.values():
                def one(found=found):
                    """One check on its own, with a Run of its own (no shared scans)."""
                    found.find(checks.Run())
                per_check[found.id] = percentiles(warmed(one, max(3, runs // 2), warm=1))[0]
            figures = {
                "kk": database.db.execute_sql("SELECT count(*) FROM household").fetchone()[0],
                "open": checks.open_count(results), "total": sum(r.total for r in results),
                "longest": (longest.check.id, longest.total),
                "run_checks": percentiles(warmed(checks.run_checks, runs)),
                "per_check": per_check,
            }
    client = operator_client(app)
    figures["page"] = percentiles(warmed(lambda: get(client, "/verifikasi/"), runs))
    figures["list"] = percentiles(warmed(lambda: get(client, f"/verifikasi/{figures['longest'][0]}"), runs))
    figures["home"] = percentiles(warmed(lambda: get(client, "/"), runs))
    return figures


def main():
    """Seed, time and print the figures per size, with the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[2_000, 60_000])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rebuild", action="store_true")
    options = parser.parse_args()
    for households in options.sizes:
        path = RESULTS / f"verification-{households}.db"
        seed(households, path, options.rebuild)
        f = measure(path, options.runs)
        target = TARGET_MS.get(households)
        page_median, page_p95 = f["page"]
        verdict = f"; target p95 < {target} ms: {'ok' if page_p95 < target else 'MISSED'}" if target else ""
        print(f"{households:>6} KK ({f['kk']} KK; {f['open']} open findings of {f['total']}; "
              f"longest list {f['longest'][0]}: {f['longest'][1]})")
        print(f"       /verifikasi/ page         median {page_median:7.1f} ms  p95 {page_p95:7.1f} ms{verdict}")
        for label, key in (("checks.run_checks()", "run_checks"), (f"list {f['longest'][0]}", "list"),
                           ("home page (with count)", "home")):
            median, p95 = f[key]
            print(f"       {label:<26} median {median:7.1f} ms  p95 {p95:7.1f} ms")
        slowest = sorted(f["per_check"].items(), key=lambda item: -item[1])[:6]
        print("       slowest checks (median): " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in slowest))


if __name__ == "__main__":
    main()

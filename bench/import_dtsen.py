"""Benchmark of the DTSEN import: a synthetic person file from upload to applied, in a fresh child process.

    .venv/bin/python bench/import_dtsen.py            # 10,000 and 200,000 rows
    .venv/bin/python bench/import_dtsen.py 50000      # other sizes

Each size is written as .xlsx by XlsxWriter (NIK/No KK/RT/RW as text cells, birth dates as date cells,
desil as numbers; every person invented) into a temporary folder. A child process then creates an app on
a fresh SQLite file and times stage (read + normalise) + preview + apply, reporting its peak RSS
(ru_maxrss). Targets (issue 4): 10,000 rows < 1.5 s; 200,000 rows < 15 s and < 600 MB.
It then imports the same data again from a second file (a title row above the header, so another
SHA-256): the quarterly re-import, where every row is compared with the database and found unchanged.
"""
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADERS = ["NO KK", "NIK", "NAMA", "HUBUNGAN", "JENIS KELAMIN", "TANGGAL LAHIR", "ALAMAT", "RT", "RW", "DUSUN",
           "DESIL", "KETERANGAN KEBERADAAN"]
TARGETS = {10_000: (1.5, None), 200_000: (15.0, 600)}


def write_file(path, rows, seed=4, title=None):
    """Write a person-per-row DTSEN file of `rows` synthetic persons, optionally under a title row."""
    import xlsxwriter
    from faker.providers.person.id_ID import Provider as Names

    rng = random.Random(seed)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("DTSEN")
    when = book.add_format({"num_format": "dd-mm-yyyy"})
    top = 0
    if title:
        sheet.write_string(0, 0, title)
        top = 2
    sheet.write_row(top, 0, HEADERS)
    line, family = 1, 0
    while line <= rows:
        family += 1
        no_kk = f"3205{22 + family % 20:02d}{family:010d}"
        dusun, rt, rw = f"Dusun {family % 14 + 1}", f"{family % 9 + 1:03d}", f"{family % 4 + 1:03d}"
        desil = rng.choice([None, *range(1, 11)])
        for member in range(min(rng.choice([1, 2, 3, 3, 4, 4, 5, 6]), rows - line + 1)):
            sex = "L" if (member == 0) == (rng.random() < 0.85) else "P"
            born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 30000))
            day = born.day + (40 if sex == "P" else 0)
            nik = f"3205{line // 10000 % 90 + 10:02d}{day:02d}{born.month:02d}{born.year % 100:02d}{line % 10000:04d}"
            first = rng.choice(Names.first_names_male if sex == "L" else Names.first_names_female)
            at = top + line
            sheet.write_string(at, 0, no_kk)
            sheet.write_string(at, 1, nik)
            sheet.write_string(at, 2, f"{first} {rng.choice(Names.last_names_male)}")
            sheet.write_string(at, 3, "Kepala Keluarga" if member == 0 else rng.choice(["Istri", "Anak", "Anak"]))
            sheet.write_string(at, 4, sex)
            sheet.write_datetime(at, 5, born, when)
            sheet.write_string(at, 6, f"Kp. {dusun} RT {rt}/RW {rw}")
            sheet.write_string(at, 7, rt)
            sheet.write_string(at, 8, rw)
            sheet.write_string(at, 9, dusun)
            if desil is not None:
                sheet.write_number(at, 10, desil)
            sheet.write_string(at, 11, "Tinggal bersama")
            line += 1
    book.close()


def child(path, again, database):
    """Import a file into a fresh database, then the same data from another file; print figures as JSON."""
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    from webapp import create_app
    from webapp import db as db_module
    from webapp.cli import init_db
    from webapp.importing import dtsen

    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "bench"})
    with app.app_context():
        init_db()
        ready = time.perf_counter()
        staged = dtsen.stage(path)
        staged_at = time.perf_counter()
        with db_module.db.connection_context():
            preview = dtsen.preview(staged)
            previewed = time.perf_counter()
            rows, households = staged["rows"], preview["counts"]["households_new"]
            result = dtsen.apply(staged, "Bench")
        applied = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        del staged, preview
        restaged = dtsen.stage(again)
        with db_module.db.connection_context():
            unchanged = dtsen.preview(restaged)["counts"]["rows_unchanged"]
            dtsen.apply(restaged, "Bench lagi")
        reapplied = time.perf_counter()
    print(json.dumps({
        "reimport_s": reapplied - applied, "reimport_unchanged": unchanged,
        "startup_s": ready - started, "stage_s": staged_at - ready, "preview_s": previewed - staged_at,
        "apply_s": applied - previewed, "total_s": applied - ready, "rows": rows, "households": households,
        "batch": result["batch_id"], "peak_rss_mb": peak,
        "reimport_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run(rows, folder):
    """Write a file of `rows` rows, import it in a child process and return the child's figures."""
    path, again = Path(folder) / f"dtsen-{rows}.xlsx", Path(folder) / f"dtsen-{rows}-lagi.xlsx"
    started = time.perf_counter()
    write_file(path, rows)
    written = time.perf_counter() - started
    write_file(again, rows, title="DTSEN (salinan)")
    database = Path(folder) / f"bench-{rows}.db"
    out = subprocess.run([sys.executable, __file__, "--child", str(path), str(again), str(database)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures.update(write_s=written, file_mb=path.stat().st_size / 1e6)
    return figures


def main(sizes):
    """Run every size and print a table with the targets."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        for rows in sizes:
            f = run(rows, folder)
            seconds, megabytes = TARGETS.get(rows, (None, None))
            verdict = []
            if seconds:
                verdict.append(f"target < {seconds} s: {'ok' if f['total_s'] < seconds else 'MISSED'}")
            if megabytes:
                verdict.append(f"target < {megabytes} MB: {'ok' if f['peak_rss_mb'] < megabytes else 'MISSED'}")
            print(f"{rows:>7} rows ({f['file_mb']:.1f} MB .xlsx, {f['households']} KK): "
                  f"stage {f['stage_s']:.2f} s + preview {f['preview_s']:.2f} s + apply {f['apply_s']:.2f} s "
                  f"= {f['total_s']:.2f} s; peak RSS {f['peak_rss_mb']:.0f} MB "
                  f"(app start {f['startup_s']:.2f} s) {'; '.join(verdict)}")
            print(f"{'':>7} re-import of the same data from another file: {f['reimport_s']:.2f} s, "
                  f"{f['reimport_unchanged']} rows unchanged; peak RSS {f['reimport_peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
    else:
        main([int(arg) for arg in sys.argv[1:]] or [10_000, 200_000])

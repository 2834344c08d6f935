"""Install script, systemd units, health check, backups and restore."""
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import threading
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest

from webapp import backups
from webapp import db as database
from webapp import recap
from webapp.models import Disbursement
from webapp.models import Household
from webapp.models import Person

from .conftest import logged_in
from webapp import create_app

ROOT = Path(__file__).resolve().parent.parent
UNITS = ["rekap-bansos.service", "rekap-bansos-backup.service", "rekap-bansos-backup.timer"]


def install(prefix, *args):
    return subprocess.run(["bash", str(ROOT / "deploy" / "install.sh"), "--prefix", str(prefix), *args],
                          capture_output=True, text=True, timeout=120)


def settings(prefix):
    text = (prefix / "etc/rekap-bansos/rekap-bansos.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_install_writes_app_settings_data_and_units_below_the_prefix(tmp_path):
    result = install(tmp_path, "--port", "8080", "--desa-kode", "3205122002", "--kecamatan", "Cibatu")
    assert result.returncode == 0, result.stderr
    app_dir = tmp_path / "opt/rekap-bansos"
    assert (app_dir / "wsgi.py").exists() and (app_dir / "webapp/models.py").exists()
    assert not (app_dir / ".git").exists() and not (app_dir / "instance").exists()
    env_file = tmp_path / "etc/rekap-bansos/rekap-bansos.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o640
    values = settings(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{64}", values["SECRET_KEY"])
    assert values["DATABASE_URL"] == f"sqlite:///{tmp_path}/var/lib/rekap-bansos/rekap-bansos.db"
    assert values["BIND"] == '"0.0.0.0:8080"' and values["DESA_KODE"] == '"3205122002"'
    assert (tmp_path / "var/lib/rekap-bansos/backups").is_dir()
    service = (tmp_path / "etc/systemd/system/rekap-bansos.service").read_text()
    assert f"ExecStart={app_dir}/.venv/bin/gunicorn" in service
    for needle in ("Type=notify", "User=rekap-bansos", "Restart=on-failure", "NoNewPrivileges=yes",
                   "ProtectSystem=strict", "PrivateTmp=yes", f"ReadWritePaths={tmp_path}/var/lib/rekap-bansos"):
        assert needle in service
    assert "<port>8080</port>" in (tmp_path / "etc/avahi/services/rekap-bansos.service").read_text()
    for command in ("apt-get install", "useradd --system", "systemctl enable --now rekap-bansos-backup.timer"):
        assert command in result.stdout
    assert "http://" in result.stdout and ":8080/" in result.stdout


def test_install_again_keeps_the_secret_and_data(tmp_path):
    assert install(tmp_path).returncode == 0
    first = settings(tmp_path)["SECRET_KEY"]
    data = tmp_path / "var/lib/rekap-bansos/rekap-bansos.db"
    data.write_bytes(b"kept")
    again = install(tmp_path, "--desa-nama", "Mekar Sari")
    assert again.returncode == 0, again.stderr
    assert settings(tmp_path)["SECRET_KEY"] == first
    assert settings(tmp_path)["DESA_NAMA"] == '"Mekar Sari"'
    assert data.read_bytes() == b"kept"
    assert "pemutakhiran" in again.stdout
    assert install(tmp_path, "--desa-nama", 'a"b').returncode == 2


def test_systemd_units_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed on this machine, so the units cannot be verified here")
    assert install(tmp_path).returncode == 0
    bin_dir = tmp_path / "opt/rekap-bansos/.venv/bin"
    bin_dir.mkdir(parents=True)
    for name in ("gunicorn", "flask"):  # the venv itself is not built under --prefix
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    units = [str(tmp_path / "etc/systemd/system" / unit) for unit in UNITS]
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthz_answers_without_log_in(app, tmp_path):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.data == b"ok\n"
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    sick = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{broken}", "SECRET_KEY": "x"})
    response = sick.test_client().get("/healthz")
    assert response.status_code == 503 and response.data != b"ok\n"


def stamps(days):
    start = datetime(2026, 12, 1, 2, 30)
    return [start - timedelta(days=d) for d in range(days)]


def test_rotation_keeps_7_daily_4_weekly_6_monthly():
    all_stamps = stamps(400)
    keep = backups.to_keep(all_stamps)
    daily = sorted(all_stamps, reverse=True)[:7]
    assert set(daily) <= keep
    months = {(s.year, s.month) for s in keep}
    assert len(months) == 6
    assert len(keep) <= 7 + 4 + 6
    assert min(keep) >= datetime(2026, 7, 1)


def test_backup_command_verifies_rotates_and_mirrors(demo_app, tmp_path):
    mirror = tmp_path / "usb"
    demo_app.config["BACKUP_MIRROR"] = str(mirror)
    result = demo_app.test_cli_runner().invoke(args=["backup"])
    assert result.exit_code == 0, result.output
    assert "Cadangan terverifikasi" in result.output
    folder = Path(demo_app.config["BACKUP_DIR"])
    made = backups.backup_files(folder)
    assert len(made) == 1 and backups.integrity_ok(made[0][1])
    assert list(mirror.glob("rekap-bansos-*.db"))
    status = backups.last_status(folder)
    assert status["ok"] and status["size"] == made[0][1].stat().st_size
    old = [folder / f"rekap-bansos-2020{month:02d}01-000000.db" for month in range(1, 9)]
    for path in old:
        shutil.copy(made[0][1], path)
    backups.backup(demo_app.config["DATABASE"], folder, when=datetime(2026, 12, 4, 3, 0))
    # Kept: the 7 newest days (Dec 2026 and Mar–Aug 2020), which also cover the weekly and monthly buckets.
    assert [p.exists() for p in old] == [False] * 2 + [True] * 6


def test_backup_during_writes_then_restore_and_use_the_app(demo_app, tmp_path):
    folder = Path(demo_app.config["BACKUP_DIR"])
    stop = threading.Event()
    written = []

    def writer():
        with demo_app.app_context(), database.db.connection_context():
            ids = [d.id for d in Disbursement.select().limit(200)]
            for i, row_id in enumerate(ids):
                if stop.is_set():
                    break
                with database.db.atomic("IMMEDIATE"):
                    Disbursement.update(note=f"tulis {i}").where(Disbursement.id == row_id).execute()
                written.append(row_id)

    thread = threading.Thread(target=writer)
    thread.start()
    outcome = backups.backup(demo_app.config["DATABASE"], folder)
    stop.set()
    thread.join()
    assert backups.integrity_ok(outcome.path)
    with demo_app.app_context(), database.db.connection_context():
        before = list(Household.select(Household.id, Household.desil).order_by(Household.id).tuples())
        Household.update(desil=1).execute()

    result = demo_app.test_cli_runner().invoke(args=["restore", str(outcome.path), "--yes"])
    assert result.exit_code == 0, result.output
    assert "dipulihkan" in result.output and "sebelumnya disimpan" in result.output
    with demo_app.app_context(), database.db.connection_context():
        assert list(Household.select(Household.id, Household.desil).order_by(Household.id).tuples()) == before
    client = logged_in(demo_app)
    assert client.get("/").status_code == 200
    assert client.get("/cari?q=3205").status_code == 200
    assert list(folder.glob("sebelum-pulih-*.db"))


def test_a_backup_from_an_older_version_is_brought_up_to_date_on_restore(demo_app, tmp_path):
    old = tmp_path / "lama.db"
    backups.copy_database(demo_app.config["DATABASE"], old)
    conn = sqlite3.connect(old)
    with conn:  # the schema before the stored jiwa and the recap's membership token
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                    "AND (name LIKE '%_jiwa_%' OR name LIKE '%_membership_%')").fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DROP TABLE recap_membership")
        conn.execute("DROP INDEX household_desa_id_dusun_rw_rt_desil_deleted_at_jiwa")
        conn.execute("ALTER TABLE household DROP COLUMN jiwa")
    conn.close()
    result = demo_app.test_cli_runner().invoke(args=["restore", str(old), "--yes"])
    assert result.exit_code == 0, result.output
    page = logged_in(demo_app).get("/rekap")
    assert page.status_code == 200
    with demo_app.app_context(), database.db.connection_context():
        totals = recap.build().totals.data
        living = Person.select().where(Person.deleted_at.is_null() & Person.keberadaan.in_(("tinggal", "baru")))
        assert totals.kk == Household.select().count() and totals.jiwa == living.count()


def test_restore_refuses_a_damaged_or_foreign_file(demo_app, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE x (y)").connection.commit()
    for path in (junk, foreign, tmp_path / "missing.db"):
        result = demo_app.test_cli_runner().invoke(args=["restore", str(path), "--yes"])
        assert result.exit_code == 1 and "tidak" in result.output


def test_admin_sees_backup_state_and_a_warning_when_stale(demo_app):
    admin = logged_in(demo_app, "operator", is_admin=True, username="admin")
    assert "lebih dari dua hari" in admin.get("/").data.decode()
    page = admin.get("/admin/cadangan").data.decode()
    assert "Belum pernah ada cadangan" in page
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert admin.post("/admin/cadangan", headers={"X-CSRFToken": token}).status_code == 303
    page = admin.get("/admin/cadangan").data.decode()
    assert "berhasil, terverifikasi" in page and "rekap-bansos-" in page
    assert "lebih dari dua hari" not in admin.get("/").data.decode()
    assert "lebih dari dua hari" not in logged_in(demo_app, "operator").get("/").data.decode()


@pytest.mark.parametrize("kind, message", [
    ("corrupt", "rusak atau bukan basis data SQLite"),
    ("foreign", "bukan basis data Rekap Bansos"),
    ("missing", "belum ada"),
])
def test_gunicorn_refuses_a_bad_database_with_a_message_and_exit_3(tmp_path, kind, message):
    import sys
    path = tmp_path / "db.sqlite"
    if kind == "corrupt":
        path.write_bytes(b"not a database at all " * 200)
    elif kind == "foreign":
        sqlite3.connect(path).execute("CREATE TABLE things (x)").connection.commit()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"}
    result = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "--config", "deploy/gunicorn.conf.py",
                             "--bind", "127.0.0.1:0", "wsgi:app"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3
    assert "Rekap Bansos tidak dapat dimulai" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr
    assert "RestartPreventExitStatus=3" in (ROOT / "deploy/rekap-bansos.service").read_text()

"""Verified online backups with rotation, and restore (reliability.md §1.5).

A backup is made with SQLite's online backup API (safe while the app runs), written under a temporary
name, checked with `PRAGMA integrity_check`, synced to disk and only then renamed into place. Rotation
keeps the newest copy of each of the last 7 days, 4 weeks and 6 months. The outcome of the last run is
kept in `status.json` beside the copies, so the admin page can show it even when the database is damaged.
"""
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

PREFIX = "rekap-bansos-"
STATUS_FILE = "status.json"
KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY = 7, 4, 6
STALE_AFTER = timedelta(days=2)


class BackupError(RuntimeError):
    """A backup or restore that could not be completed (message in Bahasa Indonesia)."""


@dataclass
class Outcome:
    """What one backup run produced."""

    path: Path
    size: int
    mirror: Path = None


def now_utc():
    """The current UTC time, naive."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def integrity_ok(path):
    """True when the SQLite file at path passes `PRAGMA integrity_check`."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def looks_like_ours(path):
    """True when the SQLite file has Rekap Bansos's core tables."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return {"household", "person", "disbursement", "audit_event"} <= names


def fsync_path(path):
    """Flush a file or directory to the storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_database(source, target, timeout=30):
    """Copy a live SQLite database with the online backup API into target (a new file)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=timeout)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def backup(database, dest, mirror=None, label="", when=None):
    """Back up database into dest (and a copy into mirror), verified, then rotate; returns an Outcome."""
    dest = Path(dest)
    when = when or now_utc()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        name = f"{PREFIX}{when:%Y%m%d-%H%M%S}{'-' + label if label else ''}.db"
        final, tmp = dest / name, dest / f".tmp-{name}"
        if not Path(database).exists():
            raise BackupError(f"Basis data {database} tidak ditemukan.")
        copy_database(database, tmp)
        if not integrity_ok(tmp):
            tmp.unlink(missing_ok=True)
            raise BackupError("Salinan gagal diperiksa (integrity_check); cadangan tidak disimpan.")
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(dest)
        outcome = Outcome(final, final.stat().st_size)
        rotate(dest)
        if mirror:
            outcome.mirror = copy_to_mirror(final, Path(mirror))
    except (OSError, sqlite3.Error, BackupError) as exc:
        message = str(exc) if isinstance(exc, BackupError) else f"Cadangan gagal: {type(exc).__name__}: {exc}"
        write_status(dest, {"ts": when.isoformat(), "ok": False, "message": message})
        raise BackupError(message) from exc
    write_status(dest, {"ts": when.isoformat(), "ok": True, "path": str(final), "size": outcome.size,
                        "mirror": str(outcome.mirror) if outcome.mirror else None, "message": "terverifikasi"})
    return outcome


def copy_to_mirror(final, mirror):
    """Copy a verified backup to a second place (e.g. a USB drive), verify it there, and rotate."""
    mirror.mkdir(parents=True, exist_ok=True)
    tmp = mirror / f".tmp-{final.name}"
    shutil.copyfile(final, tmp)
    fsync_path(tmp)
    if not integrity_ok(tmp):
        tmp.unlink(missing_ok=True)
        raise BackupError(f"Salinan ke {mirror} rusak saat diperiksa.")
    os.replace(tmp, mirror / final.name)
    fsync_path(mirror)
    rotate(mirror)
    return mirror / final.name


def backup_files(folder):
    """The backups in a folder with the time in their names, newest first."""
    found = []
    for path in Path(folder).glob(f"{PREFIX}*.db"):
        try:
            stamp = datetime.strptime(path.name[len(PREFIX):len(PREFIX) + 15], "%Y%m%d-%H%M%S")
        except ValueError:
            continue
        found.append((stamp, path))
    return sorted(found, reverse=True)


def to_keep(stamps):
    """Which timestamps rotation keeps: the newest per day (7 days), per ISO week (4), per month (6)."""
    keep = set()
    for key, count in ((lambda t: t.date(), KEEP_DAILY), (lambda t: t.isocalendar()[:2], KEEP_WEEKLY),
                       (lambda t: (t.year, t.month), KEEP_MONTHLY)):
        seen = []
        for stamp in sorted(stamps, reverse=True):
            bucket = key(stamp)
            if bucket not in seen:
                seen.append(bucket)
                if len(seen) > count:
                    break
                keep.add(stamp)
    return keep


def rotate(folder):
    """Delete the backups rotation does not keep; returns the deleted paths."""
    files = backup_files(folder)
    keep = to_keep([stamp for stamp, _ in files])
    removed = [path for stamp, path in files if stamp not in keep]
    for path in removed:
        path.unlink()
    return removed


def write_status(folder, status):
    """Record the last run's outcome (written atomically)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{STATUS_FILE}.tmp"
        tmp.write_text(json.dumps(status))
        os.replace(tmp, folder / STATUS_FILE)
    except OSError:
        pass  # the caller reports the failure itself; a status file must never hide it


def last_status(folder):
    """The last run's outcome as a dict (with 'when' as datetime), or None when there was none."""
    try:
        status = json.loads((Path(folder) / STATUS_FILE).read_text())
        status["when"] = datetime.fromisoformat(status["ts"])
        return status
    except (OSError, ValueError, KeyError):
        return None


def last_good(folder):
    """(time, path, size) of the newest backup on disk, or None."""
    files = backup_files(folder)
    if not files:
        return None
    stamp, path = files[0]
    return stamp, path, path.stat().st_size


def is_stale(folder, now=None):
    """True when no backup is newer than two days."""
    good = last_good(folder)
    return good is None or (now or now_utc()) - good[0] > STALE_AFTER


def restore(database, backup_file, aside_dir):
    """Replace the live database with a verified backup, keeping the current one aside.

    Writers are held off by SQLite's own locks while the pages are copied (the app's connections wait
    on their busy timeout). Returns the path where the previous database was kept."""
    backup_file, database = Path(backup_file), Path(database)
    if not backup_file.exists():
        raise BackupError(f"Berkas cadangan {backup_file} tidak ditemukan.")
    if not integrity_ok(backup_file) or not looks_like_ours(backup_file):
        raise BackupError(f"Berkas {backup_file} rusak atau bukan basis data Rekap Bansos; tidak dipulihkan.")
    aside_dir = Path(aside_dir)
    aside_dir.mkdir(parents=True, exist_ok=True)
    aside = aside_dir / f"sebelum-pulih-{now_utc():%Y%m%d-%H%M%S}.db"
    if database.exists():
        try:
            copy_database(database, aside)
        except sqlite3.DatabaseError:
            shutil.copyfile(database, aside)  # a damaged database is kept as it is
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    dst = sqlite3.connect(database, timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    if not integrity_ok(database):
        raise BackupError("Basis data hasil pemulihan gagal diperiksa; salinan sebelumnya ada di " + str(aside))
    return aside if aside.exists() else None

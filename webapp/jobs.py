"""Background jobs for long imports, with their state in files so every gunicorn worker can report it.

A job is a folder under IMPORT_DIR named by an unguessable id. It holds the uploaded file, the staged
data, and `status.json` (phase, progress, heartbeat, outcome), replaced atomically on each update.
The work runs in a thread of the worker that received the request, with its own database connection,
so no request waits for it and gunicorn's worker timeout never cuts it. If the process dies mid-apply,
the transaction rolls back; the job's heartbeat then stops and the page says so.
Job folders hold personal data: uploads and staged data are removed once applied, and whole folders
after a week.
"""
import errno
import json
import os
import secrets
import shutil
import threading
import time
from datetime import datetime
from datetime import timezone
from pathlib import Path

from . import db as database

STALE_AFTER_S = 90
KEEP_FOR_S = 7 * 24 * 3600
FINAL = {"preview", "done", "failed"}


class Job:
    """One import job's folder and status."""

    def __init__(self, root, job_id):
        self.id = job_id
        self.dir = Path(root) / job_id
        self._last_write = 0.0

    @classmethod
    def create(cls, root, **fields):
        """A new job folder with its first status."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        cleanup(root)
        job = cls(root, secrets.token_urlsafe(12))
        job.dir.mkdir(mode=0o700)
        job.write(phase="new", **fields)
        return job

    @classmethod
    def find(cls, root, job_id):
        """The job with this id, or None (ids are checked before touching the file system)."""
        if not job_id or not all(c.isalnum() or c in "-_" for c in job_id):
            return None
        job = cls(root, job_id)
        return job if (job.dir / "status.json").exists() else None

    def status(self):
        """The job's status dict, with 'stale' set when a running job stopped reporting."""
        status = json.loads((self.dir / "status.json").read_text())
        status["stale"] = status["phase"] not in FINAL and time.time() - status.get("heartbeat", 0) > STALE_AFTER_S
        return status

    def write(self, **changes):
        """Update the status (atomic replace)."""
        path = self.dir / "status.json"
        status = json.loads(path.read_text()) if path.exists() else {}
        status.update(changes, heartbeat=time.time())
        tmp = self.dir / ".status.json.tmp"
        tmp.write_text(json.dumps(status, default=str))
        os.replace(tmp, path)
        self._last_write = time.monotonic()

    def progress(self, label):
        """A progress(done, total) callback that writes at most twice a second."""
        def report(done, total):
            if time.monotonic() - self._last_write >= 0.5 or done >= total:
                self.write(step=label, done=done, total=total)
        return report

    def path(self, name):
        """A file inside the job folder."""
        return self.dir / name

    def save(self, name, data):
        """Store a JSON document in the job folder."""
        self.path(name).write_text(json.dumps(data, default=str))

    def load(self, name):
        """Read a JSON document stored in the job folder."""
        return json.loads(self.path(name).read_text())

    def forget(self, *names):
        """Delete files of the job that are no longer needed (they hold personal data)."""
        for name in names:
            self.path(name).unlink(missing_ok=True)

    def run(self, app, phase, work):
        """Run work(job) in a thread with an app context and a database connection of its own."""
        self.write(phase=phase, error=None, step="", done=0, total=0)

        def target():
            with app.app_context(), database.db.connection_context():
                try:
                    work(self)
                except Exception as exc:  # any failure ends the job with a message, never silently
                    app.logger.error("import job failed in phase %s: %s%s", phase, type(exc).__name__,
                                     " (disk full)" if disk_full(exc) else "")
                    self.write(phase="failed", error=failure_message(exc))

        thread = threading.Thread(target=target, name=f"job-{self.id}", daemon=True)
        thread.start()
        return thread


DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
DISK_FULL_MESSAGE = ("Ruang penyimpanan penuh, sehingga impor dihentikan; tidak ada data yang diubah. "
                     "Kosongkan ruang disk (mis. pindahkan cadangan lama ke flashdisk), lalu ulangi impor.")


def disk_full(exc):
    """True when an exception, or one it wraps, says the disk (or the database's size limit) is full."""
    seen = set()
    while isinstance(exc, BaseException) and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        if getattr(exc, "sqlite_errorname", None) == "SQLITE_FULL" or "disk is full" in str(exc):
            return True
        # Peewee wraps the driver's exception as its first argument.
        wrapped = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = exc.__cause__ or wrapped or exc.__context__
    return False


def failure_message(exc):
    """What the operator reads when a job fails (Bahasa Indonesia)."""
    from .importing import Refused
    if isinstance(exc, Refused):
        return str(exc)
    if disk_full(exc):
        return DISK_FULL_MESSAGE
    return f"Terjadi kesalahan ({type(exc).__name__}); tidak ada data yang diubah."


def cleanup(root):
    """Remove job folders older than a week."""
    limit = time.time() - KEEP_FOR_S
    for folder in Path(root).iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def now_text():
    """The current UTC time as ISO text."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat()

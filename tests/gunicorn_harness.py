"""A real gunicorn on 127.0.0.1 for durability and load tests, and a small HTTP client for it."""
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with the project's settings (2 workers, preload) serving one database file."""

    def __init__(self, db_path, backup_dir, workers=2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "SECRET_KEY": "durability-test-secret",
               "BACKUP_DIR": str(backup_dir)}
        self.proc = subprocess.Popen(
            [str(GUNICORN), "--config", str(ROOT / "deploy/gunicorn.conf.py"), "--workers", str(workers),
             "--bind", f"127.0.0.1:{self.port}", "--access-logfile", "/dev/null", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout=20):
        """Block until /healthz answers ok."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited: " + self.proc.stderr.read().decode()[-2000:])
            try:
                if urllib.request.urlopen(self.url + "/healthz", timeout=1).read() == b"ok\n":
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not become ready")

    def kill(self):
        """kill -9 the master and every worker at once."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc.stderr.close()

    def stop(self):
        """A normal shutdown."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc.stderr.close()


class Client:
    """A logged-in browser-like HTTP client (cookies, CSRF token), without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), self.NoRedirect)
        self.token = None

    def request(self, method, path, data=None, headers=None, timeout=30):
        """(status, body text) of one request; HTTP errors are answers too."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def log_in(self, username, password):
        """Log in through the form and keep the CSRF token for later posts."""
        _, page = self.request("GET", "/masuk")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/masuk", {"username": username, "password": password, "csrf_token": token})
        assert status == 303, status
        _, home = self.request("GET", "/")
        self.token = re.search(r'"X-CSRFToken": "([^"]+)"', home).group(1)

    def post(self, path, data, htmx=True):
        """A POST with the CSRF header (as htmx sends it)."""
        headers = {"X-CSRFToken": self.token, **({"HX-Request": "true"} if htmx else {})}
        return self.request("POST", path, data, headers)

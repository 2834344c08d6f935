"""Settings: defaults, then the environment, then the test config (applied by the factory).

Environment variables read (all optional):
  DATABASE_URL            sqlite:///relative/or/absolute/path.db (default: instance/rekap-bansos.db)
  SECRET_KEY              session signing key; generated into instance/secret_key when absent
  SESSION_COOKIE_SECURE   1 once the app is served over HTTPS
  DESA_KODE, DESA_NAMA, DESA_KECAMATAN, DESA_KABUPATEN, DESA_PROVINSI
  NO_AID_DESIL_MAX        desil ceiling for "KK desil 1–5 belum menerima bantuan" (default 5)
  BACKUP_DIR              where verified backups go (default: instance/backups)
  BACKUP_MIRROR           a second place for each nightly backup, e.g. a USB drive (optional)
  EXCLUSIVE_PROGRAMS      double-aid rule, e.g. "BLT-DD:PKH,SEMBAKO,BLT-KESRA" (that is the default)
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path

DEFAULTS = {
    "DESA_KODE": "3205222003",
    "DESA_NAMA": "Mekarsari",
    "DESA_KECAMATAN": "Cikajang",
    "DESA_KABUPATEN": "Garut",
    "DESA_PROVINSI": "Jawa Barat",
    "NO_AID_DESIL_MAX": 5,
    # Programmes a family may not receive in the same time as others (double aid): code -> codes.
    "EXCLUSIVE_PROGRAMS": {"BLT-DD": ["PKH", "SEMBAKO", "BLT-KESRA"]},
    "SEARCH_PAGE_SIZE": 20,
    "TIMEZONE": "Asia/Jakarta",
    "SQLITE_BUSY_TIMEOUT_S": 15,
    "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
    "SESSION_COOKIE_NAME": "rekap_bansos",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    # Tokens live as long as the session: an idle page must not fail with an expired token.
    "WTF_CSRF_TIME_LIMIT": None,
    "PASSWORD_HASH_METHOD": None,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=10),
}

ENV_KEYS = ("DATABASE_URL", "SECRET_KEY", "SESSION_COOKIE_SECURE", "DESA_KODE", "DESA_NAMA", "DESA_KECAMATAN",
            "DESA_KABUPATEN", "DESA_PROVINSI", "NO_AID_DESIL_MAX", "EXCLUSIVE_PROGRAMS",
            "BACKUP_DIR", "BACKUP_MIRROR")
INT_KEYS = ("NO_AID_DESIL_MAX",)
BOOL_KEYS = ("SESSION_COOKIE_SECURE",)


def load(app, test_config=None):
    """Fill app.config from the three layers and resolve the database path."""
    app.config.from_mapping(DEFAULTS)
    app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "rekap-bansos.db")
    app.config["BACKUP_DIR"] = os.path.join(app.instance_path, "backups")
    for key in ENV_KEYS:
        if os.environ.get(key):
            app.config[key] = parse_env(key, os.environ[key])
    if test_config:
        app.config.update(test_config)
    app.config["DATABASE"] = database_path(app.config["DATABASE_URL"])
    if app.config["DATABASE"] == os.path.join(app.instance_path, "rekap-bansos.db"):
        os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app.instance_path)


def parse_env(key, text):
    """Convert an environment value to the setting's type."""
    if key in INT_KEYS:
        return int(text)
    if key in BOOL_KEYS:
        return text.strip().lower() in ("1", "true", "yes", "ya")
    if key == "EXCLUSIVE_PROGRAMS":
        # "BLT-DD:PKH,SEMBAKO,BLT-KESRA;PIP:YAPI"
        rules = (part.split(":", 1) for part in text.split(";") if ":" in part)
        return {code.strip(): [c.strip() for c in others.split(",") if c.strip()] for code, others in rules}
    return text


def database_path(url):
    """Return the SQLite file path of a sqlite:/// URL (relative paths stay relative to the cwd)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"DATABASE_URL harus berbentuk sqlite:///path (didapat: {url!r})")
    path = url[len(prefix):]
    if not path or path == ":memory:":
        raise ValueError("DATABASE_URL harus menunjuk ke sebuah file SQLite, bukan :memory:")
    return path


def instance_secret(instance_path):
    """Read the install's secret key from instance/secret_key, creating it (0600) on first run."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            # link() fails if another process got there first: both then read the same key.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()

"""Accounts: password rules, hashing, log-in throttling and the changes an admin makes.

Passwords are hashed with Werkzeug's default (scrypt). Failed log-ins are counted in the database per
user name and per address, so every gunicorn worker sees the same count; after a few failures each
further try must wait, doubling up to 15 minutes, and a successful log-in clears the count. There is
never a permanent lock-out (ASVS 6.3.1).
"""
import secrets
from datetime import timedelta

from flask import current_app
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from . import db as database
from .access import record
from .models import ROLES
from .models import LoginAttempt
from .models import User
from .models import utcnow

MIN_LENGTH = 8
MAX_LENGTH = 128
FREE_FAILURES = 5
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
WINDOW = timedelta(hours=24)
# Passwords seen first in leaked lists and in Indonesian offices; checked case-insensitively.
COMMON_PASSWORDS = frozenset("""
password password1 password123 passw0rd 12345678 123456789 1234567890 87654321 11111111 00000000
12341234 11223344 qwerty123 qwertyuiop asdfghjkl iloveyou admin123 administrator rahasia rahasia123
indonesia indonesia1 merdeka45 bismillah bismillah123 sayang123 sayangku katasandi katasandi123
operator operator123 bansos123 bansos2025 bansos2026 desa1234 desaku123 kantordesa sukses123
garut123 jakarta123 bandung123 welcome1 letmein1 changeme abcd1234 abc12345 superman
""".split())
ROLE_KEYS = {key for key, _ in ROLES}
# Compared against when the user name is unknown, so both paths cost one hash check.
_DUMMY_HASH = None


class AccountError(ValueError):
    """A refused account change, with a message for the user in Bahasa Indonesia."""


def hash_password(password):
    """Hash with Werkzeug's default method (a setting may pick a cheaper one for tests)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD")
    return generate_password_hash(password, method=method) if method else generate_password_hash(password)


def check_password_rules(password, username=""):
    """Raise AccountError when a new password is too short, too long or too common."""
    if len(password) < MIN_LENGTH:
        raise AccountError(f"Kata sandi minimal {MIN_LENGTH} karakter.")
    if len(password) > MAX_LENGTH:
        raise AccountError(f"Kata sandi maksimal {MAX_LENGTH} karakter.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or (len(username) >= 4 and username.lower() in lowered):
        raise AccountError("Kata sandi ini terlalu mudah ditebak. Pilih yang lain, misalnya gabungan beberapa kata.")


def generate_password():
    """A random one-time password an admin hands over (the user must change it at first log-in)."""
    return "-".join(secrets.token_urlsafe(4) for _ in range(3))


def wait_needed(username, ip):
    """How long this user name or address must still wait before another try (timedelta or None)."""
    now = utcnow()
    longest = timedelta(0)
    for field, value in ((LoginAttempt.username, username.lower()), (LoginAttempt.ip, ip)):
        failures, latest = LoginAttempt.recent_failures(field, value, now - WINDOW)
        if failures >= FREE_FAILURES and latest is not None:
            wait = min(FIRST_WAIT * 2 ** (failures - FREE_FAILURES), LONGEST_WAIT)
            longest = max(longest, latest + wait - now)
    return longest if longest > timedelta(0) else None


def authenticate(username, password, ip):
    """Return the user for correct credentials, else None; records the attempt either way."""
    global _DUMMY_HASH
    user = User.by_username(username) if username else None
    if user is not None and user.active:
        ok = check_password_hash(user.password_hash, password)
    else:
        _DUMMY_HASH = _DUMMY_HASH or generate_password_hash("tidak-ada-pengguna")
        check_password_hash(_DUMMY_HASH, password)
        ok = False
    with database.db.atomic("IMMEDIATE"):
        LoginAttempt.create(username=username.lower()[:64], ip=ip, success=ok)
        if ok:
            User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
        record("login.berhasil" if ok else "login.gagal", entity="user", entity_id=user.id if user else None,
               username=username[:64])
    return user if ok else None


def create_user(username, role, is_admin=False, password=None):
    """Create an account; without a password a one-time one is generated. Returns (user, password)."""
    username = username.strip()
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise AccountError("Nama pengguna hanya boleh huruf, angka, titik, garis bawah atau tanda hubung (maks. 64).")
    if role not in ROLE_KEYS:
        raise AccountError("Peran tidak dikenal.")
    if User.by_username(username):
        raise AccountError(f"Nama pengguna “{username}” sudah dipakai.")
    one_time = password is None
    password = generate_password() if one_time else password
    if not one_time:
        check_password_rules(password, username)
    with database.db.atomic("IMMEDIATE"):
        user = User.create(username=username, password_hash=hash_password(password), role=role,
                           is_admin=is_admin, must_change_password=one_time)
        record("pengguna.dibuat", entity="user", entity_id=user.id, field="role", new=role)
        if is_admin:
            record("pengguna.admin", entity="user", entity_id=user.id, field="is_admin", new=True)
    return user, password


def create_first_user(username, password):
    """Create the first account (operator with the admin right); refused once any account exists."""
    with database.db.atomic("IMMEDIATE"):
        if User.select().exists():
            raise AccountError("Akun pertama sudah dibuat. Silakan masuk.")
        user, _ = create_user(username, "operator", is_admin=True, password=password)
    return user


def change_password(user, new_password, current_password=None):
    """Set a user's own new password (checking the current one) and end their other sessions."""
    if current_password is not None and not check_password_hash(user.password_hash, current_password):
        raise AccountError("Kata sandi saat ini salah.")
    check_password_rules(new_password, user.username)
    if check_password_hash(user.password_hash, new_password):
        raise AccountError("Kata sandi baru harus berbeda dari yang lama.")
    with database.db.atomic("IMMEDIATE"):
        User.update(password_hash=hash_password(new_password), must_change_password=False,
                    session_epoch=User.session_epoch + 1).where(User.id == user.id).execute()
        record("pengguna.sandi_diganti", entity="user", entity_id=user.id)
    return User.get_by_id(user.id)


def reset_password(user):
    """Give a user a new one-time password (shown once to the admin); ends their sessions."""
    password = generate_password()
    with database.db.atomic("IMMEDIATE"):
        User.update(password_hash=hash_password(password), must_change_password=True,
                    session_epoch=User.session_epoch + 1).where(User.id == user.id).execute()
        record("pengguna.sandi_direset", entity="user", entity_id=user.id)
    return password


def update_user(user, acting, role=None, is_admin=None, active=None):
    """Change role, admin right or active state; any change ends the user's sessions."""
    changes = {}
    if role is not None and role != user.role:
        if role not in ROLE_KEYS:
            raise AccountError("Peran tidak dikenal.")
        changes["role"] = role
    if is_admin is not None and is_admin != user.is_admin:
        changes["is_admin"] = is_admin
    if active is not None and active != user.active:
        changes["active"] = active
    if not changes:
        return user
    losing_admin = user.is_admin and user.active and (changes.get("is_admin") is False or changes.get("active") is False)
    if losing_admin and User.active_admins().where(User.id != user.id).count() == 0:
        raise AccountError("Harus tetap ada minimal satu admin aktif.")
    if user.id == acting.id and changes.get("active") is False:
        raise AccountError("Anda tidak dapat menonaktifkan akun sendiri.")
    with database.db.atomic("IMMEDIATE"):
        User.update(session_epoch=User.session_epoch + 1, **changes).where(User.id == user.id).execute()
        for field, new in changes.items():
            record("pengguna.diubah", entity="user", entity_id=user.id, field=field, old=getattr(user, field), new=new)
    return User.get_by_id(user.id)

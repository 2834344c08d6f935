"""Figures that stay valid while the database is unchanged (the recap, the verification counts).

A value is remembered with a version of what it reads (by default the database's data version, which
any commit moves), read before and again after computing it: it is kept only when the two agree, so
a value computed while a commit landed is used once and never answered from the cache. Per process:
each gunicorn worker keeps its own.
"""
import threading
from collections import OrderedDict

from . import db as database

MAX_ENTRIES = 64
_store = OrderedDict()
_lock = threading.Lock()


def remember(key, compute, version=None):
    """The value for key, computed again only when what it reads changed since it was last computed.

    `version` is a function giving the version of what the value reads (the recap's membership token
    narrows it to the household figures); by default any commit counts."""
    version = version or database.data_version
    before = version()
    full_key = (database.db.database, key)
    with _lock:
        hit = _store.get(full_key)
        if hit is not None and hit[0] == before:
            _store.move_to_end(full_key)
            return hit[1]
    value = compute()
    if version() == before:
        with _lock:
            _store[full_key] = (before, value)
            _store.move_to_end(full_key)
            while len(_store) > MAX_ENTRIES:
                _store.popitem(last=False)
    return value

"""Figures that stay valid while the database is unchanged (the recap, the verification counts).

A value is remembered with the database's data version read *before* it was computed; any later
commit moves the version, so a changed database is never answered from the cache. A commit landing
during a computation only costs one extra computation. Per process: each gunicorn worker keeps its own.
"""
import threading
from collections import OrderedDict

from . import db as database

MAX_ENTRIES = 64
_store = OrderedDict()
_lock = threading.Lock()


def remember(key, compute, version=None):
    """The value for key, computed again only when the database changed since it was last computed.

    `version`, read before computing, narrows "changed" to what the value reads (the recap's
    membership token); by default any commit counts."""
    if version is None:
        version = database.data_version()
    full_key = (database.db.database, key)
    with _lock:
        hit = _store.get(full_key)
        if hit is not None and hit[0] == version:
            _store.move_to_end(full_key)
            return hit[1]
    value = compute()
    with _lock:
        _store[full_key] = (version, value)
        _store.move_to_end(full_key)
        while len(_store) > MAX_ENTRIES:
            _store.popitem(last=False)
    return value

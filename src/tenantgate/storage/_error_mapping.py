"""Map driver errors to storage errors, by type and error code, at one boundary.

SQLite reports contention as SQLITE_BUSY/SQLITE_LOCKED; PostgreSQL as SQLSTATE 40001
(serialization_failure) or 40P01 (deadlock_detected). Both mean "run the whole
transaction again", which the unit of work does. Never classify by message text.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

from tenantgate.storage.errors import StorageError, StorageUnavailable, TransactionConflict

_SQLITE_CONFLICT_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)
_SQLITE_UNAVAILABLE_CODES = frozenset({10, 14})  # SQLITE_IOERR, SQLITE_CANTOPEN
_PG_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
_PG_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "3D000"})


def map_storage_error(exc: BaseException) -> StorageError | None:
    """Return the storage error ``exc`` stands for, or None when it is not ours to map.

    Integrity and programming errors return None: stores handle those themselves
    (e.g. a unique idempotency key) and they must not be retried.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return StorageUnavailable("database connection was lost")
        return None if exc.orig is None else _map_driver_error(exc.orig)
    return _map_driver_error(exc)


def _map_driver_error(exc: BaseException) -> StorageError | None:
    if isinstance(exc, sqlite3.Error):
        primary_code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if primary_code in _SQLITE_CONFLICT_CODES:
            return TransactionConflict("SQLite database is busy (another writer holds the lock)")
        if primary_code in _SQLITE_UNAVAILABLE_CODES:
            return StorageUnavailable(f"SQLite database cannot be opened ({type(exc).__name__})")
        return None
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _PG_CONFLICT_SQLSTATES:
            return TransactionConflict(f"PostgreSQL transaction conflict (SQLSTATE {sqlstate})")
        if sqlstate.startswith("08") or sqlstate in _PG_UNAVAILABLE_SQLSTATES:
            return StorageUnavailable(f"PostgreSQL is unavailable (SQLSTATE {sqlstate})")
        return None
    if isinstance(exc, (OSError, TimeoutError)):
        return StorageUnavailable(f"database is unreachable ({type(exc).__name__})")
    return None

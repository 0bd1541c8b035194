"""SQLite connection setup: pragmas, and who emits BEGIN.

Python's sqlite3 (3.11) emits a DEFERRED ``BEGIN`` only before DML, so two
transactions that read and then write both take a read snapshot and the second to
upgrade to a write lock fails at once with SQLITE_BUSY: busy_timeout does not help,
because waiting cannot make its snapshot current. We therefore switch the driver's
transaction control off (``isolation_level = None``) and emit BEGIN ourselves from
SQLAlchemy's ``begin`` event (the documented recipe): ``BEGIN IMMEDIATE`` for write
transactions, so writers queue on busy_timeout instead of failing, and a plain
deferred ``BEGIN`` for read transactions, which in WAL mode never block writers.

The driver runs each connection's statements on a thread of its own. On Linux that thread
runs at a lower priority than the event loop (``DRIVER_THREAD_NICE``): a batch of usage
records is a few milliseconds of CPU, and at equal priority a request that arrives while it
runs waits for the core. Lower-priority threads still get their share whenever the loop is
busy, so the writes never starve (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry

BEGIN_MODE_OPTION = "tenantgate_sqlite_begin"
"""Execution option naming the BEGIN flavour; absent means IMMEDIATE (the safe default)."""

BeginMode = Literal["IMMEDIATE", "DEFERRED"]

DRIVER_THREAD_NICE = 10
"""How much nicer than the process the driver's thread runs (Linux): ~10 % of a contended core."""
_RENICE_FUNCTION = "tenantgate_renice_driver_thread"


def install_sqlite_hooks(sync_engine: Engine, *, busy_timeout_ms: int) -> None:
    """Attach the connect-time pragmas and the BEGIN emitter to an aiosqlite engine."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            if sys.platform == "linux":
                # A SQL function runs on the thread that runs the statement: the driver's own.
                dbapi_connection.create_function(_RENICE_FUNCTION, 0, _renice_this_thread)
                cursor.execute(f"SELECT {_RENICE_FUNCTION}()")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        mode: BeginMode = options.get(BEGIN_MODE_OPTION, "IMMEDIATE")
        connection.exec_driver_sql("BEGIN" if mode == "DEFERRED" else "BEGIN IMMEDIATE")


def _renice_this_thread() -> int:
    """Lower the calling thread's priority by ``DRIVER_THREAD_NICE`` (Linux nice is per thread)."""
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):  # a sandbox may forbid it; the thread then keeps its priority
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + DRIVER_THREAD_NICE))
    return os.getpriority(os.PRIO_PROCESS, thread)

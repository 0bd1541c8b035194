"""Units of work: one database transaction, begun the right way for its purpose.

Two shapes, because a Python ``async with`` block cannot be re-run:

* ``run_write(engine, work)`` / ``run_read(...)`` call ``work(conn)`` inside a
  transaction and re-run it on ``TransactionConflict`` under a ``RetryPolicy``. Use
  this whenever conflicts can happen mid-transaction: PostgreSQL SERIALIZABLE or
  deadlocks abort at any statement or at COMMIT, and only re-running the whole
  unit is correct. ``work`` must therefore be safe to call more than once.
* ``write_transaction(engine)`` / ``read_transaction(...)`` are context managers.
  They retry only *starting* the transaction (on SQLite that is where a writer
  waits for ``BEGIN IMMEDIATE``), commit on clean exit and roll back on error.
  A conflict inside the block surfaces as ``TransactionConflict`` for the caller.

Write transactions take SQLite's write lock up front (``BEGIN IMMEDIATE``) and on
PostgreSQL run at READ COMMITTED (use ``SELECT ... FOR UPDATE``) or, on request,
SERIALIZABLE. Read transactions are a consistent snapshot that never blocks
writers: deferred ``BEGIN`` on SQLite/WAL, ``REPEATABLE READ READ ONLY`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tenantgate.storage._error_mapping import map_storage_error
from tenantgate.storage._sqlite import BEGIN_MODE_OPTION
from tenantgate.storage._sqlite_writers import Release, writer_queue
from tenantgate.storage.errors import TransactionConflict
from tenantgate.storage.retry_policy import RetryPolicy

T = TypeVar("T")
WriteIsolation = Literal["read_committed", "serializable"]
Work = Callable[[AsyncConnection], Awaitable[T]]
_Purpose = Literal["write", "read"]

DEFAULT_RETRY_POLICY = RetryPolicy()


async def run_write(
    engine: AsyncEngine,
    work: Work[T],
    *,
    isolation: WriteIsolation = "read_committed",
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> T:
    """Run ``work`` in a write transaction, re-running it on conflicts; return its result."""
    return await _run(engine, work, _options(engine, "write", isolation), retry_policy)


async def run_read(
    engine: AsyncEngine, work: Work[T], *, retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
) -> T:
    """Run ``work`` in a read-only snapshot transaction, re-running it on conflicts."""
    return await _run(engine, work, _options(engine, "read", "read_committed"), retry_policy)


@asynccontextmanager
async def write_transaction(
    engine: AsyncEngine,
    *,
    isolation: WriteIsolation = "read_committed",
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> AsyncIterator[AsyncConnection]:
    """Open a write transaction (retrying only its start), commit on success."""
    options = _options(engine, "write", isolation)
    conn, release = await _begin_with_retry(engine, options, retry_policy)
    async with _committing(conn, release) as active:
        yield active


@asynccontextmanager
async def read_transaction(
    engine: AsyncEngine, *, retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
) -> AsyncIterator[AsyncConnection]:
    """Open a read-only snapshot transaction (retrying only its start)."""
    conn, release = await _begin_with_retry(engine, _options(engine, "read", "read_committed"), retry_policy)
    async with _committing(conn, release) as active:
        yield active


async def _run(engine: AsyncEngine, work: Work[T], options: dict[str, Any], policy: RetryPolicy) -> T:
    failed_attempts = 0
    while True:
        try:
            conn, release = await _begin(engine, options)
            async with _committing(conn, release) as active:
                return await work(active)
        except TransactionConflict:
            failed_attempts += 1
            if failed_attempts >= policy.max_attempts:
                raise
            await policy.wait_after(failed_attempts)


async def _begin_with_retry(
    engine: AsyncEngine, options: dict[str, Any], policy: RetryPolicy
) -> tuple[AsyncConnection, Release | None]:
    failed_attempts = 0
    while True:
        try:
            return await _begin(engine, options)
        except TransactionConflict:
            failed_attempts += 1
            if failed_attempts >= policy.max_attempts:
                raise
            await policy.wait_after(failed_attempts)


async def _begin(
    engine: AsyncEngine, options: dict[str, Any]
) -> tuple[AsyncConnection, Release | None]:
    """Check out a connection and begin; on failure release it and raise a mapped error.

    A SQLite write first waits for its turn in the process's writer queue (before taking a
    pooled connection, which readers may need meanwhile); the release comes back with it.
    """
    queue = writer_queue(engine.sync_engine) if options.get(BEGIN_MODE_OPTION) == "IMMEDIATE" else None
    release = await queue.enter() if queue is not None else None
    try:
        conn = await engine.connect()
    except BaseException as exc:
        _release(release)
        if isinstance(exc, Exception):
            _raise_mapped(exc)
        raise
    try:
        if options:
            await conn.execution_options(**options)
        await conn.begin()
    except BaseException as exc:
        with suppress(Exception):
            await conn.close()
        _release(release)
        if isinstance(exc, Exception):
            _raise_mapped(exc)
        raise
    return conn, release


def _release(release: Release | None) -> None:
    if release is not None:
        release()


@asynccontextmanager
async def _committing(conn: AsyncConnection, release: Release | None) -> AsyncIterator[AsyncConnection]:
    """Yield a begun connection; commit on success, roll back on error, always release it
    (and the writer's turn)."""
    try:
        try:
            yield conn
        except BaseException as exc:
            with suppress(Exception):
                await conn.rollback()
            if isinstance(exc, Exception):
                _raise_mapped(exc)
            raise
        try:
            await conn.commit()
        except Exception as exc:
            _raise_mapped(exc)
            raise
    finally:
        try:
            with suppress(Exception):
                await conn.close()
        finally:
            _release(release)


def _raise_mapped(exc: Exception) -> None:
    """Raise our error for ``exc`` (chained to it) if it maps to one; else return."""
    mapped = map_storage_error(exc)
    if mapped is not None and mapped is not exc:
        raise mapped from exc


def _options(engine: AsyncEngine, purpose: _Purpose, isolation: WriteIsolation) -> dict[str, Any]:
    """Execution options that make ``conn.begin()`` start the right kind of transaction."""
    if engine.dialect.name == "sqlite":
        # SQLite is serializable by construction; only the BEGIN flavour differs.
        return {BEGIN_MODE_OPTION: "IMMEDIATE" if purpose == "write" else "DEFERRED"}
    if purpose == "read":
        return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    if isolation == "serializable":
        return {"isolation_level": "SERIALIZABLE"}
    return {}

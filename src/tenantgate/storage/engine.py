"""Create the async SQLAlchemy engine for SQLite (one process) or PostgreSQL (many replicas)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tenantgate.storage._sqlite import install_sqlite_hooks
from tenantgate.storage._sqlite_writers import install_writer_queue
from tenantgate.storage.urls import dialect_of, normalise_url

DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000
DEFAULT_CONNECT_TIMEOUT_MS = 5_000
_POOL_RECYCLE_S = 1_800


def create_engine(
    url: str | URL,
    *,
    echo_sql: bool = False,
    pool_size: int = 10,
    sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
) -> AsyncEngine:
    """Build an ``AsyncEngine`` for ``url``, tuned for the gateway's transaction model.

    SQLite gets WAL, ``synchronous=NORMAL``, foreign keys, ``busy_timeout``, ``BEGIN
    IMMEDIATE`` for writes (see ``_sqlite.py``) and an in-process queue of writers
    (``_sqlite_writers.py``). PostgreSQL gets a bounded pool
    with pre-ping, so a replica survives a database restart without serving errors
    from dead connections. Nothing connects until first use.
    """
    normalised = normalise_url(url)
    if dialect_of(normalised) == "sqlite":
        engine = create_async_engine(
            normalised,
            echo=echo_sql,
            **_sqlite_pool_args(normalised, pool_size),
            connect_args={"timeout": sqlite_busy_timeout_ms / 1000},
        )
        install_sqlite_hooks(engine.sync_engine, busy_timeout_ms=sqlite_busy_timeout_ms)
        install_writer_queue(engine.sync_engine, timeout_s=sqlite_busy_timeout_ms / 1000)
        return engine
    return create_async_engine(
        normalised,
        echo=echo_sql,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=connect_timeout_ms / 1000,
        pool_pre_ping=True,
        pool_recycle=_POOL_RECYCLE_S,
        connect_args={
            "timeout": connect_timeout_ms / 1000,
            "server_settings": {"application_name": "tenantgate"},
        },
    )


def _sqlite_pool_args(url: URL, pool_size: int) -> dict[str, Any]:
    # An in-memory database lives in one connection, so SQLAlchemy's StaticPool
    # (its default there) must stay; file databases get a normal bounded pool.
    if url.database in (None, "", ":memory:"):
        return {}
    return {"pool_size": pool_size, "max_overflow": 0}

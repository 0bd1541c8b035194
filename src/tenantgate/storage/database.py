"""``Database``: the engine plus the transaction entry points every store uses.

One object per process (per replica), created at startup and disposed at shutdown.
Stores receive it and open units of work through it, so the BEGIN flavour,
isolation and retry policy are decided here rather than in each store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from tenantgate.storage import unit_of_work
from tenantgate.storage._error_mapping import map_storage_error
from tenantgate.storage.engine import (
    DEFAULT_CONNECT_TIMEOUT_MS,
    DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    create_engine,
)
from tenantgate.storage.errors import StorageUnavailable
from tenantgate.storage.retry_policy import RetryPolicy
from tenantgate.storage.unit_of_work import DEFAULT_RETRY_POLICY, T, Work, WriteIsolation
from tenantgate.storage.urls import Dialect, render_url_safely


class Database:
    """An async engine with write/read units of work, a readiness ping and disposal."""

    def __init__(self, engine: AsyncEngine, *, retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY):
        self.engine = engine
        self.retry_policy = retry_policy

    @classmethod
    def open(
        cls,
        url: str | URL,
        *,
        echo_sql: bool = False,
        pool_size: int = 10,
        sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
        connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> Database:
        """Create the engine for ``url`` (no connection is made yet) and wrap it."""
        engine = create_engine(
            url,
            echo_sql=echo_sql,
            pool_size=pool_size,
            sqlite_busy_timeout_ms=sqlite_busy_timeout_ms,
            connect_timeout_ms=connect_timeout_ms,
        )
        return cls(engine, retry_policy=retry_policy)

    @property
    def dialect(self) -> Dialect:
        """``"sqlite"`` or ``"postgresql"``, for the rare query that must differ."""
        return "sqlite" if self.engine.dialect.name == "sqlite" else "postgresql"

    @property
    def display_url(self) -> str:
        """The database URL with its password masked, safe for logs and /readyz."""
        return render_url_safely(self.engine.url)

    def write(
        self, *, isolation: WriteIsolation = "read_committed"
    ) -> AbstractAsyncContextManager[AsyncConnection]:
        """``async with db.write() as conn``: a write transaction, committed on success."""
        return unit_of_work.write_transaction(
            self.engine, isolation=isolation, retry_policy=self.retry_policy
        )

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """``async with db.read() as conn``: a read-only snapshot transaction."""
        return unit_of_work.read_transaction(self.engine, retry_policy=self.retry_policy)

    async def run_write(self, work: Work[T], *, isolation: WriteIsolation = "read_committed") -> T:
        """Run ``work(conn)`` in a write transaction, re-running it on conflicts."""
        return await unit_of_work.run_write(
            self.engine, work, isolation=isolation, retry_policy=self.retry_policy
        )

    async def run_read(self, work: Work[T]) -> T:
        """Run ``work(conn)`` in a read snapshot, re-running it on conflicts."""
        return await unit_of_work.run_read(self.engine, work, retry_policy=self.retry_policy)

    @asynccontextmanager
    async def write_session(
        self, *, isolation: WriteIsolation = "read_committed"
    ) -> AsyncIterator[AsyncSession]:
        """An ORM session inside ``write()``; flushed, then committed, on success."""
        async with self.write(isolation=isolation) as conn:
            session = AsyncSession(bind=conn, expire_on_commit=False)
            try:
                yield session
                await session.flush()
            finally:
                await session.close()

    async def ping(self, *, timeout_ms: int = 2_000) -> None:
        """Round-trip ``SELECT 1`` for /readyz; raise ``StorageUnavailable`` on any failure."""
        try:
            async with asyncio.timeout(timeout_ms / 1000):
                async with self.engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            mapped = map_storage_error(exc)
            reason = mapped if isinstance(mapped, StorageUnavailable) else type(exc).__name__
            raise StorageUnavailable(f"database {self.display_url} is not ready: {reason}") from exc

    async def dispose(self) -> None:
        """Close every pooled connection; call once at shutdown."""
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.dispose()

"""Synchronous access to a test database from outside the gateway under test.

End-to-end suites drive real gateway processes from plain (non-async) tests and then look at
the database those processes share: ``run_on`` opens it, runs one piece of async work and
closes it again; ``rows_of`` reads the rows of one query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.storage import Database

T = TypeVar("T")


def run_on(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database at ``url``, run ``work`` on it in a fresh event loop, close it."""
    return asyncio.run(_with_database(url, work))


def rows_of(url: str, query: Any) -> list[Any]:
    """Every row ``query`` selects from the database at ``url``, in one read transaction."""

    async def read(db: Database) -> list[Any]:
        return await db.run_read(lambda conn: _all(conn, query))

    return run_on(url, read)


async def _all(conn: AsyncConnection, query: Any) -> list[Any]:
    return list(await conn.execute(query))


async def _with_database(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    db = Database.open(url, pool_size=2)
    try:
        return await work(db)
    finally:
        await db.dispose()

"""Alembic environment: runs on the connection ``runner.py`` hands over.

``render_as_batch`` lets the same scripts alter tables on SQLite (which rebuilds
them) and PostgreSQL. Without a handed-over connection (the ``alembic`` CLI, e.g.
``revision --autogenerate`` during development) it opens ``sqlalchemy.url`` itself.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from tenantgate.storage.engine import create_engine
from tenantgate.storage.migrations.table_modules import load_table_modules

target_metadata = load_table_modules()


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_on)
    finally:
        await engine.dispose()


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or run migrations via tenantgate.storage")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_with_url(url))


_run()

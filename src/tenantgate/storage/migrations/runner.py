"""Run the shipped Alembic migrations from code: at startup, in the CLI and in tests.

Replicas may start together, so upgrades serialize: on SQLite the migration runs
inside ``BEGIN IMMEDIATE``; on PostgreSQL inside a transaction holding an advisory
lock. The loser waits, then finds the schema at head and does nothing. DDL is
transactional on both engines, so a failed upgrade leaves no half-applied revision.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from tenantgate.storage import unit_of_work
from tenantgate.storage.database import Database
from tenantgate.storage.engine import create_engine
from tenantgate.storage.errors import MigrationRequired

MIGRATIONS_DIR = Path(__file__).resolve().parent
MigrationTarget = Database | AsyncEngine | str | URL
"""A database to migrate: an open ``Database`` or engine (left open), or a URL."""

# Arbitrary constant; PostgreSQL advisory locks are keyed by a bigint.
_MIGRATION_LOCK_KEY = 0x7E4A_47A7_E000_0001


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged scripts, needing no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@cache
def head_revision() -> str:
    """The revision this build expects the database to be at."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


async def upgrade_to_head(target: MigrationTarget) -> str:
    """Apply every pending migration (a no-op at head) and return the head revision."""
    async with _engine_for(target) as engine, unit_of_work.write_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        await conn.run_sync(_upgrade_on)
    return head_revision()


async def current_revision(target: MigrationTarget) -> str | None:
    """The database's revision, or None for a database never migrated."""
    async with _engine_for(target) as engine, unit_of_work.read_transaction(engine) as conn:
        return await conn.run_sync(_current_revision_on)


async def check_at_head(target: MigrationTarget) -> None:
    """Raise ``MigrationRequired`` unless the database is exactly at this build's head."""
    current = await current_revision(target)
    head = head_revision()
    if current != head:
        raise MigrationRequired(current, head)


def _upgrade_on(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@asynccontextmanager
async def _engine_for(target: MigrationTarget) -> AsyncIterator[AsyncEngine]:
    if isinstance(target, Database):
        yield target.engine
    elif isinstance(target, AsyncEngine):
        yield target
    else:
        engine = create_engine(target, pool_size=1)
        try:
            yield engine
        finally:
            await engine.dispose()

"""The installation's identity: one row, created by the first migration, never changed.

Telemetry, licence checks and audit-chain genesis need an id that survives restarts
and is shared by every replica using the same database; keeping it in the database
(not a local file) gives exactly that.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.storage.column_types import UtcDateTime
from tenantgate.storage.database import Database
from tenantgate.storage.errors import StorageCorrupted
from tenantgate.storage.metadata import metadata
from tenantgate.storage.migrations.runner import check_at_head

installation = sa.Table(
    "installation",
    metadata,
    sa.Column("installation_id", sa.String(36), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("schema_note", sa.Text(), nullable=False),
)


async def installation_id(db: Database) -> str:
    """Return this installation's id; raises ``MigrationRequired`` before the first migrate."""
    await check_at_head(db)
    return await db.run_read(_read_installation_id)


async def _read_installation_id(conn: AsyncConnection) -> str:
    rows = (await conn.execute(sa.select(installation.c.installation_id).limit(2))).all()
    if len(rows) != 1:
        raise StorageCorrupted(f"expected exactly one installation row, found {len(rows)}")
    return str(rows[0].installation_id)

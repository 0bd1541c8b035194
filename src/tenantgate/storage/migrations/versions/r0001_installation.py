"""Create the installation table and the installation's one identity row.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from tenantgate.storage.column_types import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``installation`` and insert the id every replica will share."""
    installation = op.create_table(
        "installation",
        sa.Column("installation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("schema_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("installation_id", name=op.f("pk_installation")),
    )
    op.bulk_insert(
        installation,
        [
            {
                "installation_id": str(uuid.uuid4()),
                "created_at": datetime.now(UTC),
                "schema_note": "created by tenantgate migration 0001",
            }
        ],
    )


def downgrade() -> None:
    """Drop ``installation``; the identity is lost and a re-upgrade mints a new one."""
    op.drop_table("installation")

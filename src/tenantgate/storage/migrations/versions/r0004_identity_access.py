"""Give API keys a home compartment and add the identity revision replicas poll.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04

``iam_api_keys.compartment_id`` is the compartment a key's requests target unless a header
picks another (OpenAI's project keys); existing service keys get their owner compartment,
existing user keys stay NULL, which means the tenancy. ``iam_revision`` is one row that
every identity write bumps.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = 32


def upgrade() -> None:
    """Add the column (batch mode: SQLite cannot add a foreign key in place) and the revision row."""
    with op.batch_alter_table("iam_api_keys") as batch:
        batch.add_column(sa.Column("compartment_id", sa.String(length=_ID), nullable=True))
        batch.create_foreign_key(
            op.f("fk_iam_api_keys_compartment_id_iam_compartments"),
            "iam_compartments", ["compartment_id"], ["id"],
        )
    op.execute(
        "UPDATE iam_api_keys SET compartment_id = owner_compartment_id"
        " WHERE owner_compartment_id IS NOT NULL"
    )
    revision_table = op.create_table(
        "iam_revision",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("singleton = 1", name=op.f("ck_iam_revision_singleton")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_iam_revision")),
    )
    op.bulk_insert(revision_table, [{"singleton": 1, "revision": 1}])


def downgrade() -> None:
    """Drop the revision row's table and the column; keys fall back to their owners' scope."""
    op.drop_table("iam_revision")
    with op.batch_alter_table("iam_api_keys") as batch:
        batch.drop_constraint(op.f("fk_iam_api_keys_compartment_id_iam_compartments"), type_="foreignkey")
        batch.drop_column("compartment_id")

"""Create the audit trail: the hash-chained events and the chain's head record.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03

Written by hand to mirror ``tenantgate/audit/tables.py`` (the migration test compares
them); it does not import that module, so later changes there cannot rewrite history.
The head row is not inserted here: the first append creates it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenantgate.storage.column_types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = 32
_HASH = 64


def upgrade() -> None:
    """Create ``audit_events`` with its indexes, and ``audit_chain_head``."""
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=_ID), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("actor_name", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("target_type", sa.String(length=50), nullable=True),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column("compartment_id", sa.String(length=_ID), nullable=True),
        sa.Column("statement_ids", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("client_ip", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=_HASH), nullable=False),
        sa.Column("hash", sa.String(length=_HASH), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_events_id")),
    )
    op.create_index(op.f("ix_audit_events_occurred_at"), "audit_events", ["occurred_at"])
    op.create_index(op.f("ix_audit_events_actor_id"), "audit_events", ["actor_id"])
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"])
    op.create_table(
        "audit_chain_head",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=_HASH), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("singleton = 1", name=op.f("ck_audit_chain_head_singleton")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_audit_chain_head")),
    )


def downgrade() -> None:
    """Drop the audit tables; the whole trail is lost."""
    op.drop_table("audit_chain_head")
    op.drop_index(op.f("ix_audit_events_action"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_occurred_at"), table_name="audit_events")
    op.drop_table("audit_events")

"""Create ``rate_card_entries``: administered prices, immutable and effective-dated.

Revision ID: 0008
Revises: 0007
Create Date: 2025-01-08

Written by hand to mirror ``tenantgate/credits/tables.py`` (the migration test compares
them); it does not import that module, so later changes there cannot rewrite history.
Prices are integer micro-credits per 1M tokens; a withdrawn (future) entry keeps its row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenantgate.storage.column_types import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``rate_card_entries``."""
    op.create_table(
        "rate_card_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("deployment_type", sa.String(length=16), nullable=True),
        sa.Column("input_per_1m_micros", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_per_1m_micros", sa.BigInteger(), nullable=True),
        sa.Column("output_per_1m_micros", sa.BigInteger(), nullable=False),
        sa.Column("embedding_per_1m_micros", sa.BigInteger(), nullable=True),
        sa.Column("effective_from", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "input_per_1m_micros >= 0 AND output_per_1m_micros >= 0 AND "
            "(cached_input_per_1m_micros IS NULL OR cached_input_per_1m_micros >= 0) AND "
            "(embedding_per_1m_micros IS NULL OR embedding_per_1m_micros >= 0)",
            name=op.f("ck_rate_card_entries_prices_not_negative")),
        sa.CheckConstraint("deployment_type IS NULL OR deployment_type IN ('on_demand', 'dedicated')",
                           name=op.f("ck_rate_card_entries_known_deployment_type")),
        sa.CheckConstraint("withdrawn_at IS NULL OR withdrawn_at < effective_from",
                           name=op.f("ck_rate_card_entries_withdrawn_before_effect")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_card_entries")),
    )


def downgrade() -> None:
    """Drop the administered prices; settled costs stay in the ledger (they are the history)."""
    op.drop_table("rate_card_entries")

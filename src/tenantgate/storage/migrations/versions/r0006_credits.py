"""Create universal credits' definitions: commitments, budgets and budget alert firings.

Revision ID: 0006
Revises: 0005
Create Date: 2025-01-06

Written by hand to mirror ``tenantgate/credits/tables.py`` (the migration test compares
them); it does not import that module, so later changes there cannot rewrite history.
No balance is stored here: money lives in the ledger's tables (``0005``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenantgate.storage.column_types import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = 32
_NAME = 100
_SCOPE_ID = 64
_KIND = 16


def upgrade() -> None:
    """Create ``credit_commitments``, ``credit_budgets`` and ``credit_budget_alerts``."""
    op.create_table(
        "credit_commitments",
        sa.Column("id", sa.String(length=_ID), nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("kind", sa.String(length=_KIND), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=True),
        sa.Column("monthly_allotment_micros", sa.BigInteger(), nullable=True),
        sa.Column("overage_allowance_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount_micros >= 0 AND overage_allowance_micros >= 0",
                           name=op.f("ck_credit_commitments_amounts_not_negative")),
        sa.CheckConstraint("kind = 'payg' OR ends_at IS NOT NULL",
                           name=op.f("ck_credit_commitments_ends_unless_payg")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_commitments")),
    )
    op.create_table(
        "credit_budgets",
        sa.Column("id", sa.String(length=_ID), nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("scope_type", sa.String(length=_KIND), nullable=False),
        sa.Column("scope_id", sa.String(length=_SCOPE_ID), nullable=False),
        sa.Column("period", sa.String(length=_KIND), nullable=False),
        sa.Column("limit_micros", sa.BigInteger(), nullable=False),
        sa.Column("hard", sa.Boolean(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("limit_micros >= 0", name=op.f("ck_credit_budgets_limit_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_budgets")),
        sa.UniqueConstraint("scope_type", "scope_id", "period",
                            name=op.f("uq_credit_budgets_scope_type_scope_id_period")),
    )
    op.create_table(
        "credit_budget_alerts",
        sa.Column("budget_id", sa.String(length=_ID), nullable=False),
        sa.Column("period", sa.String(length=_KIND), nullable=False),
        sa.Column("threshold", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("spent_micros", sa.BigInteger(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("budget_id", "period", "threshold", name=op.f("pk_credit_budget_alerts")),
    )


def downgrade() -> None:
    """Drop the definitions; the ledger's accounts and transfers stay (they are the history)."""
    op.drop_table("credit_budget_alerts")
    op.drop_table("credit_budgets")
    op.drop_table("credit_commitments")

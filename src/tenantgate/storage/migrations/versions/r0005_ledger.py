"""Create the ledger: accounts, immutable transfers, and the list of unresolved pending transfers.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05

Written by hand to mirror ``tenantgate/ledger/tables.py`` (the migration test compares
them); it does not import that module, so later changes there cannot rewrite history.
The CHECK constraints repeat the balance invariants; their flag bits (2 and 4) are
``debits_must_not_exceed_credits`` and ``credits_must_not_exceed_debits``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenantgate.storage.column_types import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACCOUNT_ID = 128
_TRANSFER_ID = 160
_LEDGER = 32


def upgrade() -> None:
    """Create ``ledger_accounts``, ``ledger_transfers`` and ``ledger_open_pending``, in that order."""
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(length=_ACCOUNT_ID), nullable=False),
        sa.Column("ledger", sa.String(length=_LEDGER), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("user_data", sa.JSON(), nullable=True),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name=op.f("ck_ledger_accounts_balances_not_negative"),
        ),
        sa.CheckConstraint(
            "(flags & 2) = 0 OR debits_pending + debits_posted <= credits_posted",
            name=op.f("ck_ledger_accounts_debits_within_credits"),
        ),
        sa.CheckConstraint(
            "(flags & 4) = 0 OR credits_pending + credits_posted <= debits_posted",
            name=op.f("ck_ledger_accounts_credits_within_debits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", sa.String(length=_TRANSFER_ID), nullable=False),
        sa.Column("debit_account_id", sa.String(length=_ACCOUNT_ID), nullable=False),
        sa.Column("credit_account_id", sa.String(length=_ACCOUNT_ID), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("ledger", sa.String(length=_LEDGER), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("pending_id", sa.String(length=_TRANSFER_ID), nullable=True),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("user_data", sa.JSON(), nullable=True),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_ledger_transfers_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["debit_account_id"], ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_debit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"], ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["ledger_transfers.id"],
            name=op.f("fk_ledger_transfers_pending_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
        sa.UniqueConstraint("pending_id", name=op.f("uq_ledger_transfers_pending_id")),
    )
    for side in ("debit", "credit"):
        column = f"{side}_account_id"
        op.create_index(f"ix_ledger_transfers_{column}_timestamp", "ledger_transfers", [column, "timestamp"])
    op.create_table(
        "ledger_open_pending",
        sa.Column("transfer_id", sa.String(length=_TRANSFER_ID), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["ledger_transfers.id"],
            name=op.f("fk_ledger_open_pending_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_ledger_open_pending")),
    )
    op.create_index(op.f("ix_ledger_open_pending_expires_at"), "ledger_open_pending", ["expires_at"])


def downgrade() -> None:
    """Drop the ledger tables; every account and transfer is lost."""
    op.drop_index(op.f("ix_ledger_open_pending_expires_at"), table_name="ledger_open_pending")
    op.drop_table("ledger_open_pending")
    op.drop_index("ix_ledger_transfers_credit_account_id_timestamp", table_name="ledger_transfers")
    op.drop_index("ix_ledger_transfers_debit_account_id_timestamp", table_name="ledger_transfers")
    op.drop_table("ledger_transfers")
    op.drop_table("ledger_accounts")

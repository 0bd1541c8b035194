"""The ledger's tables, on the shared storage metadata (migration ``0005`` creates them).

* ``ledger_accounts``: one row per account; the only rows whose money columns change.
  CHECK constraints repeat the balance invariants, the database's last line of defence.
* ``ledger_transfers``: immutable, one row per accepted transfer, post, void or expiry.
  The primary key makes an id take effect at most once; the unique ``pending_id`` makes a
  pending transfer resolve at most once, whichever replica or sweeper gets there first.
* ``ledger_open_pending``: an index, not money: one row per pending transfer not yet
  resolved, so expiry sweeps and recovery scans stay small however long the history grows.

Amounts and balances are BIGINT micro-credits; ids are the callers' own strings.
"""

from __future__ import annotations

import sqlalchemy as sa

from tenantgate.storage.column_types import UtcDateTime
from tenantgate.storage.metadata import metadata

ACCOUNT_ID_LENGTH = 128
TRANSFER_ID_LENGTH = 160  # caller ids are at most 128; expiry ids add a prefix
LEDGER_LENGTH = 32

ledger_accounts = sa.Table(
    "ledger_accounts",
    metadata,
    sa.Column("id", sa.String(ACCOUNT_ID_LENGTH), primary_key=True),
    sa.Column("ledger", sa.String(LEDGER_LENGTH), nullable=False),
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
        name="balances_not_negative",
    ),
    sa.CheckConstraint(
        "(flags & 2) = 0 OR debits_pending + debits_posted <= credits_posted", name="debits_within_credits"
    ),
    sa.CheckConstraint(
        "(flags & 4) = 0 OR credits_pending + credits_posted <= debits_posted", name="credits_within_debits"
    ),
)

ledger_transfers = sa.Table(
    "ledger_transfers",
    metadata,
    sa.Column("id", sa.String(TRANSFER_ID_LENGTH), primary_key=True),
    sa.Column(
        "debit_account_id", sa.String(ACCOUNT_ID_LENGTH), sa.ForeignKey("ledger_accounts.id"), nullable=False
    ),
    sa.Column(
        "credit_account_id", sa.String(ACCOUNT_ID_LENGTH), sa.ForeignKey("ledger_accounts.id"), nullable=False
    ),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("ledger", sa.String(LEDGER_LENGTH), nullable=False),
    sa.Column("code", sa.Integer(), nullable=False),
    sa.Column("flags", sa.Integer(), nullable=False),
    sa.Column(
        "pending_id", sa.String(TRANSFER_ID_LENGTH), sa.ForeignKey("ledger_transfers.id"), nullable=True
    ),
    sa.Column("timeout_s", sa.Integer(), nullable=False),
    sa.Column("user_data", sa.JSON(), nullable=True),
    sa.Column("timestamp", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("pending_id"),
    sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
    sa.Index("ix_ledger_transfers_debit_account_id_timestamp", "debit_account_id", "timestamp"),
    sa.Index("ix_ledger_transfers_credit_account_id_timestamp", "credit_account_id", "timestamp"),
)

ledger_open_pending = sa.Table(
    "ledger_open_pending",
    metadata,
    sa.Column(
        "transfer_id", sa.String(TRANSFER_ID_LENGTH), sa.ForeignKey("ledger_transfers.id"), primary_key=True
    ),
    sa.Column("expires_at", UtcDateTime(), nullable=True, index=True),
)

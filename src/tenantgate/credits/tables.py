"""Universal credits' tables, on the shared storage metadata (migrations ``0006`` and ``0008``).

They hold definitions and alert firings only, never a balance: every amount that moves is
a transfer in the ledger's tables, so there is one source of truth for money.

* ``credit_commitments``: one row per commitment (its terms; the grant is a ledger transfer).
* ``credit_budgets``: one row per budget, unique per (scope, period), so "set" replaces.
  ``revision`` counts changes; it names the correcting transfer of each limit change.
* ``credit_budget_alerts``: one row per (budget, period, threshold) that fired; the primary
  key makes an alert fire once across every replica.
* ``rate_card_entries`` (``0008``): administered prices, one immutable row per entry, exact
  integer micro-credits per 1M tokens. A withdrawn future entry keeps its row
  (``withdrawn_at``), so ``count(*)`` and ``count(withdrawn_at)`` only ever grow and together
  are the card's revision, which replicas poll.
"""

from __future__ import annotations

import sqlalchemy as sa

from tenantgate.storage.column_types import UtcDateTime
from tenantgate.storage.metadata import metadata

ID_LENGTH = 32
NAME_LENGTH = 100
SCOPE_ID_LENGTH = 64
KIND_LENGTH = 16

commitments = sa.Table(
    "credit_commitments",
    metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("kind", sa.String(KIND_LENGTH), nullable=False),
    sa.Column("amount_micros", sa.BigInteger(), nullable=False),
    sa.Column("starts_at", UtcDateTime(), nullable=False),
    sa.Column("ends_at", UtcDateTime(), nullable=True),
    sa.Column("monthly_allotment_micros", sa.BigInteger(), nullable=True),
    sa.Column("overage_allowance_micros", sa.BigInteger(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("amount_micros >= 0 AND overage_allowance_micros >= 0", name="amounts_not_negative"),
    sa.CheckConstraint("kind = 'payg' OR ends_at IS NOT NULL", name="ends_unless_payg"),
)

budgets = sa.Table(
    "credit_budgets",
    metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("scope_type", sa.String(KIND_LENGTH), nullable=False),
    sa.Column("scope_id", sa.String(SCOPE_ID_LENGTH), nullable=False),
    sa.Column("period", sa.String(KIND_LENGTH), nullable=False),
    sa.Column("limit_micros", sa.BigInteger(), nullable=False),
    sa.Column("hard", sa.Boolean(), nullable=False),
    sa.Column("thresholds", sa.JSON(), nullable=False),
    sa.Column("webhook_url", sa.Text(), nullable=True),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # Also the index of ``budgets_for``: every lookup is by scope type and id.
    sa.UniqueConstraint("scope_type", "scope_id", "period"),
    sa.CheckConstraint("limit_micros >= 0", name="limit_not_negative"),
)

budget_alerts = sa.Table(
    "credit_budget_alerts",
    metadata,
    sa.Column("budget_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("period", sa.String(KIND_LENGTH), primary_key=True),
    sa.Column("threshold", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("spent_micros", sa.BigInteger(), nullable=False),
    sa.Column("fired_at", UtcDateTime(), nullable=False),
)

MODEL_LENGTH = 200
REGION_LENGTH = 64
PRINCIPAL_LENGTH = 64

rate_card_entries = sa.Table(
    "rate_card_entries",
    metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("model", sa.String(MODEL_LENGTH), nullable=False),
    sa.Column("region", sa.String(REGION_LENGTH), nullable=True),
    sa.Column("deployment_type", sa.String(KIND_LENGTH), nullable=True),
    sa.Column("input_per_1m_micros", sa.BigInteger(), nullable=False),
    sa.Column("cached_input_per_1m_micros", sa.BigInteger(), nullable=True),
    sa.Column("output_per_1m_micros", sa.BigInteger(), nullable=False),
    sa.Column("embedding_per_1m_micros", sa.BigInteger(), nullable=True),
    sa.Column("effective_from", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", sa.String(PRINCIPAL_LENGTH), nullable=False),
    sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
    sa.Column("withdrawn_by", sa.String(PRINCIPAL_LENGTH), nullable=True),
    sa.CheckConstraint(
        "input_per_1m_micros >= 0 AND output_per_1m_micros >= 0 AND "
        "(cached_input_per_1m_micros IS NULL OR cached_input_per_1m_micros >= 0) AND "
        "(embedding_per_1m_micros IS NULL OR embedding_per_1m_micros >= 0)",
        name="prices_not_negative"),
    sa.CheckConstraint("deployment_type IS NULL OR deployment_type IN ('on_demand', 'dedicated')",
                       name="known_deployment_type"),
    sa.CheckConstraint("withdrawn_at IS NULL OR withdrawn_at < effective_from",
                       name="withdrawn_before_effect"),
)

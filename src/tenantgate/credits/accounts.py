"""How universal credits map onto ledger accounts and transfer ids: pure naming, one place.

Ledger ``credits`` (micro-credits). The accounts:

* ``tg:issuer`` — where every grant comes from (no limit: it goes as negative as credits issued).
* ``cmt:<commitment id>`` — a prepaid commitment (``debits_must_not_exceed_credits``); granted
  by ``tg:issuer → cmt``, consumed by ``cmt → tg:spend``. Pay-as-you-go commitments carry no
  limit: they are billed afterwards.
* ``bud:<budget id>:<period>`` — a hard or soft budget for one period (``2026-12``,
  ``2026-12-02`` or ``all``), funded with its limit by ``tg:issuer → bud`` when the period is
  first used; consumed by ``bud → tg:budgets``. A hard budget carries the limit flag.
* ``tg:spend`` — everything commitments paid; ``tg:budgets`` — everything budgets counted.
* ``pc:<deployment>`` — what failed attempts on one deployment may have cost the operator
  (``provider_cost_account``): an attempt the upstream took on but whose answer never
  reached the caller, who is not charged for it. Booked by ``pc:<deployment> →
  tg:provider-bills``, so ``tg:provider-bills`` totals what providers may bill for them.

A request's hold is one linked chain of pending transfers: one per budget in its chain
(key, user, compartment and each ancestor), then the commitment. It commits or fails as a
whole, so no budget is ever charged for a request another budget refused.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum

LEDGER = "credits"
ISSUER = "tg:issuer"
SPEND = "tg:spend"
BUDGETS = "tg:budgets"
OVERAGE = "tg:overage"
"""Costs beyond a request's hold that its commitment could not absorb (an upstream ignored max_tokens)."""
PROVIDER_BILLS = "tg:provider-bills"
"""The counterpart of every ``pc:<deployment>`` account: failed attempts' costs, owed to providers."""


class AccountCode(IntEnum):
    """The ledger ``code`` of each kind of account."""

    SYSTEM = 1
    COMMITMENT = 2
    BUDGET = 3
    PROVIDER_COST = 4


class TransferCode(IntEnum):
    """The ledger ``code`` of each kind of transfer, so reports can tell them apart."""

    GRANT = 1
    HOLD = 2
    """A request's hold; its post (settlement) and void (release) carry the same code."""
    OVERAGE = 5
    FUND_BUDGET = 6
    FORFEIT = 7
    CORRECTION = 8
    PROVIDER_COST = 9
    """A failed attempt's estimated cost, absorbed by the operator (never the caller's)."""


class Period(StrEnum):
    """How long a budget's limit lasts before it starts again."""

    DAILY = "daily"
    MONTHLY = "monthly"
    LIFETIME = "lifetime"


def period_key(period: Period, at: datetime) -> str:
    """The period ``at`` falls in, in UTC: ``2026-12-02``, ``2026-12`` or ``all``."""
    if period is Period.DAILY:
        return at.strftime("%Y-%m-%d")
    if period is Period.MONTHLY:
        return at.strftime("%Y-%m")
    return "all"


def commitment_account(commitment_id: str) -> str:
    return f"cmt:{commitment_id}"


def budget_account(budget_id: str, period: str) -> str:
    return f"bud:{budget_id}:{period}"


def funding_transfer_id(budget_id: str, period: str) -> str:
    """Fixed per budget and period, so concurrent first uses fund it exactly once."""
    return f"fund:{budget_id}:{period}"


def hold_transfer_id(hold_id: str, index: int) -> str:
    return f"h:{hold_id}:{index}"


def post_transfer_id(hold_id: str, index: int) -> str:
    return f"p:{hold_id}:{index}"


def void_transfer_id(hold_id: str, index: int) -> str:
    return f"v:{hold_id}:{index}"


def overage_transfer_id(hold_id: str, index: int) -> str:
    return f"o:{hold_id}:{index}"


def provider_cost_account(deployment: str) -> str:
    return f"pc:{deployment}"


def provider_cost_transfer_id(attempt_id: str) -> str:
    """One per attempt (``<request id>-a<N>``): a retried booking takes effect once."""
    return f"pc:{attempt_id}"

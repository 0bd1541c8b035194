"""Budgets: spending limits per key, user, compartment or tenancy, and their pure rules.

A budget is a definition row; each period it is used in gets its own ledger account,
``bud:<id>:<period>``, funded once with the limit by ``tg:issuer`` (``fund:<id>:<period>``)
and drawn down by every request in its scope. A *hard* budget's account carries the limit
flag, so the ledger itself refuses a hold that would pass it; a *soft* one only alerts.

Changing the limit never rewrites history: for the current period a correcting transfer
(``corr:<id>:<period>:<revision>``) moves the difference, issuer to budget when raised,
budget to issuer (``balancing_debit``: no more than is left) when lowered. The net funding
of a period is therefore ``fund + raises - lowerings``, and what was spent is the account's
``debits_posted`` minus the lowerings. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from tenantgate.credits import accounts as names
from tenantgate.credits.accounts import Period
from tenantgate.errors import InvalidParameterValue
from tenantgate.ledger.model import Account, AccountFlags, Transfer, TransferFlags

ScopeType = Literal["key", "user", "compartment", "tenancy"]
SCOPE_TYPES: tuple[ScopeType, ...] = get_args(ScopeType)
TENANCY_SCOPE_ID = "tenancy"
"""The ``scope_id`` of a tenancy-wide budget: one installation is one tenancy."""
DEFAULT_THRESHOLDS = (50, 80, 100)
THRESHOLD_MAX = 1_000
"""Percent; above 100 is useful for soft budgets (alert at 150% of the limit)."""
NAME_LENGTH_MAX = 100
SCOPE_ID_LENGTH_MAX = 64
BURN_WINDOW = timedelta(days=7)
_MICROSECOND = timedelta(microseconds=1)
_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
_F = TransferFlags
_NOT_SPEND = _F.PENDING | _F.VOID_PENDING_TRANSFER | _F.EXPIRE_PENDING_TRANSFER


@dataclass(frozen=True, slots=True)
class Budget:
    """A limit on what one scope may spend per period; ``limit`` in micro-credits, thresholds in percent."""

    id: str
    name: str
    scope_type: ScopeType
    scope_id: str
    period: Period
    limit: int
    hard: bool
    thresholds: tuple[int, ...]
    webhook_url: str | None
    created_at: datetime

    def account_id(self, period: str) -> str:
        """The ledger account of this budget in ``period`` (a ``period_key``)."""
        return names.budget_account(self.id, period)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where a budget stands in its current period; ``remaining`` is what holds may still take."""

    budget: Budget
    period: str
    limit: int
    spent: int
    held: int
    remaining: int
    forecast_exhausted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Funding:
    """What a period's account was given (``funded``, net) and taken back by lowerings (``lowered``)."""

    funded: int
    lowered: int


def check_budget(budget: Budget) -> Budget:
    """``budget`` with its thresholds sorted and deduplicated, if every value is acceptable."""
    b = budget
    if not 1 <= len(b.name) <= NAME_LENGTH_MAX or b.name != b.name.strip():
        raise InvalidParameterValue(f"A name must be 1 to {NAME_LENGTH_MAX} characters.", param="name")
    if b.scope_type not in SCOPE_TYPES:
        raise InvalidParameterValue(f"scope_type must be one of {', '.join(SCOPE_TYPES)}.",
                                    param="scope_type")
    if not 1 <= len(b.scope_id) <= SCOPE_ID_LENGTH_MAX or (
            b.scope_type == "tenancy" and b.scope_id != TENANCY_SCOPE_ID):
        raise InvalidParameterValue(f"scope_id must be the key, user or compartment id, or "
                                    f"{TENANCY_SCOPE_ID!r} for the tenancy.", param="scope_id")
    if not isinstance(b.limit, int) or isinstance(b.limit, bool) or b.limit < 0:
        raise InvalidParameterValue("limit must be a non-negative int of micro-credits.", param="limit")
    if any(isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= THRESHOLD_MAX
           for t in b.thresholds):
        raise InvalidParameterValue(f"Alert thresholds are percentages from 1 to {THRESHOLD_MAX}.",
                                    param="thresholds")
    if b.webhook_url is not None and not b.webhook_url.startswith(("http://", "https://")):
        raise InvalidParameterValue("webhook_url must be an http:// or https:// URL.", param="webhook_url")
    return replace(b, period=Period(b.period), thresholds=tuple(sorted(set(b.thresholds))))


def chain_order(
    budgets: Iterable[Budget], *, key_id: str | None, user_id: str | None, compartment_ids: Sequence[str]
) -> list[Budget]:
    """Budgets in hold-chain order: key, user, compartments as given (target first), tenancy."""
    rank = {("key", key_id): 0, ("user", user_id): 1}
    rank |= {("compartment", c): 2 + i for i, c in enumerate(compartment_ids)}
    last = 2 + len(compartment_ids)

    def key(b: Budget) -> tuple[int, int, str]:
        position = last if b.scope_type == "tenancy" else rank[(b.scope_type, b.scope_id)]
        return position, list(Period).index(b.period), b.id

    return sorted((b for b in budgets if b.scope_type == "tenancy" or (b.scope_type, b.scope_id) in rank),
                  key=key)


def period_bounds(budget: Budget, at: datetime) -> tuple[datetime, datetime | None]:
    """Start and end (None: never) of the period ``at`` falls in, in UTC."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if budget.period is Period.DAILY:
        return day, day + timedelta(days=1)
    if budget.period is Period.MONTHLY:
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
            month=start.month + 1)
        return start, end
    return budget.created_at, None


def crossed_thresholds(thresholds: Iterable[int], limit: int, spent: int) -> tuple[int, ...]:
    """The thresholds (percent of ``limit``) that ``spent`` has reached; exact integer arithmetic."""
    if limit <= 0:
        return tuple(t for t in thresholds if spent > 0)
    return tuple(t for t in thresholds if spent * 100 >= t * limit)


def budget_account(budget: Budget, period: str) -> Account:
    """The period's ledger account; only a hard budget's may not go below zero."""
    flags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS if budget.hard else AccountFlags.NONE
    return Account(id=budget.account_id(period), ledger=names.LEDGER, code=names.AccountCode.BUDGET,
                   flags=flags, user_data={"budget": budget.id, "period": period})


def funding_transfer(budget_id: str, period: str, amount: int) -> Transfer | None:
    """The period's one funding, ``fund:<id>:<period>``; None for a zero limit."""
    if amount == 0:
        return None
    return Transfer(id=names.funding_transfer_id(budget_id, period), debit_account_id=names.ISSUER,
                    credit_account_id=names.budget_account(budget_id, period), amount=amount,
                    ledger=names.LEDGER, code=names.TransferCode.FUND_BUDGET,
                    user_data={"budget": budget_id, "period": period})


def correction_id(budget_id: str, period: str, revision: int) -> str:
    """Fixed per budget, period and revision of the definition, so a change corrects once."""
    return f"corr:{budget_id}:{period}:{revision}"


def correction_transfer(budget_id: str, period: str, revision: int, *, limit: int,
                        funded: int) -> Transfer | None:
    """The transfer that brings a period funded with ``funded`` to ``limit``; None when equal.

    ``user_data`` carries the new limit, so a change whose definition row was never written
    (a crash, a concurrent change) can be rolled forward from the ledger.
    """
    delta = limit - funded
    if delta == 0:
        return None
    account = names.budget_account(budget_id, period)
    debit, credit = (names.ISSUER, account) if delta > 0 else (account, names.ISSUER)
    flags = TransferFlags.NONE if delta > 0 else TransferFlags.BALANCING_DEBIT
    return Transfer(id=correction_id(budget_id, period, revision), debit_account_id=debit,
                    credit_account_id=credit, amount=abs(delta), ledger=names.LEDGER,
                    code=names.TransferCode.CORRECTION, flags=flags,
                    user_data={"budget": budget_id, "period": period, "revision": revision, "limit": limit})


def funding_from(transfers: Iterable[Transfer], account_id: str) -> Funding:
    """Net funding and lowerings of ``account_id`` from its funding and correction transfers."""
    given = taken = 0
    for t in transfers:
        if t.code not in (names.TransferCode.FUND_BUDGET, names.TransferCode.CORRECTION):
            continue
        if t.credit_account_id == account_id:
            given += t.amount
        elif t.debit_account_id == account_id:
            taken += t.amount
    return Funding(funded=given - taken, lowered=taken)


def is_spend(transfer: Transfer, account_id: str) -> bool:
    """Whether ``transfer`` is usage drawn from ``account_id``: a settled hold (a post) or an overage."""
    if transfer.debit_account_id != account_id or transfer.flags & _NOT_SPEND:
        return False
    return bool(transfer.flags & _F.POST_PENDING_TRANSFER) or transfer.code == names.TransferCode.OVERAGE


def forecast_exhaustion(
    *, burned: int, window_start: datetime, now: datetime, remaining: int, period_end: datetime | None
) -> datetime | None:
    """When ``remaining`` runs out at the rate ``burned`` was spent since ``window_start``.

    None when nothing was spent, or when the period ends (and the limit starts again) first.
    """
    elapsed = now - window_start
    if burned <= 0 or elapsed <= timedelta(0):
        return None
    elapsed_us = elapsed // _MICROSECOND
    left_us = -(-remaining * elapsed_us // burned)
    if left_us >= (_FOREVER - now) // _MICROSECOND:
        return None
    exhausted_at = now + timedelta(microseconds=left_us)
    if period_end is not None and exhausted_at >= period_end:
        return None
    return exhausted_at

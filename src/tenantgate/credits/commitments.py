"""Commitments: prepaid (or pay-as-you-go) universal credits, and the pure rules of their life.

A commitment is a definition row plus one ledger account, ``cmt:<id>``, granted its amount
(and overage allowance) once by ``tg:issuer`` with the fixed transfer id ``grant:<id>``.
Everything that later happens to the money is a ledger transfer; nothing here does I/O.

* **annual**: usable from ``starts_at`` until ``ends_at``; at the end whatever is left is
  forfeited (returned to ``tg:issuer``) by ``forfeit:<id>``.
* **monthly_flex**: the same, and at every calendar-month boundary (UTC) the allotment not
  used so far is forfeited by ``forfeit:<id>:<YYYY-MM>``. The rule is cumulative: by the end
  of the k-th month at least k allotments have left the account, spent or forfeited, so
  spending ahead of a month's allotment is allowed and only what was never used is lost.
* **payg**: no limit and nothing to forfeit; usage is billed afterwards.

Forfeits are ``balancing_debit`` transfers, so they can only take what is available and
never break the limit; their ids are fixed, so replicas sweeping at once forfeit once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from tenantgate.credits import accounts as names
from tenantgate.errors import InvalidParameterValue
from tenantgate.ledger.model import (
    AMOUNT_MAX,
    Account,
    AccountBalance,
    AccountFlags,
    JsonValue,
    Transfer,
    TransferFlags,
)

NAME_LENGTH_MAX = 100


class CommitmentKind(StrEnum):
    """How a commitment's credits become usable and when unused ones are lost."""

    ANNUAL = "annual"
    MONTHLY_FLEX = "monthly_flex"
    PAYG = "payg"


@dataclass(frozen=True, slots=True)
class Commitment:
    """A purchase of credits; amounts are micro-credits, the balance lives in the ledger."""

    id: str
    name: str
    kind: CommitmentKind
    amount: int
    starts_at: datetime
    ends_at: datetime | None
    monthly_allotment: int | None
    overage_allowance: int
    created_at: datetime

    @property
    def account_id(self) -> str:
        """The ledger account holding this commitment's credits."""
        return names.commitment_account(self.id)

    @property
    def granted(self) -> int:
        """What the grant transfer credits: the amount plus the overage allowance."""
        return self.amount + self.overage_allowance


@dataclass(frozen=True, slots=True)
class CommitmentBalance:
    """A commitment with its ledger balance split the way people ask about it."""

    commitment: Commitment
    granted: int
    available: int
    held: int
    used: int
    forfeited: int


def check_commitment(commitment: Commitment) -> Commitment:
    """Return ``commitment`` if its values make sense together; InvalidParameterValue names the field."""
    c = commitment
    if not 1 <= len(c.name) <= NAME_LENGTH_MAX or c.name != c.name.strip():
        raise InvalidParameterValue(f"A name must be 1 to {NAME_LENGTH_MAX} characters.", param="name")
    for field, value in (("amount", c.amount), ("overage_allowance", c.overage_allowance)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidParameterValue(f"{field} must be a non-negative int of micro-credits.", param=field)
    if c.granted > AMOUNT_MAX:
        raise InvalidParameterValue("amount plus overage allowance is too large.", param="amount")
    if c.kind is not CommitmentKind.PAYG and c.amount == 0:
        raise InvalidParameterValue(f"An {c.kind} commitment needs an amount above zero.", param="amount")
    for field, moment in (("starts_at", c.starts_at), ("ends_at", c.ends_at)):
        if moment is not None and moment.utcoffset() is None:
            raise InvalidParameterValue(f"{field} must be timezone-aware.", param=field)
    if c.ends_at is None and c.kind is not CommitmentKind.PAYG:
        raise InvalidParameterValue("Only a pay-as-you-go commitment may have no end.", param="ends_at")
    if c.ends_at is not None and c.ends_at <= c.starts_at:
        raise InvalidParameterValue("A commitment must end after it starts.", param="ends_at")
    _check_allotment(c)
    return c


def _check_allotment(c: Commitment) -> None:
    if c.kind is not CommitmentKind.MONTHLY_FLEX:
        if c.monthly_allotment is not None:
            raise InvalidParameterValue("Only monthly flex commitments have a monthly allotment.",
                                        param="monthly_allotment")
        return
    allotment = c.monthly_allotment
    if allotment is None or isinstance(allotment, bool) or not 0 < allotment <= c.amount:
        raise InvalidParameterValue("A monthly flex commitment needs a monthly allotment above zero "
                                    "and at most its amount.", param="monthly_allotment")


def is_active(commitment: Commitment, now: datetime) -> bool:
    """Whether requests may draw on it at ``now``: started and not yet ended."""
    ends_at = commitment.ends_at
    return commitment.starts_at <= now and (ends_at is None or now < ends_at)


def spending_order(commitments: Iterable[Commitment], now: datetime) -> list[Commitment]:
    """The active commitments in the order requests draw on them: earliest expiry first, payg last."""
    far = datetime.max.replace(tzinfo=UTC)

    def key(c: Commitment) -> tuple[bool, datetime, datetime, str]:
        return (c.kind is CommitmentKind.PAYG, c.ends_at or far, c.starts_at, c.id)

    return sorted((c for c in commitments if is_active(c, now)), key=key)


def commitment_account(commitment: Commitment) -> Account:
    """The ledger account: a limit (no overdraft) unless pay-as-you-go."""
    flags = (AccountFlags.NONE if commitment.kind is CommitmentKind.PAYG
             else AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    return Account(id=commitment.account_id, ledger=names.LEDGER, code=names.AccountCode.COMMITMENT,
                   flags=flags, user_data={"commitment": commitment.id})


def grant_transfer(commitment: Commitment) -> Transfer | None:
    """The one grant, ``grant:<id>``; None when there is nothing to grant (payg without prepayment)."""
    if commitment.granted == 0:
        return None
    return Transfer(id=f"grant:{commitment.id}", debit_account_id=names.ISSUER,
                    credit_account_id=commitment.account_id, amount=commitment.granted,
                    ledger=names.LEDGER, code=names.TransferCode.GRANT,
                    user_data={"commitment": commitment.id})


def final_forfeit_id(commitment_id: str) -> str:
    return f"forfeit:{commitment_id}"


def month_forfeit_id(commitment_id: str, month: str) -> str:
    return f"forfeit:{commitment_id}:{month}"


def closed_months(commitment: Commitment, now: datetime) -> list[str]:
    """The flex commitment's calendar months (``YYYY-MM``) that ended by ``now``, before its end."""
    if commitment.kind is not CommitmentKind.MONTHLY_FLEX or commitment.ends_at is None:
        return []
    months: list[str] = []
    month = commitment.starts_at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while True:
        boundary = _next_month(month)
        if boundary > now or boundary >= commitment.ends_at:
            return months
        months.append(month.strftime("%Y-%m"))
        month = boundary


def forfeit_ids(commitment: Commitment, now: datetime) -> list[str]:
    """Every forfeit transfer id that may exist for ``commitment`` by ``now``."""
    if commitment.kind is CommitmentKind.PAYG:
        return []
    months = [month_forfeit_id(commitment.id, m) for m in closed_months(commitment, now)]
    return [*months, final_forfeit_id(commitment.id)]


def due_forfeits(
    commitment: Commitment, balance: AccountBalance, recorded: Set[str], now: datetime
) -> list[Transfer]:
    """The forfeits to submit now, in order, given the account's balance and the ids already recorded.

    Monthly: after k closed months, ``k x allotment - debits_posted`` (spent plus forfeited so
    far), if positive. Final: everything available, once the commitment ended and no hold is
    open on it (a hold released later would otherwise leave a remainder behind).
    """
    if commitment.kind is CommitmentKind.PAYG or commitment.ends_at is None:
        return []
    gone = balance.debits_posted
    available = balance.credits_posted - balance.debits_posted - balance.debits_pending
    transfers: list[Transfer] = []
    allotment = commitment.monthly_allotment or 0
    for k, month in enumerate(closed_months(commitment, now), start=1):
        transfer_id = month_forfeit_id(commitment.id, month)
        amount = min(max(0, k * allotment - gone), available)
        if transfer_id in recorded or amount <= 0:
            continue
        transfers.append(_forfeit(commitment, transfer_id, amount, month))
        gone, available = gone + amount, available - amount
    final_id = final_forfeit_id(commitment.id)
    ended = commitment.ends_at <= now
    if ended and final_id not in recorded and balance.debits_pending == 0 and available > 0:
        transfers.append(_forfeit(commitment, final_id, AMOUNT_MAX, None))
    return transfers


def forfeited_total(records: Sequence[Transfer], commitment: Commitment) -> int:
    """What the recorded forfeit transfers took from ``commitment``."""
    final = final_forfeit_id(commitment.id)
    return sum(t.amount for t in records if t.debit_account_id == commitment.account_id
               and t.code == names.TransferCode.FORFEIT and (t.id == final or t.id.startswith(final + ":")))


def _forfeit(commitment: Commitment, transfer_id: str, amount: int, month: str | None) -> Transfer:
    user_data: dict[str, JsonValue] = {"commitment": commitment.id}
    if month is not None:
        user_data["month"] = month
    return Transfer(id=transfer_id, debit_account_id=commitment.account_id, credit_account_id=names.ISSUER,
                    amount=amount, ledger=names.LEDGER, code=names.TransferCode.FORFEIT,
                    flags=TransferFlags.BALANCING_DEBIT, user_data=user_data)


def _next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(
        month=month.month + 1)

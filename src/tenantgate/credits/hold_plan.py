"""The ledger transfers of one request: its hold, then exactly one of settle or release. Pure.

A hold is one linked chain of pending transfers, budget accounts first and the commitment
last, all for the same amount: the request's maximum cost. Settlement posts the actual cost
(never more than held) on every member and releases the rest; a cost above the hold (an
upstream that ignored ``max_tokens``) posts the whole hold plus *overage* transfers: budgets
count what they have left (``balancing_debit``), the commitment pays the excess, or
``tg:overage`` records it when the commitment cannot, so settling never fails on a limit
and the excess is never lost. A failure before any token voids every member.

Transfer ids derive from the hold id, so a retried settlement is a no-op, and a settle can
never follow a void (or the reverse): both resolve the same pending transfers, and the
ledger lets each resolve once.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenantgate.credits import accounts as names
from tenantgate.ledger.model import AMOUNT_MAX, JsonValue, Transfer, TransferFlags


@dataclass(frozen=True, slots=True)
class HoldPlan:
    """Who pays for one request: the budget accounts in its chain, then the commitment account."""

    hold_id: str
    amount: int
    budget_accounts: tuple[str, ...]
    commitment_account: str

    @property
    def members(self) -> tuple[tuple[str, str], ...]:
        """(debit account, credit account) of each chain member, in order."""
        budgets = tuple((account, names.BUDGETS) for account in self.budget_accounts)
        return (*budgets, (self.commitment_account, names.SPEND))


def _linked(index: int, count: int) -> TransferFlags:
    return TransferFlags.LINKED if index < count - 1 else TransferFlags.NONE


def hold_transfers(plan: HoldPlan, *, timeout_s: int, user_data: JsonValue = None) -> list[Transfer]:
    """The pending chain that reserves ``plan.amount`` on every account, or on none."""
    members = plan.members
    return [
        Transfer(
            id=names.hold_transfer_id(plan.hold_id, index), debit_account_id=debit,
            credit_account_id=credit, amount=plan.amount, ledger=names.LEDGER,
            code=names.TransferCode.HOLD,
            flags=TransferFlags.PENDING | _linked(index, len(members)),
            timeout_s=timeout_s, user_data=user_data,
        )
        for index, (debit, credit) in enumerate(members)
    ]


def settle_transfers(plan: HoldPlan, cost: int, *, user_data: JsonValue = None) -> list[Transfer]:
    """Post ``cost``, capped at the hold, on every member as one chain; the rest is released."""
    members = plan.members
    posted = min(cost, plan.amount)
    return [
        Transfer(
            id=names.post_transfer_id(plan.hold_id, index),
            pending_id=names.hold_transfer_id(plan.hold_id, index),
            amount=posted,  # a post inherits the hold's code; its flag tells it apart
            flags=TransferFlags.POST_PENDING_TRANSFER | _linked(index, len(members)), user_data=user_data,
        )
        for index in range(len(members))
    ]


def overage_transfers(plan: HoldPlan, overage: int, *, user_data: JsonValue = None) -> list[Transfer]:
    """Charge a cost beyond the hold: each budget counts what it still can, the commitment pays.

    These are independent transfers, not a chain: a budget already used up simply counts
    nothing more. If the commitment cannot pay (``exceeds_credits``), ``overage_fallback``
    books the amount to ``tg:overage`` instead, so the excess is never lost.
    """
    transfers = [
        Transfer(
            id=names.overage_transfer_id(plan.hold_id, index), debit_account_id=account,
            credit_account_id=names.BUDGETS, amount=overage, ledger=names.LEDGER,
            code=names.TransferCode.OVERAGE, flags=TransferFlags.BALANCING_DEBIT, user_data=user_data,
        )
        for index, account in enumerate(plan.budget_accounts)
    ]
    transfers.append(Transfer(
        id=names.overage_transfer_id(plan.hold_id, len(plan.budget_accounts)),
        debit_account_id=plan.commitment_account, credit_account_id=names.SPEND, amount=overage,
        ledger=names.LEDGER, code=names.TransferCode.OVERAGE, user_data=user_data,
    ))
    return transfers


def overage_fallback(plan: HoldPlan, overage: int, *, user_data: JsonValue = None) -> Transfer:
    """The overage the commitment could not pay, booked to ``tg:overage`` (owed, and alerted)."""
    return Transfer(
        id=names.overage_transfer_id(plan.hold_id, len(plan.budget_accounts) + 1),
        debit_account_id=names.OVERAGE, credit_account_id=names.SPEND, amount=overage,
        ledger=names.LEDGER, code=names.TransferCode.OVERAGE, user_data=user_data,
    )


def void_transfers(plan: HoldPlan) -> list[Transfer]:
    """Release the whole hold: nothing was delivered, nothing is owed."""
    count = len(plan.members)
    return [
        Transfer(
            id=names.void_transfer_id(plan.hold_id, index),
            pending_id=names.hold_transfer_id(plan.hold_id, index),
            amount=AMOUNT_MAX,
            flags=TransferFlags.VOID_PENDING_TRANSFER | _linked(index, count),
        )
        for index in range(count)
    ]

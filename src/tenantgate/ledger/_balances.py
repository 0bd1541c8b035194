"""Balance arithmetic: limits, overflow and moving amounts between pending and posted.

TigerBeetle's limit is ``debits_pending + debits_posted + amount <= credits_posted`` (and its
mirror): held money counts against it, so a hold that fits can always be posted. Every
counter and every pending + posted sum stays within ``AMOUNT_MAX``, a BIGINT.
"""

from __future__ import annotations

from tenantgate.ledger.model import (
    AMOUNT_MAX,
    AccountBalance,
    AccountFlags,
    AccountRecord,
    Transfer,
    TransferFlags,
)
from tenantgate.ledger.results import CreateTransferResult

R = CreateTransferResult
# Plain ints: these run for every transfer, and each ``&`` on a flag type builds a new member.
_BALANCING_DEBIT = int(TransferFlags.BALANCING_DEBIT)
_BALANCING_CREDIT = int(TransferFlags.BALANCING_CREDIT)
_DEBITS_LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CREDITS_LIMITED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)


def balanced_amount(t: Transfer, dr: AccountBalance, cr: AccountBalance) -> int | R:
    """The amount to move: as asked, or for a balancing transfer as much of it as fits."""
    amount, flags = t.amount, int(t.flags)
    if flags & _BALANCING_DEBIT:
        amount = min(amount, max(0, dr.credits_posted - dr.debits_posted - dr.debits_pending))
        if amount == 0:
            return R.EXCEEDS_CREDITS
    if flags & _BALANCING_CREDIT:
        amount = min(amount, max(0, cr.debits_posted - cr.credits_posted - cr.credits_pending))
        if amount == 0:
            return R.EXCEEDS_DEBITS
    return amount


def overflow(pending: bool, amount: int, dr: AccountBalance, cr: AccountBalance) -> R | None:
    """Which counter (or pending + posted sum) ``amount`` would push past ``AMOUNT_MAX``, if any."""
    if pending and amount + dr.debits_pending > AMOUNT_MAX:
        return R.OVERFLOWS_DEBITS_PENDING
    if pending and amount + cr.credits_pending > AMOUNT_MAX:
        return R.OVERFLOWS_CREDITS_PENDING
    if amount + dr.debits_posted > AMOUNT_MAX:
        return R.OVERFLOWS_DEBITS_POSTED
    if amount + cr.credits_posted > AMOUNT_MAX:
        return R.OVERFLOWS_CREDITS_POSTED
    if amount + dr.debits_pending + dr.debits_posted > AMOUNT_MAX:
        return R.OVERFLOWS_DEBITS
    if amount + cr.credits_pending + cr.credits_posted > AMOUNT_MAX:
        return R.OVERFLOWS_CREDITS
    return None


def limit_exceeded(amount: int, dr: AccountRecord, cr: AccountRecord) -> R | None:
    """``exceeds_credits``/``exceeds_debits`` if holding or moving ``amount`` breaks a limit flag."""
    if int(dr.account.flags) & _DEBITS_LIMITED:
        b = dr.balance
        if b.debits_pending + b.debits_posted + amount > b.credits_posted:
            return R.EXCEEDS_CREDITS
    if int(cr.account.flags) & _CREDITS_LIMITED:
        b = cr.balance
        if b.credits_pending + b.credits_posted + amount > b.debits_posted:
            return R.EXCEEDS_DEBITS
    return None


def within_limits(record: AccountRecord) -> bool:
    """Whether the account's balance honours its ``*_must_not_exceed_*`` flag (an invariant)."""
    b, flags = record.balance, int(record.account.flags)
    if flags & _DEBITS_LIMITED and b.debits_pending + b.debits_posted > b.credits_posted:
        return False
    return not (flags & _CREDITS_LIMITED and b.credits_pending + b.credits_posted > b.debits_posted)


def shift(record: AccountRecord, *, debit: bool, pending: int, posted: int) -> AccountRecord:
    """The account after adding ``pending`` and ``posted`` to one side; asserts the invariants."""
    b = record.balance
    if debit:
        balance = AccountBalance(
            b.debits_pending + pending, b.debits_posted + posted, b.credits_pending, b.credits_posted
        )
    else:
        balance = AccountBalance(
            b.debits_pending, b.debits_posted, b.credits_pending + pending, b.credits_posted + posted
        )
    after = AccountRecord(account=record.account, balance=balance, created_at=record.created_at)
    assert (
        min(balance.debits_pending, balance.debits_posted, balance.credits_pending, balance.credits_posted)
        >= 0
    )
    assert within_limits(after), f"account {record.id!r} would break its balance limit"
    return after

"""The ledger's rules, pure: whether one account or transfer may be created, and its effect.

``decide_transfer`` follows TigerBeetle's ``create_transfer`` and
``post_or_void_pending_transfer`` check by check, in the precedence of ``results.py``: it
reads accounts and transfers through a ``LedgerView`` and returns either a result code or
a ``Posting`` (the record to store and both accounts' new balances). It never writes; the
batch (``_batch.py``) applies postings and the store persists them.

Two guarantees are built in: a pending transfer reserves its amount against
``debits_must_not_exceed_credits`` at once ("pessimistic"), so posting or voiding it can
never break a limit; and an existing id is reported as ``exists`` before any balance
check, so a retry can never be charged twice or fail for lack of funds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from tenantgate.ledger._balances import balanced_amount, limit_exceeded, overflow, shift, within_limits
from tenantgate.ledger._idempotency import compare_account, compare_plain, compare_settlement
from tenantgate.ledger.model import (
    ACCOUNT_FLAGS_KNOWN,
    AMOUNT_MAX,
    RESERVED_ID_PREFIX,
    TRANSFER_FLAGS_FOR_CALLERS,
    Account,
    AccountFlags,
    AccountRecord,
    PendingStatus,
    Transfer,
    TransferFlags,
    TransferRecord,
    expiry_id,
    settlement_status,
)
from tenantgate.ledger.results import CreateAccountResult, CreateTransferResult

__all__ = ["LedgerView", "Posting", "decide_account", "decide_transfer", "expire", "within_limits"]

R = CreateTransferResult
F = TransferFlags
# Plain ints: the checks run for every transfer, and ``&`` on a flag type is a slow call.
_PENDING, _POST, _VOID = int(F.PENDING), int(F.POST_PENDING_TRANSFER), int(F.VOID_PENDING_TRANSFER)
_SETTLES = _POST | _VOID
_BALANCING = int(F.BALANCING_DEBIT | F.BALANCING_CREDIT)
_ALREADY = {
    PendingStatus.POSTED: R.PENDING_TRANSFER_ALREADY_POSTED,
    PendingStatus.VOIDED: R.PENDING_TRANSFER_ALREADY_VOIDED,
    PendingStatus.EXPIRED: R.PENDING_TRANSFER_EXPIRED,
}


class LedgerView(Protocol):
    """What the rules may read: accounts, transfers by id, and the settlement of a pending id."""

    def account(self, account_id: str) -> AccountRecord | None:
        """The account with this id, as of the current point in the batch."""

    def transfer(self, transfer_id: str) -> TransferRecord | None:
        """The transfer with this id, committed or accepted earlier in the batch."""

    def settlement(self, pending_id: str) -> TransferRecord | None:
        """The post, void or expiry that resolved this pending transfer, if any."""


@dataclass(frozen=True, slots=True)
class Posting:
    """An accepted transfer: the record to store and both accounts as they are after it."""

    record: TransferRecord
    debit_account: AccountRecord
    credit_account: AccountRecord


def decide_account(account: Account, existing: AccountRecord | None) -> CreateAccountResult:
    """Whether ``account`` may be created, given the account already stored under its id."""
    if int(account.flags) & ~ACCOUNT_FLAGS_KNOWN:
        return CreateAccountResult.RESERVED_FLAG
    if not account.id:
        return CreateAccountResult.ID_MUST_NOT_BE_EMPTY
    if existing is not None:
        return compare_account(account, existing.account)
    limits = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    if account.flags & limits == limits:
        return CreateAccountResult.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if not account.ledger:
        return CreateAccountResult.LEDGER_MUST_NOT_BE_EMPTY
    return CreateAccountResult.OK


def decide_transfer(transfer: Transfer, view: LedgerView, timestamp: datetime) -> R | Posting:
    """The result of creating ``transfer`` at ``timestamp``, or its posting when it is accepted."""
    invalid = _check_fields(transfer)
    if invalid is not None:
        return invalid
    if int(transfer.flags) & _SETTLES:
        return _decide_settlement(transfer, view, timestamp)
    return _decide_plain(transfer, view, timestamp)


def expire(pending: TransferRecord, view: LedgerView, timestamp: datetime) -> Posting:
    """The expiry of an unresolved pending transfer whose timeout has passed: releases it all."""
    p = pending.transfer
    if pending.expires_at is None or pending.expires_at > timestamp:
        raise ValueError(f"pending transfer {p.id!r} has not expired at {timestamp.isoformat()}")
    assert view.settlement(p.id) is None, "a pending transfer resolves at most once"
    expiry = Transfer(
        id=expiry_id(p.id),
        amount=p.amount,
        debit_account_id=p.debit_account_id,
        credit_account_id=p.credit_account_id,
        ledger=p.ledger,
        code=p.code,
        flags=F.EXPIRE_PENDING_TRANSFER,
        pending_id=p.id,
        user_data=p.user_data,
    )
    return _settle(TransferRecord(transfer=expiry, timestamp=timestamp), p, view, posted=0)


def _check_fields(t: Transfer) -> R | None:
    """The checks that need nothing but the transfer itself."""
    flags = int(t.flags)
    settles = bool(flags & _SETTLES)
    if flags & ~TRANSFER_FLAGS_FOR_CALLERS:
        return R.RESERVED_FLAG
    if not t.id:
        return R.ID_MUST_NOT_BE_EMPTY
    if t.id.startswith(RESERVED_ID_PREFIX):
        return R.ID_MUST_NOT_BE_RESERVED
    if _flags_conflict(flags):
        return R.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if not settles and t.debit_account_id == t.credit_account_id:
        return R.DEBIT_ACCOUNT_ID_MUST_NOT_EQUAL_CREDIT_ACCOUNT_ID
    if settles and t.pending_id is None:
        return R.PENDING_ID_REQUIRED
    if not settles and t.pending_id is not None:
        return R.PENDING_ID_MUST_NOT_BE_SET
    if settles and t.pending_id == t.id:
        return R.PENDING_ID_MUST_NOT_EQUAL_ID
    if t.timeout_s and not flags & _PENDING:
        return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if not settles and t.amount == 0:
        return R.AMOUNT_MUST_NOT_BE_ZERO
    return None


def _flags_conflict(flags: int) -> bool:
    post, void = bool(flags & _POST), bool(flags & _VOID)
    if post and void:
        return True
    return (post or void) and bool(flags & (_PENDING | _BALANCING))


def _decide_plain(t: Transfer, view: LedgerView, timestamp: datetime) -> R | Posting:
    dr = view.account(t.debit_account_id)
    if dr is None:
        return R.DEBIT_ACCOUNT_NOT_FOUND
    cr = view.account(t.credit_account_id)
    if cr is None:
        return R.CREDIT_ACCOUNT_NOT_FOUND
    if dr.account.ledger != cr.account.ledger:
        return R.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER
    if t.ledger != dr.account.ledger:
        return R.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS
    existing = view.transfer(t.id)
    if existing is not None:
        return compare_plain(t, existing.transfer)
    amount = balanced_amount(t, dr.balance, cr.balance)
    if isinstance(amount, R):
        return amount
    pending = bool(int(t.flags) & _PENDING)
    refused = overflow(pending, amount, dr.balance, cr.balance) or limit_exceeded(amount, dr, cr)
    if refused is not None:
        return refused
    recorded = t if amount == t.amount else _copy(t, amount=amount)  # frozen: safe to share
    record = TransferRecord(transfer=recorded, timestamp=timestamp)
    held, moved = (amount, 0) if pending else (0, amount)
    return Posting(
        record,
        shift(dr, debit=True, pending=held, posted=moved),
        shift(cr, debit=False, pending=held, posted=moved),
    )


def _decide_settlement(t: Transfer, view: LedgerView, timestamp: datetime) -> R | Posting:
    assert t.pending_id is not None
    pending = view.transfer(t.pending_id)
    if pending is None:
        return R.PENDING_TRANSFER_NOT_FOUND
    p = pending.transfer
    if not int(p.flags) & _PENDING:
        return R.PENDING_TRANSFER_NOT_PENDING
    if t.debit_account_id and t.debit_account_id != p.debit_account_id:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id and t.credit_account_id != p.credit_account_id:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
    if t.ledger and t.ledger != p.ledger:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER
    if t.code and t.code != p.code:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_CODE
    amount = p.amount if t.amount == AMOUNT_MAX else t.amount
    if amount > p.amount:
        return R.EXCEEDS_PENDING_TRANSFER_AMOUNT
    void = bool(int(t.flags) & _VOID)
    if void and amount != p.amount:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
    user_data = p.user_data if t.user_data is None else t.user_data
    existing = view.transfer(t.id)
    if existing is not None:
        return compare_settlement(t, existing.transfer, amount, user_data)
    settled = view.settlement(p.id)
    if settled is not None:
        return _ALREADY[settlement_status(settled.transfer.flags)]
    if pending.expires_at is not None and pending.expires_at <= timestamp:
        return R.PENDING_TRANSFER_EXPIRED
    record = _copy(
        p, id=t.id, amount=amount, flags=t.flags, pending_id=p.id, timeout_s=0, user_data=user_data
    )
    return _settle(
        TransferRecord(transfer=record, timestamp=timestamp), p, view, posted=0 if void else amount
    )


def _settle(record: TransferRecord, p: Transfer, view: LedgerView, *, posted: int) -> Posting:
    """Release the whole pending amount on both sides and post ``posted`` of it."""
    dr, cr = view.account(p.debit_account_id), view.account(p.credit_account_id)
    assert dr is not None, "the view holds the accounts of every pending transfer it holds"
    assert cr is not None, "the view holds the accounts of every pending transfer it holds"
    return Posting(
        record,
        shift(dr, debit=True, pending=-p.amount, posted=posted),
        shift(cr, debit=False, pending=-p.amount, posted=posted),
    )


def _copy(transfer: Transfer, **changes: Any) -> Transfer:
    """``dataclasses.replace`` for values already checked (fields of checked transfers, an
    amount within a checked one), without re-running ``Transfer``'s checks, which cost more
    than the rest of a decision."""
    assert changes.get("pending_id") != "", "a copy carries None, never an empty pending_id"
    copy = object.__new__(Transfer)
    for name in _TRANSFER_FIELDS:
        object.__setattr__(copy, name, changes[name] if name in changes else getattr(transfer, name))
    return copy


_TRANSFER_FIELDS = tuple(f.name for f in fields(Transfer))

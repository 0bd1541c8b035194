"""Is a resubmitted event the one already stored? The ``exists`` checks, field by field.

An id is an idempotency key (TigerBeetle; Stripe's "parameters mismatch"): the same id
with the same fields is ``exists``, a harmless retry; the same id with other fields is the
first ``exists_with_different_*`` in TigerBeetle's order, a bug in the caller. ``user_data``
compares as canonical JSON, so ``true`` never equals ``1``. Timestamps never count.
"""

from __future__ import annotations

from tenantgate.ledger.model import Account, JsonValue, Transfer, TransferFlags, canonical_json
from tenantgate.ledger.results import CreateAccountResult, CreateTransferResult

R = CreateTransferResult
_BALANCING = TransferFlags.BALANCING_DEBIT | TransferFlags.BALANCING_CREDIT


def compare_account(a: Account, e: Account) -> CreateAccountResult:
    """``exists`` if ``a`` is ``e`` resubmitted, else the first field that differs."""
    if a.flags != e.flags:
        return CreateAccountResult.EXISTS_WITH_DIFFERENT_FLAGS
    if canonical_json(a.user_data) != canonical_json(e.user_data):
        return CreateAccountResult.EXISTS_WITH_DIFFERENT_USER_DATA
    if a.ledger != e.ledger:
        return CreateAccountResult.EXISTS_WITH_DIFFERENT_LEDGER
    if a.code != e.code:
        return CreateAccountResult.EXISTS_WITH_DIFFERENT_CODE
    return CreateAccountResult.EXISTS


def compare_plain(t: Transfer, e: Transfer) -> R:
    """``exists`` if plain or pending ``t`` is stored ``e`` resubmitted, else the first difference."""
    if t.flags != e.flags:
        return R.EXISTS_WITH_DIFFERENT_FLAGS
    if t.debit_account_id != e.debit_account_id:
        return R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id != e.credit_account_id:
        return R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
    # A balancing transfer stores the amount it could move, at most the amount asked for.
    if (e.amount > t.amount) if t.flags & _BALANCING else (e.amount != t.amount):
        return R.EXISTS_WITH_DIFFERENT_AMOUNT
    if canonical_json(t.user_data) != canonical_json(e.user_data):
        return R.EXISTS_WITH_DIFFERENT_USER_DATA
    if t.timeout_s != e.timeout_s:
        return R.EXISTS_WITH_DIFFERENT_TIMEOUT
    if t.code != e.code:
        return R.EXISTS_WITH_DIFFERENT_CODE
    return R.EXISTS


def compare_settlement(t: Transfer, e: Transfer, amount: int, user_data: JsonValue) -> R:
    """The same for a post or void, whose ``amount`` and ``user_data`` are already resolved
    against the pending transfer (an omitted field means "the pending transfer's")."""
    if t.flags != e.flags:
        return R.EXISTS_WITH_DIFFERENT_FLAGS
    if e.amount != amount:
        return R.EXISTS_WITH_DIFFERENT_AMOUNT
    if t.pending_id != e.pending_id:
        return R.EXISTS_WITH_DIFFERENT_PENDING_ID
    if canonical_json(user_data) != canonical_json(e.user_data):
        return R.EXISTS_WITH_DIFFERENT_USER_DATA
    return R.EXISTS

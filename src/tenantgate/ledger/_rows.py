"""Ledger records to table rows and back, for ``_queries.py``; no I/O.

These run once per transfer a batch reads or writes, so they stay plain: rows are built as
dicts of the columns and read back by position, in the tables' column order (``tables.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tenantgate.ledger.model import (
    Account,
    AccountBalance,
    AccountFlags,
    AccountRecord,
    Transfer,
    TransferFlags,
    TransferRecord,
)

BALANCE_COLUMNS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
CHANGE_COLUMNS = ("account_id", *(f"{age}_{name}" for age in ("old", "new") for name in BALANCE_COLUMNS))
"""The parameters of one balance compare-and-set: the account, its balance as read, its new one."""


def account_row(record: AccountRecord) -> dict[str, Any]:
    """The ``ledger_accounts`` row of a new account."""
    a, b = record.account, record.balance
    balances = {name: getattr(b, name) for name in BALANCE_COLUMNS}
    return {
        "id": a.id,
        "ledger": a.ledger,
        "code": a.code,
        "flags": int(a.flags),
        "user_data": a.user_data,
        "created_at": record.created_at,
        **balances,
    }


def account_record(row: Any) -> AccountRecord:
    """An account and its balance from its ``ledger_accounts`` row."""
    account = Account(
        id=row.id, ledger=row.ledger, code=row.code, flags=AccountFlags(row.flags), user_data=row.user_data
    )
    balance = AccountBalance(*(int(getattr(row, name)) for name in BALANCE_COLUMNS))
    return AccountRecord(account=account, balance=balance, created_at=row.created_at)


def balance_change(account_id: str, before: AccountBalance, after: AccountBalance) -> dict[str, Any]:
    """The parameters (``CHANGE_COLUMNS``) that move one account from ``before`` to ``after``."""
    return {
        "account_id": account_id,
        "old_debits_pending": before.debits_pending,
        "old_debits_posted": before.debits_posted,
        "old_credits_pending": before.credits_pending,
        "old_credits_posted": before.credits_posted,
        "new_debits_pending": after.debits_pending,
        "new_debits_posted": after.debits_posted,
        "new_credits_pending": after.credits_pending,
        "new_credits_posted": after.credits_posted,
    }


def transfer_row(record: TransferRecord) -> dict[str, Any]:
    """The ``ledger_transfers`` row of a recorded transfer."""
    t = record.transfer
    return {
        "id": t.id,
        "debit_account_id": t.debit_account_id,
        "credit_account_id": t.credit_account_id,
        "amount": t.amount,
        "ledger": t.ledger,
        "code": t.code,
        "flags": int(t.flags),
        "pending_id": t.pending_id,
        "timeout_s": t.timeout_s,
        "user_data": t.user_data,
        "timestamp": record.timestamp,
    }


def transfer_record(row: Sequence[Any]) -> TransferRecord:
    """A recorded transfer from its ``ledger_transfers`` row (every column, in table order)."""
    id, debit, credit, amount, ledger, code, flags, pending_id, timeout_s, user_data, timestamp = row
    transfer = Transfer(
        id=id,
        amount=int(amount),
        debit_account_id=debit,
        credit_account_id=credit,
        ledger=ledger,
        code=code,
        flags=_TRANSFER_FLAGS[flags] if flags in _TRANSFER_FLAGS else TransferFlags(flags),
        pending_id=pending_id,
        timeout_s=timeout_s,
        user_data=user_data,
    )
    return TransferRecord(transfer=transfer, timestamp=timestamp)


def _every_transfer_flags() -> dict[int, TransferFlags]:
    members = {0: TransferFlags.NONE}
    for bit in TransferFlags:
        members.update({int(value | bit): flags | bit for value, flags in list(members.items())})
    return members


_TRANSFER_FLAGS = _every_transfer_flags()
"""Every combination of the defined bits by value, so reading a row skips ``TransferFlags()``."""

"""The ledger: double-entry accounts and immutable transfers with TigerBeetle's semantics.

It is the foundation of universal credits: a prepaid commitment is an account with
``debits_must_not_exceed_credits``, a request's hold is a pending transfer, settlement posts
the exact cost and releases the rest, and a crashed request's hold expires on its own.
Amounts are ``int`` micro-credits, never floats.

``rules.py`` decides (pure), ``store.py`` persists on SQLite or PostgreSQL, and
``invariants.py`` checks a snapshot; ``docs/ledger.md`` lists every result code in
order of precedence, the invariants as formulas, and where we differ from TigerBeetle.
"""

from tenantgate.ledger.invariants import balances_from_transfers, find_violations
from tenantgate.ledger.model import (
    AMOUNT_MAX,
    MICROS_PER_CREDIT,
    Account,
    AccountBalance,
    AccountFlags,
    AccountRecord,
    InvalidLedgerValue,
    PendingStatus,
    Transfer,
    TransferFlags,
    TransferRecord,
)
from tenantgate.ledger.results import AccountResult, CreateAccountResult, CreateTransferResult, TransferResult
from tenantgate.ledger.store import LedgerStore

__all__ = [
    "AMOUNT_MAX",
    "MICROS_PER_CREDIT",
    "Account",
    "AccountBalance",
    "AccountFlags",
    "AccountRecord",
    "AccountResult",
    "CreateAccountResult",
    "CreateTransferResult",
    "InvalidLedgerValue",
    "LedgerStore",
    "PendingStatus",
    "Transfer",
    "TransferFlags",
    "TransferRecord",
    "TransferResult",
    "balances_from_transfers",
    "find_violations",
]

"""Per-event result codes of ``create_accounts`` and ``create_transfers``, in order of precedence.

These are domain outcomes, not errors: a batch returns one result per event, and most
results are normal business (``exceeds_credits`` is "insufficient funds"). When several
checks fail, the one declared first here is returned, as in TigerBeetle's
``CreateTransferResult``; ``docs/ledger.md`` explains each code and where we differ.

Numeric values are stable (they may be stored or logged); a new code takes a new number
and is declared at its place in the precedence, so declaration order, not value, is the
order of precedence once codes are added. ``code`` is the snake_case wire name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class CreateAccountResult(IntEnum):
    """Outcome of creating one account (TigerBeetle order: the ``exists`` checks come early)."""

    OK = 0
    RESERVED_FLAG = 1
    ID_MUST_NOT_BE_EMPTY = 2
    EXISTS_WITH_DIFFERENT_FLAGS = 3
    EXISTS_WITH_DIFFERENT_USER_DATA = 4
    EXISTS_WITH_DIFFERENT_LEDGER = 5
    EXISTS_WITH_DIFFERENT_CODE = 6
    EXISTS = 7
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = 8
    LEDGER_MUST_NOT_BE_EMPTY = 9

    @property
    def code(self) -> str:
        """The stable snake_case name, as documented."""
        return self.name.lower()

    @property
    def succeeded(self) -> bool:
        """True when the account now exists as requested (``ok`` or an identical ``exists``)."""
        return self in (CreateAccountResult.OK, CreateAccountResult.EXISTS)


class CreateTransferResult(IntEnum):
    """Outcome of creating one transfer; the first failing check, in this order, decides."""

    OK = 0
    LINKED_EVENT_FAILED = 1
    LINKED_EVENT_CHAIN_OPEN = 2
    RESERVED_FLAG = 3
    ID_MUST_NOT_BE_EMPTY = 4
    ID_MUST_NOT_BE_RESERVED = 5
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = 6
    DEBIT_ACCOUNT_ID_MUST_NOT_EQUAL_CREDIT_ACCOUNT_ID = 7
    PENDING_ID_REQUIRED = 8
    PENDING_ID_MUST_NOT_BE_SET = 9
    PENDING_ID_MUST_NOT_EQUAL_ID = 10
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = 11
    AMOUNT_MUST_NOT_BE_ZERO = 12
    DEBIT_ACCOUNT_NOT_FOUND = 13
    CREDIT_ACCOUNT_NOT_FOUND = 14
    ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER = 15
    TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS = 16
    PENDING_TRANSFER_NOT_FOUND = 17
    PENDING_TRANSFER_NOT_PENDING = 18
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID = 19
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID = 20
    PENDING_TRANSFER_HAS_DIFFERENT_LEDGER = 21
    PENDING_TRANSFER_HAS_DIFFERENT_CODE = 22
    EXCEEDS_PENDING_TRANSFER_AMOUNT = 23
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = 24
    EXISTS_WITH_DIFFERENT_FLAGS = 25
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = 26
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = 27
    EXISTS_WITH_DIFFERENT_AMOUNT = 28
    EXISTS_WITH_DIFFERENT_PENDING_ID = 29
    EXISTS_WITH_DIFFERENT_USER_DATA = 30
    EXISTS_WITH_DIFFERENT_TIMEOUT = 31
    EXISTS_WITH_DIFFERENT_CODE = 32
    EXISTS = 33
    PENDING_TRANSFER_ALREADY_POSTED = 34
    PENDING_TRANSFER_ALREADY_VOIDED = 35
    PENDING_TRANSFER_EXPIRED = 36
    OVERFLOWS_DEBITS_PENDING = 37
    OVERFLOWS_CREDITS_PENDING = 38
    OVERFLOWS_DEBITS_POSTED = 39
    OVERFLOWS_CREDITS_POSTED = 40
    OVERFLOWS_DEBITS = 41
    OVERFLOWS_CREDITS = 42
    EXCEEDS_CREDITS = 43
    EXCEEDS_DEBITS = 44

    @property
    def code(self) -> str:
        """The stable snake_case name, as documented."""
        return self.name.lower()

    @property
    def succeeded(self) -> bool:
        """True when the transfer is recorded as requested: ``ok``, or ``exists`` (a retry)."""
        return self in (CreateTransferResult.OK, CreateTransferResult.EXISTS)


@dataclass(frozen=True, slots=True)
class AccountResult:
    """The result for one submitted account, in submission order."""

    id: str
    result: CreateAccountResult


@dataclass(frozen=True, slots=True)
class TransferResult:
    """The result for one submitted transfer, in submission order."""

    id: str
    result: CreateTransferResult

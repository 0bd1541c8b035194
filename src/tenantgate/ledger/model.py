"""Ledger values: accounts and transfers as callers submit them, and as the ledger records them.

Money is never a float: every amount is an ``int`` of micro-credits (1 credit = 1,000,000),
bounded by ``AMOUNT_MAX`` so each balance and each pending + posted sum fits a BIGINT.

Values are checked when they are built (``InvalidLedgerValue``) for what no caller could
mean on purpose: a wrong type, a negative amount, an id longer than a column. Everything a
caller may legitimately get wrong (an empty id, a missing account, a hold that exceeds the
balance) is a result code returned per event instead (``results.py``), as in TigerBeetle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntFlag, StrEnum
from typing import TypeAlias

AMOUNT_MAX = 2**63 - 1
"""Largest amount or balance (BIGINT). As a post/void amount it means "the pending amount"."""
MICROS_PER_CREDIT = 1_000_000
ID_LENGTH_MAX = 128
LEDGER_LENGTH_MAX = 32
CODE_MAX = 2**31 - 1
TIMEOUT_S_MAX = 2**31 - 1
USER_DATA_LENGTH_MAX = 2_048
"""Characters of ``user_data`` as canonical JSON: a request id or owner reference, not a document."""
RESERVED_ID_PREFIX = "~"
"""Ids the ledger makes itself (expiry records) start with this; caller ids may not."""

JsonValue: TypeAlias = "str | int | bool | list[JsonValue] | dict[str, JsonValue] | None"
Clock = Callable[[], datetime]
"""Returns the current aware UTC time; the store stamps accounts and transfers with it."""


class InvalidLedgerValue(ValueError):
    """A value no ledger column can hold; always a bug in the code that built it."""


class AccountFlags(IntFlag):
    """Account options; bit values match TigerBeetle's (bit 0, ``linked``, is not supported)."""

    NONE = 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2
    HISTORY = 1 << 3


class TransferFlags(IntFlag):
    """Transfer options; bit values match TigerBeetle's. ``EXPIRE_PENDING_TRANSFER`` is the
    ledger's own: only ``LedgerStore.expire_pending`` records it."""

    NONE = 0
    LINKED = 1 << 0
    PENDING = 1 << 1
    POST_PENDING_TRANSFER = 1 << 2
    VOID_PENDING_TRANSFER = 1 << 3
    BALANCING_DEBIT = 1 << 4
    BALANCING_CREDIT = 1 << 5
    EXPIRE_PENDING_TRANSFER = 1 << 15


_PENDING = int(TransferFlags.PENDING)
ACCOUNT_FLAGS_KNOWN: int = int(sum(AccountFlags))
"""Bits an account may set; a plain ``int``, because ``~`` on a flag type drops unknown bits."""
TRANSFER_FLAGS_FOR_CALLERS: int = int(sum(TransferFlags)) & ~int(TransferFlags.EXPIRE_PENDING_TRANSFER)
SETTLING_FLAGS = (
    TransferFlags.POST_PENDING_TRANSFER
    | TransferFlags.VOID_PENDING_TRANSFER
    | TransferFlags.EXPIRE_PENDING_TRANSFER
)
"""A transfer with one of these resolves the pending transfer named by its ``pending_id``."""


class PendingStatus(StrEnum):
    """The one state every pending transfer is in; it leaves ``pending`` at most once."""

    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


def expiry_id(pending_id: str) -> str:
    """The id of the record that expires ``pending_id``: fixed, so two sweepers collide on it."""
    return RESERVED_ID_PREFIX + pending_id


def settlement_status(flags: TransferFlags) -> PendingStatus:
    """The state a settling transfer (post, void or expiry) leaves its pending transfer in."""
    if flags & TransferFlags.POST_PENDING_TRANSFER:
        return PendingStatus.POSTED
    if flags & TransferFlags.VOID_PENDING_TRANSFER:
        return PendingStatus.VOIDED
    if flags & TransferFlags.EXPIRE_PENDING_TRANSFER:
        return PendingStatus.EXPIRED
    raise ValueError("not a settling transfer")


def canonical_json(value: JsonValue) -> str:
    """The one text of ``value``, so equality survives database round trips (and ``True != 1``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """An account as its owner defines it; immutable once created (balances live apart)."""

    id: str
    ledger: str
    code: int = 0
    flags: AccountFlags = AccountFlags.NONE
    user_data: JsonValue = None

    def __post_init__(self) -> None:
        _check_text("id", self.id, ID_LENGTH_MAX)
        _check_text("ledger", self.ledger, LEDGER_LENGTH_MAX)
        _check_int("code", self.code, CODE_MAX)
        _check_int("flags", self.flags, 2**31 - 1)
        _check_user_data(self.user_data)


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """The four cumulative counters of TigerBeetle; pending amounts are held, not yet moved."""

    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRecord:
    """An account with its balance as of one read, and when the ledger created it."""

    account: Account
    balance: AccountBalance
    created_at: datetime

    @property
    def id(self) -> str:
        """The account's id."""
        return self.account.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """A request to move ``amount`` from ``debit_account_id`` to ``credit_account_id``.

    ``id`` is the idempotency key: resubmitting the same transfer is a no-op (``exists``).
    A post or void may leave the accounts, ``ledger`` and ``code`` empty (they come from
    the pending transfer) and may say ``amount=AMOUNT_MAX`` for "the whole pending amount".
    """

    id: str
    amount: int
    debit_account_id: str = ""
    credit_account_id: str = ""
    ledger: str = ""
    code: int = 0
    flags: TransferFlags = TransferFlags.NONE
    pending_id: str | None = None
    timeout_s: int = 0
    user_data: JsonValue = None

    def __post_init__(self) -> None:
        reserved = self.id.startswith(RESERVED_ID_PREFIX) if isinstance(self.id, str) else False
        _check_text("id", self.id, ID_LENGTH_MAX + (len(RESERVED_ID_PREFIX) if reserved else 0))
        _check_text("debit_account_id", self.debit_account_id, ID_LENGTH_MAX)
        _check_text("credit_account_id", self.credit_account_id, ID_LENGTH_MAX)
        _check_int("amount", self.amount, AMOUNT_MAX)
        _check_text("ledger", self.ledger, LEDGER_LENGTH_MAX)
        _check_int("code", self.code, CODE_MAX)
        _check_int("flags", self.flags, 2**31 - 1)
        if self.pending_id == "":
            object.__setattr__(self, "pending_id", None)
        if self.pending_id is not None:
            _check_text("pending_id", self.pending_id, ID_LENGTH_MAX)
        _check_int("timeout_s", self.timeout_s, TIMEOUT_S_MAX)
        _check_user_data(self.user_data)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRecord:
    """A transfer as the ledger committed it: accounts, ledger, code and amount resolved."""

    transfer: Transfer
    timestamp: datetime
    expires_at: datetime | None = field(init=False)

    def __post_init__(self) -> None:
        transfer = self.transfer
        timed = transfer.timeout_s > 0 and int(transfer.flags) & _PENDING
        expires_at = self.timestamp + timedelta(seconds=transfer.timeout_s) if timed else None
        object.__setattr__(self, "expires_at", expires_at)

    @property
    def id(self) -> str:
        """The transfer's id."""
        return self.transfer.id


def _check_text(name: str, value: object, length_max: int) -> None:
    if not isinstance(value, str):
        raise InvalidLedgerValue(f"{name} must be a str, not {type(value).__name__}")
    if len(value) > length_max:
        raise InvalidLedgerValue(f"{name} is longer than {length_max} characters")


def _check_int(name: str, value: object, value_max: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidLedgerValue(f"{name} must be an int (never a float), not {type(value).__name__}")
    if not 0 <= value <= value_max:
        raise InvalidLedgerValue(f"{name} must be between 0 and {value_max}")


def _check_user_data(value: JsonValue) -> None:
    # The bound spares the json.dumps for the usual few short fields; near the limit the
    # exact text decides, so what is refused is exactly what ``canonical_json`` measures.
    if _json_length_bound(value) > USER_DATA_LENGTH_MAX and len(canonical_json(value)) > USER_DATA_LENGTH_MAX:
        raise InvalidLedgerValue(f"user_data is longer than {USER_DATA_LENGTH_MAX} characters as JSON")


def _json_length_bound(value: object) -> int:
    """Refuse what is not JSON without floats; else at least the length of its canonical JSON."""
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, str):
        return 6 * len(value) + 2  # an escaped character takes at most 6 (``\u001f``)
    if isinstance(value, int):
        return 31 * value.bit_length() // 100 + 2  # digits <= bits * log10(2) + 1, and a sign
    if isinstance(value, list):
        return 2 + sum(_json_length_bound(item) + 1 for item in value)
    if isinstance(value, dict):
        length = 2
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidLedgerValue("user_data object keys must be strings")
            length += 6 * len(key) + 4 + _json_length_bound(item)
        return length
    raise InvalidLedgerValue(f"user_data holds JSON without floats, not {type(value).__name__}")

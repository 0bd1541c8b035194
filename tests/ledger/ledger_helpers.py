"""Builders shared by the ledger tests: a stepping clock, a small chart of accounts, transfer
factories and ``check_invariants``, which every store test runs after it acts."""

from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tenantgate.ledger import (
    AMOUNT_MAX,
    Account,
    AccountBalance,
    AccountFlags,
    LedgerStore,
    Transfer,
    TransferFlags,
)

LEDGER = "credits"
GRANT, HOLD, REFUND, CORRECTION = 1, 2, 4, 6


class SteppingClock:
    """A clock tests move by hand; microseconds set so timestamp precision is exercised."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def chart(prefix: str = "") -> dict[str, Account]:
    """The accounts most tests need, by role: the operator's funding account (``op``), a
    customer's prepaid commitment (``cust``, may not go below zero), revenue (``rev``), and
    an account that may not be credited beyond its debits (``cap``)."""
    return {
        "op": Account(id=f"{prefix}op", ledger=LEDGER, code=10),
        "cust": Account(
            id=f"{prefix}cust",
            ledger=LEDGER,
            code=20,
            flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            user_data={"compartment": "cmp_1"},
        ),
        "rev": Account(id=f"{prefix}rev", ledger=LEDGER, code=30),
        "cap": Account(
            id=f"{prefix}cap", ledger=LEDGER, code=40, flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
        ),
        "usd": Account(id=f"{prefix}usd", ledger="usd", code=10),
    }


def pay(id: str, debit: str, credit: str, amount: int, **fields: object) -> Transfer:
    """A plain (single-phase) transfer on the test ledger."""
    values: dict[str, object] = {"ledger": LEDGER, "code": GRANT}
    values.update(fields)
    return Transfer(id=id, debit_account_id=debit, credit_account_id=credit, amount=amount, **values)  # type: ignore[arg-type]


def hold(id: str, debit: str, credit: str, amount: int, *, timeout_s: int = 0, **fields: object) -> Transfer:
    """A pending transfer (a hold) on the test ledger."""
    flags = TransferFlags.PENDING | fields.pop("flags", TransferFlags.NONE)  # type: ignore[operator]
    fields.setdefault("code", HOLD)
    return pay(id, debit, credit, amount, flags=flags, timeout_s=timeout_s, **fields)


def post(id: str, pending_id: str, amount: int = AMOUNT_MAX, **fields: object) -> Transfer:
    """Post ``amount`` of a pending transfer (all of it by default); accounts come from it."""
    flags = TransferFlags.POST_PENDING_TRANSFER | fields.pop("flags", TransferFlags.NONE)  # type: ignore[operator]
    return Transfer(id=id, pending_id=pending_id, amount=amount, flags=flags, **fields)  # type: ignore[arg-type]


def void(id: str, pending_id: str, **fields: object) -> Transfer:
    """Void a pending transfer, releasing all of it."""
    flags = TransferFlags.VOID_PENDING_TRANSFER | fields.pop("flags", TransferFlags.NONE)  # type: ignore[operator]
    return Transfer(id=id, pending_id=pending_id, amount=AMOUNT_MAX, flags=flags, **fields)  # type: ignore[arg-type]


def linked(transfer: Transfer) -> Transfer:
    """The same transfer with ``flags.linked`` set."""
    return replace(transfer, flags=transfer.flags | TransferFlags.LINKED)


async def check_invariants(
    store: LedgerStore, account_ids: Collection[str] | None = None, *, recompute: bool = True
) -> dict[str, AccountBalance]:
    """Assert every ledger invariant on one snapshot (which includes balances = Σ transfers)
    and, with ``recompute``, that ``recompute_balances`` agrees with the looked-up balances;
    return the balances looked up."""
    assert await store.find_invariant_violations(account_ids) == []
    ids = account_ids
    if recompute or ids is None:
        recomputed = await store.recompute_balances(account_ids)
        ids = list(account_ids) if account_ids is not None else list(recomputed)
    stored = {a.id: a.balance for a in await store.lookup_accounts(list(ids))}
    if recompute:
        assert {i: recomputed[i] for i in stored} == stored
    return stored

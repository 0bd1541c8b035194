"""Builders shared by the credit store tests: a clock tests set by hand, replicas, spending and
the ledger's invariant check, which every store test runs after it acts."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from tenantgate.credits import accounts as names
from tenantgate.credits.store import CreditStore
from tenantgate.ledger import AMOUNT_MAX, Transfer, TransferFlags
from tenantgate.storage import Database

CREDIT = 1_000_000


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class FakeClock:
    """The time every store sees; tests move it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or at(2026, 1, 1)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@asynccontextmanager
async def replicas(url: str, clock: FakeClock, count: int = 2):
    """``count`` credit stores, each on its own ``Database`` (its own pool), like gateway replicas."""
    databases = [Database.open(url, pool_size=5) for _ in range(count)]
    try:
        yield [CreditStore(db, clock=clock) for db in databases]
    finally:
        for db in databases:
            await db.dispose()


async def spend(store: CreditStore, account_id: str, amount: int, request: str, *, to: str = names.SPEND) -> None:
    """Hold ``amount`` on ``account_id`` and settle all of it, as metering does for one request."""
    hold = Transfer(id=f"h:{request}", debit_account_id=account_id, credit_account_id=to, amount=amount,
                    ledger=names.LEDGER, code=names.TransferCode.HOLD, flags=TransferFlags.PENDING,
                    timeout_s=600)
    post = Transfer(id=f"p:{request}", pending_id=hold.id, amount=AMOUNT_MAX,
                    flags=TransferFlags.POST_PENDING_TRANSFER)
    results = await store.ledger.create_transfers([hold, post])
    assert all(r.result.succeeded for r in results), results


async def hold_only(store: CreditStore, account_id: str, amount: int, request: str,
                    *, to: str = names.SPEND) -> str:
    """An open hold (a request in flight); returns its id."""
    hold = Transfer(id=f"h:{request}", debit_account_id=account_id, credit_account_id=to, amount=amount,
                    ledger=names.LEDGER, code=names.TransferCode.HOLD, flags=TransferFlags.PENDING,
                    timeout_s=600)
    (result,) = await store.ledger.create_transfers([hold])
    assert result.result.succeeded, result
    return hold.id


async def release(store: CreditStore, hold_id: str) -> None:
    void = Transfer(id=f"v:{hold_id}", pending_id=hold_id, amount=AMOUNT_MAX,
                    flags=TransferFlags.VOID_PENDING_TRANSFER)
    (result,) = await store.ledger.create_transfers([void])
    assert result.result.succeeded, result


async def check_invariants(store: CreditStore) -> None:
    assert await store.ledger.find_invariant_violations() == []

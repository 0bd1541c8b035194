"""Credit leases on a real ledger (SQLite and PostgreSQL): admission in memory, limits exact.

Two ``Reservations`` stand for two replicas sharing one database. The ledger's limits must
hold for both together however the leases are sized, a budget must admit exactly what it
covers, and every settled request must be booked (ledger post and usage record, together).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenantgate.credits import accounts as names
from tenantgate.credits.batcher import LedgerBatcher
from tenantgate.credits.reservations import ChainRefused, Reservations
from tenantgate.credits.usage_record import UsageRecord
from tenantgate.credits.usage_table import usage_records
from tenantgate.ledger import Account, AccountFlags, LedgerStore, Transfer

LIMITED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
BUDGET, COMMITMENT = "bud:b1:2026-12", "cmt:c1"
CHAIN = ((BUDGET,), COMMITMENT)
AMOUNT = 10


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def ledger(database) -> LedgerStore:
    store = LedgerStore(database, clock=clock)
    made = [Account(id=i, ledger=names.LEDGER) for i in (names.ISSUER, names.SPEND, names.BUDGETS, names.OVERAGE)]
    made += [Account(id=BUDGET, ledger=names.LEDGER, flags=LIMITED),
             Account(id=COMMITMENT, ledger=names.LEDGER, flags=LIMITED)]
    assert all(r.result.succeeded for r in await store.create_accounts(made))
    grants = [Transfer(id="fund", debit_account_id=names.ISSUER, credit_account_id=BUDGET, amount=100 * AMOUNT,
                       ledger=names.LEDGER),
              Transfer(id="grant", debit_account_id=names.ISSUER, credit_account_id=COMMITMENT, amount=10**9,
                       ledger=names.LEDGER)]
    assert all(r.result.succeeded for r in await store.create_transfers(grants))
    return store


class Replica:
    def __init__(self, database, *, lease_max_requests: int = 256, idle_s: float = 60.0,
                 reads_free: bool = True) -> None:
        self.ledger = LedgerStore(database, clock=clock)
        self.batcher = LedgerBatcher(self.ledger, linger_ms=1)
        self.reservations = Reservations(self.batcher, timeout_s=600, roll_interval_s=3600, idle_s=idle_s,
                                         lease_max_requests=lease_max_requests,
                                         free_of=self.free_of if reads_free else None)

    async def free_of(self, accounts) -> int | None:
        found = await self.ledger.lookup_accounts(accounts)
        return min(r.balance.credits_posted - r.balance.debits_posted - r.balance.debits_pending for r in found)

    async def __aenter__(self) -> Replica:
        self.batcher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.reservations.aclose()
        await self.batcher.aclose()


def record(i: int, cost: int) -> UsageRecord:
    return UsageRecord(id=f"r{i}", request_id=f"req{i}", operation="chat", model="m",
                       principal_type="service", principal_id="svc", cost_micros=cost)


async def balance(ledger: LedgerStore, account: str) -> tuple[int, int]:
    found = await ledger.lookup_accounts([account])
    return found[0].balance.debits_pending, found[0].balance.debits_posted


async def booked(database) -> list:
    async def read(conn):
        return list(await conn.execute(sa.select(usage_records.c.id, usage_records.c.cost_micros)))
    return await database.run_read(read)


@pytest.mark.parametrize("lease_max_requests", [1, 8, 256])
async def test_two_replicas_together_admit_exactly_what_the_budget_covers(ledger, database, lease_max_requests):
    async with Replica(database, lease_max_requests=lease_max_requests) as a, \
            Replica(database, lease_max_requests=lease_max_requests) as b:
        outcomes = await asyncio.gather(
            *(r.reservations.reserve(CHAIN, AMOUNT) for r in (a, b) for _ in range(500)), return_exceptions=True)
        leases = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, ChainRefused)]
        assert len(leases) == 100
        assert len(refused) == 900
        assert {r.index for r in refused} == {0}
        for i, lease in enumerate(leases):
            lease.settle(AMOUNT, AMOUNT, record(i, AMOUNT))
    assert await balance(ledger, BUDGET) == (0, 100 * AMOUNT)
    assert await balance(ledger, COMMITMENT) == (0, 100 * AMOUNT)
    rows = await booked(database)
    assert len(rows) == 100
    assert sum(cost for _, cost in rows) == 100 * AMOUNT
    assert await ledger.find_invariant_violations() == []


async def test_a_roll_posts_what_settled_and_keeps_what_is_in_flight(ledger, database):
    async with Replica(database) as a:
        first = await a.reservations.reserve(CHAIN, AMOUNT)
        second = await a.reservations.reserve(CHAIN, AMOUNT)
        assert first is second  # one lease, one ledger write for both
        first.settle(AMOUNT, 7, record(1, 7))
        await a.reservations.roll()
        pending, posted = await balance(ledger, BUDGET)
        assert posted == 7
        assert pending == first.plan.amount
        assert pending >= AMOUNT
        assert [cost for _, cost in await booked(database)] == [7]
        second.release(AMOUNT)
        await a.reservations.roll(shrink_all=True)
        assert await balance(ledger, BUDGET) == (0, 7)
        assert await ledger.pending_transfers() == []
    assert await ledger.find_invariant_violations() == []


async def test_a_lease_takes_at_most_an_eighth_of_what_is_free_so_replicas_share_a_budget(ledger, database):
    async with Replica(database) as a, Replica(database) as b:
        first = await a.reservations.reserve(CHAIN, AMOUNT)
        assert first.plan.amount <= 100 * AMOUNT // 8
        # the other replica still finds almost the whole budget free
        others = await asyncio.gather(*(b.reservations.reserve(CHAIN, AMOUNT) for _ in range(80)))
        assert len(others) == 80
        assert sum(lease.plan.amount for lease in {id(x): x for x in others}.values()) <= 100 * AMOUNT


async def _drain(lease, requests: int, start: int) -> None:
    """Admit and settle ``requests`` requests on ``lease``, each costing its whole hold."""
    for i in range(start, start + requests):
        assert lease.take(AMOUNT, time.monotonic())  # busy now: a roll keeps it, not shrinks it
        lease.settle(AMOUNT, AMOUNT, record(i, AMOUNT))


async def test_a_roll_tops_a_busy_lease_back_up_so_it_lasts_while_the_chain_is_busy(ledger, database):
    async with Replica(database, reads_free=False) as a:  # as if the chain had plenty free
        lease = await a.reservations.reserve(CHAIN, AMOUNT)
        lease.release(AMOUNT)
        size = lease.size
        assert size == lease.plan.amount >= 4 * AMOUNT
        await _drain(lease, size // AMOUNT - 1, 0)  # nearly empty
        await a.reservations.roll()
        assert lease.available >= size  # topped up (to the chain's next lease size), in whole requests
        assert lease.available % AMOUNT == 0
        pending, posted = await balance(ledger, BUDGET)
        assert pending == lease.plan.amount == lease.available
        assert posted == (size // AMOUNT - 1) * AMOUNT
        assert await a.reservations.reserve(CHAIN, AMOUNT) is lease  # no new lease was placed
        lease.release(AMOUNT)
    assert await ledger.find_invariant_violations() == []


async def test_a_refused_top_up_still_books_the_roll_and_the_budget_is_never_exceeded(ledger, database):
    async with Replica(database, reads_free=False) as a, Replica(database) as b:
        lease = await a.reservations.reserve(CHAIN, AMOUNT)
        lease.release(AMOUNT)
        await _drain(lease, lease.size // AMOUNT, 0)  # empty: its whole size was used
        # the other replica takes (almost) everything left, so the top-up cannot be had
        held = []
        while True:
            try:
                held.append(await b.reservations.reserve(CHAIN, AMOUNT))
            except ChainRefused:
                break
        # ``a`` does not read what is free, so it asks for its whole size back: the ledger refuses
        await a.reservations.roll()
        assert not lease.tops_up  # refused once: it drains from now on
        rows = await booked(database)
        assert len(rows) == lease.size // AMOUNT  # the roll was booked without its top-up
        pending, posted = await balance(ledger, BUDGET)
        assert posted == lease.size
        assert pending + posted <= 100 * AMOUNT
        for i, other in enumerate(held):
            other.settle(AMOUNT, AMOUNT, record(10_000 + i, AMOUNT))
    pending, posted = await balance(ledger, BUDGET)
    assert (pending, posted) == (0, lease.size + len(held) * AMOUNT)
    assert posted <= 100 * AMOUNT
    assert await ledger.find_invariant_violations() == []


async def test_near_a_limit_a_roll_does_not_top_up_so_no_replica_sits_on_room_others_need(ledger, database):
    async with Replica(database) as a:  # the budget covers 100 requests: far less than 64 leases
        lease = await a.reservations.reserve(CHAIN, AMOUNT)
        lease.release(AMOUNT)
        await _drain(lease, lease.size // AMOUNT - 1, 0)
        await a.reservations.roll()
        assert lease.available == AMOUNT  # what it had left, nothing more
        assert await balance(ledger, BUDGET) == (AMOUNT, lease.size - AMOUNT)
        lease.take(AMOUNT, time.monotonic())
        lease.release(AMOUNT)
    assert await ledger.find_invariant_violations() == []

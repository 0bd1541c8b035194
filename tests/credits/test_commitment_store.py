"""Commitments on SQLite and PostgreSQL: granted once, spent in order, forfeited once."""

import asyncio

import pytest
from credit_helpers import CREDIT, FakeClock, at, check_invariants, hold_only, release, replicas, spend

from tenantgate.credits import accounts as names
from tenantgate.credits.commitments import CommitmentKind
from tenantgate.credits.store import CreditStore
from tenantgate.errors import InvalidParameterValue
from tenantgate.ledger import CreateTransferResult

K = CommitmentKind


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(2026, 1, 1))


@pytest.fixture
def store(database, clock) -> CreditStore:
    return CreditStore(database, clock=clock)


YEAR_END = at(2027, 1, 1)


async def annual(store: CreditStore, amount=1000, ends=YEAR_END, **fields):
    return await store.add_commitment(name="annual", kind=K.ANNUAL, amount=amount * CREDIT,
                                      starts_at=fields.pop("starts", at(2026, 1, 1)), ends_at=ends, **fields)


async def flex(store: CreditStore):
    return await store.add_commitment(name="flex", kind=K.MONTHLY_FLEX, amount=1200 * CREDIT,
                                      starts_at=at(2026, 1, 1), ends_at=at(2027, 1, 1),
                                      monthly_allotment=100 * CREDIT)


async def test_a_commitment_is_granted_its_amount_and_overage_exactly_once(store):
    c = await annual(store, overage_allowance=50 * CREDIT)
    assert c.id.startswith("cmt_")
    assert c.account_id == f"cmt:{c.id}"
    await store.ensure_commitment_account(c)  # a re-run after a crash is a no-op
    await store.ensure_commitment_account(c)
    (grant,) = await store.ledger.lookup_transfers([f"grant:{c.id}"])
    assert (grant.transfer.amount, grant.transfer.code) == (1050 * CREDIT, names.TransferCode.GRANT)
    (listed,) = await store.list_commitments()
    assert listed.commitment == c
    assert (listed.granted, listed.available, listed.held, listed.used, listed.forfeited) == (
        1050 * CREDIT, 1050 * CREDIT, 0, 0, 0)
    await check_invariants(store)


async def test_concurrent_adds_from_two_replicas_never_share_an_id(migrated_database_url, clock):
    async with replicas(migrated_database_url, clock) as (one, two):
        made = await asyncio.gather(*(annual(s, amount=10) for s in (one, two) * 5))
        assert len({c.id for c in made}) == 10
        listed = await one.list_commitments()
        assert sorted(b.granted for b in listed) == [10 * CREDIT] * 10
        await check_invariants(one)


async def test_an_invalid_commitment_writes_nothing(store):
    with pytest.raises(InvalidParameterValue):
        await annual(store, ends=at(2025, 1, 1))
    assert await store.list_commitments() == []


async def test_the_prepaid_limit_is_enforced_by_the_ledger(store):
    c = await annual(store, amount=10)
    await spend(store, c.account_id, 10 * CREDIT, "r1")
    with pytest.raises(AssertionError):
        await spend(store, c.account_id, 1, "r2")
    (listed,) = await store.list_commitments()
    assert (listed.available, listed.used) == (0, 10 * CREDIT)


async def test_active_commitments_are_ordered_by_earliest_expiry_with_payg_last(store, clock):
    late = await annual(store, ends=at(2027, 6, 1))
    early = await annual(store, ends=at(2026, 9, 1))
    payg = await store.add_commitment(name="payg", kind="payg", amount=0, starts_at=at(2026, 1, 1),
                                      ends_at=None)
    middle = await flex(store)
    await annual(store, starts=at(2026, 8, 1), ends=at(2026, 10, 1))  # not started yet
    await annual(store, starts=at(2025, 1, 1), ends=at(2026, 3, 1))  # ended
    found = await store.active_commitments(at(2026, 6, 1))
    assert [c.id for c in found] == [early.id, middle.id, late.id, payg.id]
    (payg_account,) = await store.ledger.lookup_accounts([payg.account_id])
    assert payg_account.account.flags == 0
    await check_invariants(store)


async def test_an_annual_commitment_forfeits_its_unused_credits_once_at_its_end(migrated_database_url, clock):
    async with replicas(migrated_database_url, clock) as (one, two):
        c = await annual(one, overage_allowance=100 * CREDIT)
        await spend(one, c.account_id, 300 * CREDIT, "r1")
        assert await one.expire_commitments(at(2026, 12, 31)) == 0
        clock.set(at(2027, 1, 1, 0, 1))
        results = await asyncio.gather(one.expire_commitments(clock.now), two.expire_commitments(clock.now))
        assert sorted(results) == [0, 1]
        assert await two.expire_commitments(clock.now) == 0
        (listed,) = await one.list_commitments()
        assert (listed.available, listed.used, listed.forfeited) == (0, 300 * CREDIT, 800 * CREDIT)
        (forfeit,) = await one.ledger.lookup_transfers([f"forfeit:{c.id}"])
        assert (forfeit.transfer.credit_account_id, forfeit.transfer.code) == (
            names.ISSUER, names.TransferCode.FORFEIT)
        assert await one.active_commitments(clock.now) == []
        await check_invariants(one)


async def test_expiry_waits_for_open_holds_so_nothing_is_left_behind(store, clock):
    c = await annual(store, amount=100)
    clock.set(at(2026, 12, 31, 23, 59))
    hold = await hold_only(store, c.account_id, 40 * CREDIT, "r1")
    clock.set(at(2027, 1, 1, 0, 1))
    assert await store.expire_commitments(clock.now) == 0
    await release(store, hold)
    assert await store.expire_commitments(clock.now) == 1
    (listed,) = await store.list_commitments()
    assert (listed.available, listed.forfeited) == (0, 100 * CREDIT)
    await check_invariants(store)


async def test_monthly_flex_forfeits_each_months_unused_allotment_then_the_rest(migrated_database_url, clock):
    async with replicas(migrated_database_url, clock) as (one, two):
        c = await flex(one)

        async def sweep(moment):
            clock.set(moment)
            made = await asyncio.gather(one.expire_commitments(moment), two.expire_commitments(moment))
            assert await one.expire_commitments(moment) == 0  # idempotent
            return sum(made)

        clock.set(at(2026, 1, 15))
        await spend(one, c.account_id, 30 * CREDIT, "jan")
        assert await sweep(at(2026, 1, 31, 23, 59)) == 0
        assert await sweep(at(2026, 2, 1, 0, 1)) == 1  # January: 100 - 30
        clock.set(at(2026, 2, 10))
        await spend(two, c.account_id, 150 * CREDIT, "feb")  # ahead of February's allotment
        assert await sweep(at(2026, 3, 1, 0, 1)) == 0
        assert await sweep(at(2026, 4, 1, 0, 1)) == 1  # March: 300 - 250
        assert await sweep(at(2027, 1, 2)) == 9  # April to November, then the final sweep
        (listed,) = await one.list_commitments()
        assert (listed.used, listed.forfeited, listed.available) == (180 * CREDIT, 1020 * CREDIT, 0)
        forfeits = await one.ledger.lookup_transfers(
            [f"forfeit:{c.id}:2026-01", f"forfeit:{c.id}:2026-02", f"forfeit:{c.id}:2026-03", f"forfeit:{c.id}"])
        assert [(r.id[-7:], r.transfer.amount) for r in forfeits] == [
            ("2026-01", 70 * CREDIT), ("2026-03", 50 * CREDIT), (f"{c.id}"[-7:], 100 * CREDIT)]
        await check_invariants(one)


async def test_a_forfeit_resubmitted_after_it_was_recorded_is_a_harmless_exists(store, clock):
    c = await annual(store, amount=10)
    clock.set(at(2027, 1, 1))
    assert await store.expire_commitments(clock.now) == 1
    (forfeit,) = await store.ledger.lookup_transfers([f"forfeit:{c.id}"])
    (again,) = await store.ledger.create_transfers([forfeit.transfer])
    assert again.result in (CreateTransferResult.EXISTS, CreateTransferResult.EXISTS_WITH_DIFFERENT_AMOUNT)
    await check_invariants(store)

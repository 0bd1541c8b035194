"""Many concurrent batches from two replicas (two ``Database`` objects on one database):
limits are never passed, an id never takes effect twice, a hold resolves once."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from ledger_helpers import SteppingClock, chart, check_invariants, hold, linked, pay, post, void

from tenantgate.ledger import Account, CreateTransferResult, LedgerStore
from tenantgate.ledger._batch import run_transfers
from tenantgate.ledger.store import _load_for, _persist
from tenantgate.ledger.tables import ledger_accounts
from tenantgate.storage import Database
from tenantgate.storage.errors import TransactionConflict

R = CreateTransferResult


@pytest.fixture
async def replicas(migrated_database_url):
    """Two stores, each on its own ``Database`` (its own pool), sharing one clock."""
    clock = SteppingClock()
    databases = [Database.open(migrated_database_url, pool_size=5) for _ in range(2)]
    try:
        stores = [LedgerStore(db, clock=clock) for db in databases]
        extra = [Account(id=name, ledger="credits") for name in ("a1", "a2", "b1", "b2")]
        assert all(r.result.succeeded for r in await stores[0].create_accounts([*chart().values(), *extra]))
        yield stores
    finally:
        for db in databases:
            await db.dispose()


async def submit_all(stores, batches):
    outcomes = await asyncio.gather(*(stores[i % 2].create_transfers(b) for i, b in enumerate(batches)))
    return Counter(result.result for outcome in outcomes for result in outcome)


async def test_200_concurrent_holds_against_100_credits_admit_exactly_100(replicas):
    await replicas[0].create_transfers([pay("grant", "op", "cust", 100)])
    codes = await submit_all(replicas, [[hold(f"h{i}", "cust", "rev", 1)] for i in range(200)])
    assert codes == {R.OK: 100, R.EXCEEDS_CREDITS: 100}
    (cust,) = await replicas[1].lookup_accounts(["cust"])
    assert (cust.balance.debits_pending, cust.balance.credits_posted) == (100, 100)
    await check_invariants(replicas[0])


async def test_50_concurrent_submissions_of_one_transfer_take_effect_once(replicas):
    await replicas[0].create_transfers([pay("grant", "op", "cust", 100)])
    codes = await submit_all(replicas, [[hold("same", "cust", "rev", 30)] for _ in range(50)])
    assert codes == {R.OK: 1, R.EXISTS: 49}
    (cust,) = await replicas[0].lookup_accounts(["cust"])
    assert cust.balance.debits_pending == 30
    await check_invariants(replicas[0])


async def test_one_id_raced_with_disjoint_accounts_is_decided_by_the_database(replicas):
    batches = [[pay("x", "a1", "a2", 5)] if i % 2 else [pay("x", "b1", "b2", 5)] for i in range(20)]
    codes = await submit_all(replicas, batches)
    assert codes[R.OK] == 1
    assert codes[R.EXISTS] + codes[R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID] == 19
    await check_invariants(replicas[0])


async def test_an_id_committed_while_a_batch_runs_is_reported_after_a_rerun(replicas):
    first, second = replicas
    winner = pay("x", "a1", "a2", 5)
    async with first._db.write() as conn:  # a batch of another replica, held open mid-commit
        state = await _load_for(conn, [winner])
        assert run_transfers([winner], state, [first._clock()]) == [R.OK]
        await _persist(conn, state)
        loser = asyncio.create_task(second.create_transfers([pay("x", "b1", "b2", 5)]))
        await asyncio.sleep(0.3)
        assert not loser.done()
    assert [r.result for r in await loser] == [R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID]
    (b1,) = await second.lookup_accounts(["b1"])
    assert b1.balance.debits_posted == 0
    await check_invariants(first)


async def persist_after_moving(store, batch, moved_account_id):
    """Run ``batch`` as far as its writes, move one account's balance behind it, then write."""
    async with store._db.write() as conn:
        state = await _load_for(conn, batch)
        assert run_transfers(batch, state, [store._clock()] * len(batch)) == [R.OK] * len(batch)
        moved = sa.update(ledger_accounts).where(ledger_accounts.c.id == moved_account_id)
        await conn.execute(moved.values(debits_posted=7))
        await _persist(conn, state)


@pytest.mark.parametrize("moved", ["a1", "b1", "op"])  # first, in between and last, in id order
async def test_a_balance_moved_behind_a_batch_is_a_conflict_on_any_of_its_accounts(replicas, moved):
    store = replicas[0]
    batch = [pay("t1", "op", "a1", 5), pay("t2", "op", "a2", 5), pay("t3", "a1", "b1", 1)]
    with pytest.raises(TransactionConflict):
        await persist_after_moving(store, batch, moved)
    assert [r.result for r in await store.create_transfers(batch)] == [R.OK] * 3
    a1, b1 = await store.lookup_accounts(["a1", "b1"])
    assert (a1.balance.credits_posted, a1.balance.debits_posted, b1.balance.credits_posted) == (5, 1, 1)
    await check_invariants(store)


async def test_racing_posts_voids_and_sweeps_resolve_each_hold_once(replicas):
    clock = replicas[0]._clock
    await replicas[0].create_transfers([pay("grant", "op", "cust", 1_000)])
    await replicas[0].create_transfers([hold(f"h{i}", "cust", "rev", 10, timeout_s=5) for i in range(20)])
    (first,) = await replicas[0].lookup_transfers(["h0"])
    clock.now = first.expires_at - timedelta(microseconds=10)  # some holds expire while the race runs
    batches = [
        [post(f"p{i}-{k}", f"h{i}", 3), void(f"v{i}-{k}", f"h{i}")] for i in range(20) for k in range(2)
    ]
    due_at = first.expires_at + timedelta(microseconds=10)
    sweeps = [store.expire_pending(due_at) for store in replicas for _ in range(2)]
    settled, *expired_counts = await asyncio.gather(submit_all(replicas, batches), *sweeps)
    assert settled[R.OK] + sum(expired_counts) <= 20
    late = await replicas[1].expire_pending(due_at + timedelta(minutes=1))
    assert settled[R.OK] + sum(expired_counts) + late == 20
    assert await replicas[1].pending_transfers() == []
    await check_invariants(replicas[0])


async def test_concurrent_linked_chains_never_leave_half_a_chain(replicas):
    await replicas[0].create_transfers([pay("grant", "op", "cust", 100)])
    chains = [
        [linked(hold(f"c{i}-h", "cust", "rev", 7)), pay(f"c{i}-fee", "cust", "op", 3)] for i in range(30)
    ]
    codes = await submit_all(replicas, chains)
    assert codes[R.OK] == 20  # ten chains of 7 + 3 fit in 100
    accepted = {t.id for t in await replicas[0].get_account_transfers("cust", limit=1_000)}
    assert all((f"c{i}-h" in accepted) == (f"c{i}-fee" in accepted) for i in range(30))
    await check_invariants(replicas[0])

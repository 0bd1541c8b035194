"""``AuditStore`` on SQLite and PostgreSQL: append, head, list, verify, and two replicas at once."""

import asyncio

import pytest
from audit_factories import make_entry
from sqlalchemy.exc import IntegrityError

from tenantgate.audit.chain import GENESIS_HASH, verify_chain
from tenantgate.audit.store import AuditStore
from tenantgate.storage import Database


async def test_append_chains_a_batch_after_genesis_and_moves_the_head(store, clock):
    assert await store.head() is None
    events = await store.append([make_entry(1), make_entry(2), make_entry(3)])
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert {e.occurred_at for e in events} == {clock.now}
    assert all(e.id.startswith("aud_") for e in events)
    head = await store.head()
    assert head is not None
    assert (head.seq, head.hash, head.updated_at) == (3, events[-1].hash, clock.now)


async def test_appending_nothing_writes_nothing(store):
    assert await store.append([]) == []
    assert await store.head() is None


async def test_events_read_back_exactly_as_appended(store):
    appended = await store.append([make_entry(1), make_entry(2, actor_name=None, details={})])
    assert await store.list_events() == appended
    assert verify_chain(appended, expected_head=(2, appended[-1].hash)).ok


async def test_later_batches_continue_the_chain(store, clock):
    first = await store.append([make_entry(1)])
    clock.advance(seconds=5)
    second = await store.append([make_entry(2), make_entry(3)])
    assert second[0].prev_hash == first[0].hash
    assert [e.seq for e in second] == [2, 3]
    report = await store.verify()
    assert report.ok
    assert (report.events_checked, report.last_seq, report.last_hash) == (3, 3, second[-1].hash)


async def test_verify_of_an_empty_trail_is_ok(store):
    report = await store.verify()
    assert report.ok
    assert report.events_checked == 0


async def test_verify_reads_in_pages_of_any_size(store):
    await store.append([make_entry(i) for i in range(23)])
    for page_size in (1, 5, 23, 1000):
        report = await store.verify(page_size=page_size)
        assert (report.ok, report.events_checked) == (True, 23)


async def test_list_filters_by_action_actor_and_time_and_pages_by_seq(store, clock):
    await store.append([make_entry(1, action="iam.policy.create")])
    clock.advance(minutes=1)
    await store.append([make_entry(2, action="inference.denied", actor_type="apikey", actor_id="key_1",
                                   outcome="denied")])
    clock.advance(minutes=1)
    await store.append([make_entry(3, action="iam.user.create")])
    assert [e.seq for e in await store.list_events(action="inference.denied")] == [2]
    assert [e.seq for e in await store.list_events(action="iam.*")] == [1, 3]
    assert [e.seq for e in await store.list_events(action="iam")] == []
    assert [e.seq for e in await store.list_events(actor_id="key_1")] == [2]
    assert [e.seq for e in await store.list_events(since=clock.now)] == [3]
    assert [e.seq for e in await store.list_events(until=clock.now)] == [1, 2]
    assert [e.seq for e in await store.list_events(after_seq=1, limit=1)] == [2]
    assert [e.seq for e in await store.list_events(newest_first=True, limit=2)] == [3, 2]
    assert [e.seq for e in await store.list_events(before_seq=3, newest_first=True)] == [2, 1]


async def test_list_refuses_an_unbounded_limit(store):
    with pytest.raises(ValueError, match="limit"):
        await store.list_events(limit=0)


async def test_a_failed_batch_leaves_no_trace(store, database):
    await store.append([make_entry(1)])
    clashing = AuditStore(database, clock=store._clock, choice=lambda alphabet: "a")
    await clashing.append([make_entry(2)])
    with pytest.raises(IntegrityError):
        await clashing.append([make_entry(3)])  # same event id again: the whole batch rolls back
    head = await store.head()
    assert head is not None
    assert head.seq == 2
    assert (await store.verify()).ok


async def test_two_replicas_appending_at_once_build_one_gapless_chain(migrated_database_url, clock):
    replicas = [Database.open(migrated_database_url, pool_size=4) for _ in range(2)]
    stores = [AuditStore(db, clock=clock) for db in replicas]

    async def writer(store: AuditStore, name: str, task: int) -> None:
        for batch in range(10):
            base = (task * 10 + batch) * 5
            await store.append([make_entry(base + i, details={"replica": name, "n": base + i})
                                for i in range(5)])

    try:
        await asyncio.gather(*(writer(store, name, task)
                               for store, name in zip(stores, "ab", strict=True) for task in range(4)))
        report = await stores[0].verify(page_size=64)
        events = []
        after = 0
        while page := await stores[1].list_events(after_seq=after, limit=1000):
            events += page
            after = page[-1].seq
    finally:
        for db in replicas:
            await db.dispose()
    assert report.ok, report.broken
    assert report.events_checked == 400
    assert [e.seq for e in events] == list(range(1, 401))
    for name in "ab":
        numbers = [e.details["n"] for e in events if e.details["replica"] == name]
        assert sorted(numbers) == list(range(200))
        for task in range(4):  # tasks interleave; each one's batches stay in its order
            own = [n for n in numbers if task * 50 <= n < (task + 1) * 50]
            assert own == sorted(own)

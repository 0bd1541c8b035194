"""``AuditRecorder`` on real databases: group commit, durability on flush, bounded memory, outages."""

import asyncio
import logging

import pytest
import sqlalchemy as sa
from audit_factories import make_entry

from tenantgate.audit.recorder import AuditRecorder
from tenantgate.audit.store import AuditStore
from tenantgate.errors import AuditUnavailable
from tenantgate.storage import Database, upgrade_to_head


class CommitCounter:
    """Counts transactions committed on an engine: what group commit is meant to save."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        sa.event.listen(database.engine.sync_engine, "commit", self._on_commit)

    def _on_commit(self, conn: object) -> None:
        self.count += 1


async def _indexes(store: AuditStore) -> list[object]:
    return [e.details["index"] for e in await store.list_events(limit=1000)]


async def test_a_thousand_records_are_written_in_a_few_transactions_in_order(store, database):
    recorder = AuditRecorder(store)
    recorder.start()
    commits = CommitCounter(database)
    for i in range(1000):
        recorder.record(make_entry(i))
    await recorder.flush()
    assert commits.count <= 5
    assert recorder.batches_written == commits.count
    assert await _indexes(store) == list(range(1000))
    assert (await store.verify()).ok
    await recorder.aclose()


async def test_a_trickle_of_records_is_batched_by_the_linger_window(store, database):
    recorder = AuditRecorder(store, batch_linger_ms=50)
    recorder.start()
    commits = CommitCounter(database)
    for i in range(100):
        recorder.record(make_entry(i))
        await asyncio.sleep(0.001)
    await recorder.flush()
    assert commits.count < 25
    assert await _indexes(store) == list(range(100))
    await recorder.aclose()


async def test_flushed_entries_are_durable_for_another_replica(store, migrated_database_url):
    recorder = AuditRecorder(store)
    recorder.start()
    for i in range(3):
        recorder.record(make_entry(i))
    await recorder.flush()
    async with Database.open(migrated_database_url) as other:
        report = await AuditStore(other, clock=store._clock).verify()
    assert (report.ok, report.events_checked) == (True, 3)
    await recorder.aclose()


async def test_record_now_waits_for_its_event_in_queue_order(store):
    recorder = AuditRecorder(store, batch_linger_ms=10_000)
    recorder.start()
    recorder.record(make_entry(1))
    recorder.record(make_entry(2))
    event = await asyncio.wait_for(recorder.record_now(make_entry(3)), timeout=5)
    assert event.seq == 3
    assert event.details["index"] == 3
    assert await _indexes(store) == [1, 2, 3]
    await recorder.aclose()


async def test_a_full_queue_drops_entries_counts_them_and_logs_once_per_streak(store, caplog):
    recorder = AuditRecorder(store, queue_size_max=10)
    with caplog.at_level(logging.ERROR, logger="tenantgate.audit"):
        for i in range(25):
            recorder.record(make_entry(i))
    assert recorder.dropped == 15
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "audit entry dropped: the queue is full"]
    recorder.start()
    await recorder.flush()
    assert await _indexes(store) == list(range(10))
    await recorder.aclose()


async def test_a_long_flood_logs_every_thousandth_drop(store, caplog):
    recorder = AuditRecorder(store, queue_size_max=1)
    with caplog.at_level(logging.ERROR, logger="tenantgate.audit"):
        for i in range(2001):
            recorder.record(make_entry(i))
    assert recorder.dropped == 2000
    assert len(caplog.records) == 3


async def test_aclose_flushes_then_refuses_new_entries(store):
    recorder = AuditRecorder(store)
    recorder.start()
    for i in range(50):
        recorder.record(make_entry(i))
    await recorder.aclose()
    assert await _indexes(store) == list(range(50))
    recorder.record(make_entry(99))
    assert recorder.dropped == 1
    with pytest.raises(AuditUnavailable):
        await recorder.record_now(make_entry(100))
    await recorder.aclose()  # idempotent


async def test_an_outage_is_retried_with_backoff_and_order_is_kept(database_url, clock, caplog):
    """The database is unmigrated (every append fails) until the first retry's sleep fixes it."""
    delays: list[float] = []
    async with Database.open(database_url) as db:
        store = AuditStore(db, clock=clock)

        async def sleep(delay_s: float) -> None:
            delays.append(delay_s)
            recorder.record(make_entry(3))  # arrives while the batch before it is retried
            await upgrade_to_head(db)

        recorder = AuditRecorder(store, sleep=sleep, retry_delay_ms=100)
        recorder.start()
        for i in range(3):
            recorder.record(make_entry(i))
        with caplog.at_level(logging.WARNING, logger="tenantgate.audit"):
            await recorder.flush()
        assert delays == [0.1]
        assert "retry 1" in caplog.text
        assert await _indexes(store) == [0, 1, 2]  # the flush covers what was queued before it
        await recorder.flush()
        assert await _indexes(store) == [0, 1, 2, 3]
        assert (recorder.lost, recorder.dropped) == (0, 0)
        await recorder.aclose()


async def test_a_batch_given_up_after_its_attempts_fails_its_waiters_and_the_writer_goes_on(
    database_url, clock, caplog
):
    delays: list[float] = []

    async def sleep(delay_s: float) -> None:
        delays.append(delay_s)

    async with Database.open(database_url) as db:
        store = AuditStore(db, clock=clock)
        recorder = AuditRecorder(store, sleep=sleep, write_attempts_max=4, retry_delay_ms=100,
                                 retry_delay_max_ms=300)
        recorder.start()
        recorder.record(make_entry(1))
        with caplog.at_level(logging.ERROR, logger="tenantgate.audit"), pytest.raises(AuditUnavailable):
            await recorder.flush()
        assert delays == [0.1, 0.2, 0.3]
        assert recorder.lost == 1
        assert "lost after 4 attempts" in caplog.text
        with pytest.raises(AuditUnavailable):
            await recorder.record_now(make_entry(2))
        assert recorder.lost == 2
        await upgrade_to_head(db)
        event = await recorder.record_now(make_entry(3))
        assert event.seq == 1
        await recorder.flush()  # nothing lost since this flush was queued
        await recorder.aclose()


async def test_aclose_of_a_recorder_never_started_still_writes_what_was_queued(store):
    recorder = AuditRecorder(store)
    recorder.record(make_entry(1))
    with pytest.raises(AuditUnavailable):
        await recorder.flush()  # nobody would ever complete it
    await recorder.aclose()
    assert await _indexes(store) == [1]

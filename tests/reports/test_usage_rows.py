"""Reading billed usage records: only charged requests, a half-open range, any page size.

Records are written as settlement writes them (``insert_records``), on a real database of
each engine, several at one instant so that booking times tie, as two replicas' may.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenantgate.credits.usage_record import UsageRecord, UsageStatus
from tenantgate.credits.usage_report import UsageFilter, spans, unix_seconds
from tenantgate.credits.usage_rows import fold_usage, usage_entries
from tenantgate.credits.usage_table import ROWS_PER_CALL, insert_records

T0 = datetime(2026, 3, 5, 23, 59, 59, tzinfo=UTC)
COSTS = (4, 10, 13, 1, 7, 25)


async def collect_entries(db, *, start, end):
    return [entry async for entry in usage_entries(db, start=start, end=end)]


def record(index: int, cost: int, status: UsageStatus = UsageStatus.BILLED) -> UsageRecord:
    return UsageRecord(id=f"r{index}", request_id=f"req_{index}", operation="chat", model="chat",
                       principal_type="service", principal_id="svc", key_id="key_a", compartment_id="cmp_a",
                       status=status.value, prompt_tokens=3, completion_tokens=2, cost_micros=cost)


@pytest.fixture
async def world(database):
    billed = [record(i, cost) for i, cost in enumerate(COSTS)]

    async def write(conn):
        await insert_records(conn, billed[:3], T0)  # one roll's records share its timestamp
        await insert_records(conn, billed[3:], T0 + timedelta(microseconds=1))
        await insert_records(conn, [record(10, 0, UsageStatus.REFUSED), record(11, 0, UsageStatus.RELEASED)], T0)
        await insert_records(conn, billed[:1], T0 + timedelta(seconds=5))  # a re-run changes nothing

    await database.run_write(write)
    return database


async def test_only_billed_records_are_read_once_each(world):
    entries = await collect_entries(world, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert sum(e.requests for e in entries) == 6  # refused and released requests are not usage
    assert sum(e.cost_micros for e in entries) == sum(COSTS)
    assert sum(e.input_tokens for e in entries) == 18
    assert [e.timestamp for e in entries] == sorted(e.timestamp for e in entries)
    assert len({e.timestamp for e in entries}) < len(entries)  # booking times tie


@pytest.mark.parametrize("page_size", [1, 2, 3, 5_000])
async def test_every_page_size_reads_the_same_rows(world, page_size):
    whole = await collect_entries(world, start=T0, end=T0 + timedelta(seconds=1))
    paged = [e async for e in usage_entries(world, start=T0, end=T0 + timedelta(seconds=1), page_size=page_size)]
    assert paged == whole
    assert len(paged) == 6


async def test_the_range_is_half_open(world):
    everything = await collect_entries(world, start=T0, end=T0 + timedelta(seconds=1))
    first, last = everything[0].timestamp, everything[-1].timestamp
    assert await collect_entries(world, start=T0 - timedelta(days=1), end=first) == []
    assert await collect_entries(world, start=last + timedelta(microseconds=1), end=T0 + timedelta(days=1)) == []
    at_first = [e for e in everything if e.timestamp == first]
    assert len(at_first) == 3
    assert await collect_entries(world, start=first, end=first + timedelta(microseconds=1)) == at_first
    assert len(await collect_entries(world, start=first + timedelta(microseconds=1), end=last + timedelta(
        microseconds=1))) == 3


async def test_the_fold_over_the_records_groups_by_day(world):
    start = unix_seconds(T0) - unix_seconds(T0) % 86_400 - 86_400  # the day before T0's
    buckets = await fold_usage(world, spans(start, start + 3 * 86_400, 86_400), group_by=["model"],
                               keep=UsageFilter())
    assert [sum(t.cost_micros for t in b.groups.values()) for b in buckets] == [0, 60, 0]
    assert await fold_usage(world, [], group_by=[], keep=UsageFilter()) == []


async def test_a_roll_larger_than_one_driver_call_inserts_every_record_once(database):
    """A roll's records go in driver calls of ROWS_PER_CALL; none is lost at a call's edge."""
    many = [record(100 + i, 1 + i % 7) for i in range(2 * ROWS_PER_CALL + 5)]

    async def write(conn):
        await insert_records(conn, many, T0)
        await insert_records(conn, many[ROWS_PER_CALL - 3:ROWS_PER_CALL + 3], T0)  # a re-run at the edge

    await database.run_write(write)
    entries = await collect_entries(database, start=T0, end=T0 + timedelta(seconds=1))
    assert sum(e.requests for e in entries) == len(many)
    assert sum(e.cost_micros for e in entries) == sum(r.cost_micros for r in many)

import asyncio
import random

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.storage import Database, RetryPolicy, TransactionConflict

WRITERS = 20
counter = sa.table("scratch_counter", sa.column("id"), sa.column("n"))


async def _create_counter(db: Database) -> None:
    async with db.write() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE scratch_counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"
        )
        await conn.execute(counter.insert().values(id=1, n=0))


async def _count(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(sa.select(counter.c.n))).scalar_one())


class RecordingSleep:
    """Real sleep that records each delay, so tests can see the retries happen."""

    def __init__(self) -> None:
        self.delays_s: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays_s.append(seconds)
        await asyncio.sleep(seconds)


def _read_then_write(pause_s: float = 0.0):
    """A lost-update-prone increment: read, pause, write back read + 1."""

    async def increment(conn: AsyncConnection) -> None:
        n = (await conn.execute(sa.select(counter.c.n).where(counter.c.id == 1))).scalar_one()
        if pause_s:
            await asyncio.sleep(pause_s)
        await conn.execute(counter.update().where(counter.c.id == 1).values(n=n + 1))

    return increment


async def _locked_increment(conn: AsyncConnection) -> None:
    query = sa.select(counter.c.n).where(counter.c.id == 1).with_for_update()
    n = (await conn.execute(query)).scalar_one()
    await conn.execute(counter.update().where(counter.c.id == 1).values(n=n + 1))


async def test_concurrent_select_for_update_increments_all_land(database):
    await _create_counter(database)
    await asyncio.gather(*(database.run_write(_locked_increment) for _ in range(WRITERS)))
    assert await _count(database) == WRITERS


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
async def test_sqlite_writers_queue_on_begin_immediate_without_failing(migrated_database_url):
    sleep = RecordingSleep()
    db = Database.open(migrated_database_url, retry_policy=RetryPolicy(sleep=sleep))
    try:
        await _create_counter(db)
        await asyncio.gather(*(db.run_write(_read_then_write(0.001)) for _ in range(WRITERS)))
        assert await _count(db) == WRITERS
    finally:
        await db.dispose()
    # busy_timeout alone absorbs the contention: BEGIN IMMEDIATE never hits a stale snapshot.
    assert sleep.delays_s == []


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
async def test_sqlite_writers_of_one_process_take_turns_in_arrival_order(migrated_database_url):
    """The in-process writer queue, not SQLite's sleeping busy handler, orders the writers."""
    db = Database.open(migrated_database_url)
    order: list[int] = []

    def writer(index: int):
        async def work(conn: AsyncConnection) -> None:
            order.append(index)
            await _read_then_write(0.002)(conn)

        return work

    try:
        await _create_counter(db)
        tasks = []
        for index in range(WRITERS):
            tasks.append(asyncio.ensure_future(db.run_write(writer(index))))
            await asyncio.sleep(0)  # each writer is queued before the next one starts
        await asyncio.gather(*tasks)
        assert await _count(db) == WRITERS
    finally:
        await db.dispose()
    assert order == list(range(WRITERS))


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
async def test_a_write_begun_inside_a_write_fails_as_locked_instead_of_hanging(migrated_database_url):
    db = Database.open(migrated_database_url, sqlite_busy_timeout_ms=200,
                       retry_policy=RetryPolicy(max_attempts=1))
    try:
        await _create_counter(db)
        async with asyncio.timeout(5):
            async with db.write():
                with pytest.raises(TransactionConflict):
                    await db.run_write(_read_then_write())
        assert await _count(db) == 0
    finally:
        await db.dispose()


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
async def test_sqlite_busy_beyond_busy_timeout_is_retried_until_all_writers_succeed(
    migrated_database_url,
):
    sleep = RecordingSleep()
    policy = RetryPolicy(max_attempts=200, max_delay_ms=20, sleep=sleep, rng=random.Random(7).random)
    db = Database.open(migrated_database_url, sqlite_busy_timeout_ms=0, retry_policy=policy)
    try:
        await _create_counter(db)
        await asyncio.gather(*(db.run_write(_read_then_write(0.002)) for _ in range(WRITERS)))
        assert await _count(db) == WRITERS
    finally:
        await db.dispose()
    assert sleep.delays_s, "expected SQLITE_BUSY retries with busy_timeout=0"


@pytest.mark.parametrize("engine_kind", ["postgresql"], indirect=True)
async def test_postgresql_serialization_failures_are_retried_until_all_writers_succeed(database):
    sleep = RecordingSleep()
    policy = RetryPolicy(max_attempts=100, max_delay_ms=20, sleep=sleep, rng=random.Random(7).random)
    db = Database(database.engine, retry_policy=policy)
    await _create_counter(db)
    await asyncio.gather(
        *(db.run_write(_read_then_write(0.002), isolation="serializable") for _ in range(WRITERS))
    )
    assert await _count(db) == WRITERS
    assert sleep.delays_s, "expected SQLSTATE 40001 retries under SERIALIZABLE"


@pytest.mark.parametrize("engine_kind", ["postgresql"], indirect=True)
async def test_conflict_surfaces_as_transaction_conflict_when_retries_run_out(database):
    db = Database(database.engine, retry_policy=RetryPolicy(max_attempts=1))
    await _create_counter(db)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow_increment(conn: AsyncConnection) -> None:
        n = (await conn.execute(sa.select(counter.c.n))).scalar_one()
        entered.set()
        await release.wait()
        await conn.execute(counter.update().values(n=n + 1))

    slow = asyncio.create_task(db.run_write(slow_increment, isolation="serializable"))
    await entered.wait()
    await db.run_write(_read_then_write(), isolation="serializable")
    release.set()
    with pytest.raises(TransactionConflict) as caught:
        await slow
    assert caught.value.code == "transaction_conflict"
    assert await _count(db) == 1


async def test_write_block_commits_on_success_and_rolls_back_on_error(database):
    await _create_counter(database)
    async with database.write() as conn:
        await conn.execute(counter.update().values(n=5))

    async def abandoned_write() -> None:
        async with database.write() as conn:
            await conn.execute(counter.update().values(n=99))
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError, match="abandon"):
        await abandoned_write()
    assert await _count(database) == 5


async def test_run_read_returns_the_work_result(database):
    await _create_counter(database)

    async def read_n(conn: AsyncConnection) -> int:
        return int((await conn.execute(sa.select(counter.c.n))).scalar_one())

    assert await database.run_read(read_n) == 0


async def test_write_session_flushes_and_commits_orm_work(database):
    await _create_counter(database)
    async with database.write_session() as session:
        await session.execute(counter.update().values(n=7))
    assert await _count(database) == 7

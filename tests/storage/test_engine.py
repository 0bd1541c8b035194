import asyncio
import os
import socket
import sqlite3
import sys
import threading

import pytest
import sqlalchemy as sa

from tenantgate.storage import Database, StorageUnavailable, create_engine
from tenantgate.storage._sqlite import DRIVER_THREAD_NICE


async def test_engine_opens_and_pings_on_each_dialect(database_url, engine_kind):
    db = Database.open(database_url)
    try:
        await db.ping()
        assert db.dialect == engine_kind
    finally:
        await db.dispose()


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
async def test_sqlite_connections_get_wal_and_safety_pragmas(database_url):
    engine = create_engine(database_url, sqlite_busy_timeout_ms=1234)
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    # synchronous: 1 is NORMAL.
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 1234,
    }


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are Linux's (nice per thread)")
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
async def test_sqlite_driver_thread_runs_nicer_than_the_event_loop(database_url):
    """The driver's thread yields the core to the loop: its statements run niced."""
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            # Asked on the driver's own thread, where every statement of this connection runs.
            await raw.driver_connection.create_function(
                "nice_here", 0, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            driver_nice = (await conn.exec_driver_sql("SELECT nice_here()")).scalar_one()
    finally:
        await engine.dispose()
    assert driver_nice == min(19, loop_nice + DRIVER_THREAD_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_nice  # the loop's is untouched


def _try_take_write_lock(path: str) -> bool:
    """From an independent connection, try to take SQLite's write lock without waiting."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
async def test_sqlite_write_transaction_takes_the_write_lock_at_begin(database, migrated_database_url):
    path = sa.make_url(migrated_database_url).database
    async with database.write():
        # No statement has run yet: only BEGIN IMMEDIATE can explain the held lock.
        assert _try_take_write_lock(path) is False
    assert _try_take_write_lock(path) is True


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
async def test_sqlite_read_transaction_does_not_block_writers(database, migrated_database_url):
    path = sa.make_url(migrated_database_url).database
    async with database.read() as conn:
        await conn.execute(sa.text("SELECT count(*) FROM installation"))
        assert _try_take_write_lock(path) is True


@pytest.mark.parametrize("engine_kind", ["postgresql"], indirect=True)
async def test_postgresql_read_transaction_is_a_read_only_snapshot(database):
    async with database.read() as conn:
        isolation = (await conn.exec_driver_sql("SHOW transaction_isolation")).scalar_one()
        read_only = (await conn.exec_driver_sql("SHOW transaction_read_only")).scalar_one()
    assert (isolation, read_only) == ("repeatable read", "on")


@pytest.mark.parametrize("engine_kind", ["postgresql"], indirect=True)
async def test_postgresql_write_isolation_is_chosen_per_unit_of_work(database):
    async with database.write() as conn:
        default = (await conn.exec_driver_sql("SHOW transaction_isolation")).scalar_one()
    async with database.write(isolation="serializable") as conn:
        strict = (await conn.exec_driver_sql("SHOW transaction_isolation")).scalar_one()
    assert (default, strict) == ("read committed", "serializable")


def _closed_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_ping_reports_an_unreachable_database_as_storage_unavailable():
    url = f"postgresql://gate:s3cret@127.0.0.1:{_closed_loopback_port()}/gate"
    db = Database.open(url, connect_timeout_ms=2_000)
    try:
        with pytest.raises(StorageUnavailable) as caught:
            await db.ping()
    finally:
        await db.dispose()
    assert caught.value.code == "storage_unavailable"
    assert "s3cret" not in str(caught.value)
    assert "gate:***@127.0.0.1" in str(caught.value)


async def _aiosqlite_workers_stopped() -> None:
    # aiosqlite stops a connection that failed to open without awaiting the stop; its
    # worker thread then reports to this test's loop, which must still be open.
    async with asyncio.timeout(2):
        while any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            await asyncio.sleep(0.001)


async def test_ping_reports_an_unopenable_sqlite_file_as_storage_unavailable(tmp_path):
    db = Database.open(f"sqlite:///{tmp_path / 'missing-dir' / 'gate.db'}")
    try:
        with pytest.raises(StorageUnavailable):
            await db.ping()
    finally:
        await db.dispose()
        await _aiosqlite_workers_stopped()


def test_display_url_hides_the_password():
    db = Database.open("postgresql://gate:s3cret@db.internal/gate")
    assert db.display_url == "postgresql+asyncpg://gate:***@db.internal/gate"

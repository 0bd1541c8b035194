"""Pytest plugin: real SQLite and PostgreSQL databases for tests, one fresh database per test.

Enable it once in ``tests/conftest.py``::

    pytest_plugins = ["tenantgate.testing.databases"]

Fixtures (each parametrized over the ids ``sqlite`` and ``postgresql``, so ``-k sqlite``
selects one engine):

* ``engine_kind`` -- ``"sqlite"`` or ``"postgresql"``.
* ``database_url`` -- URL of a fresh, *empty* database (for migration tests).
* ``migrated_database_url`` -- URL of a fresh database already at migration head.
* ``module_database_url`` -- the same, shared by every test of a module (for suites that
  start a gateway process once per module), parametrized over the engines itself.
* ``database`` -- an open ``Database`` on ``migrated_database_url``, disposed afterwards.

To stay cheap, migrations run once per session into a template (a file for SQLite, a
template database for PostgreSQL) and each test gets a copy. PostgreSQL is expected at
127.0.0.1:5432 with trust auth (user ``postgres`` or the OS user, database ``test``);
if it is not reachable, PostgreSQL tests fail with a message, they never skip. Each
PostgreSQL test database is created uniquely named and dropped ``WITH (FORCE)``.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tenantgate.storage.database import Database
from tenantgate.storage.migrations.runner import upgrade_to_head

EngineKind = Literal["sqlite", "postgresql"]
ENGINE_KINDS: tuple[EngineKind, ...] = ("sqlite", "postgresql")
POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_ADMIN_DATABASE = "test"
_DB_PREFIX = "tg_test_"
T = TypeVar("T")


class _LoopThread:
    """An event loop on its own thread, so session-long admin work is independent of
    the per-test event loops pytest-asyncio creates (asyncpg objects are loop-bound)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` on the loop thread; the caller may wait on the future or not."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop thread and wait for its result."""
        return self.submit(coro).result()

    def close(self) -> None:
        """Stop the loop and join its thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class PostgresServer:
    """Creates and drops uniquely named databases through a small admin engine."""

    def __init__(self, loop: _LoopThread, admin: AsyncEngine, user: str) -> None:
        self._loop = loop
        self._admin = admin
        self.user = user
        self._pending_drops: list[Future[None]] = []

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+asyncpg://{self.user}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"

    def create(self, *, template: str = "template0") -> str:
        """Create a database copied from ``template`` and return its name."""
        name = f"{_DB_PREFIX}{uuid.uuid4().hex[:20]}"
        self._loop.run(self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    def drop_later(self, name: str) -> None:
        """Drop ``name`` in the background; ``wait_for_drops`` joins before session end."""
        sql = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        self._pending_drops.append(self._loop.submit(self._execute(sql)))

    def drop(self, name: str) -> None:
        """Drop ``name`` now."""
        self._loop.run(self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def wait_for_drops(self) -> None:
        """Block until every background drop has finished, surfacing any failure."""
        pending, self._pending_drops = self._pending_drops, []
        for future in pending:
            future.result()

    def close(self) -> None:
        """Finish pending drops and close the admin engine."""
        self.wait_for_drops()
        self._loop.run(self._admin.dispose())

    async def _execute(self, sql: str) -> None:
        async with self._admin.connect() as conn:
            await conn.exec_driver_sql(sql)


async def _connect_admin() -> tuple[AsyncEngine, str]:
    """Find a user the server trusts; CREATE/DROP DATABASE need autocommit."""
    errors: list[str] = []
    for user in dict.fromkeys(["postgres", getpass.getuser()]):
        admin = create_async_engine(
            f"postgresql+asyncpg://{user}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_ADMIN_DATABASE}",
            isolation_level="AUTOCOMMIT",
            pool_size=4,
            connect_args={"timeout": 5},
        )
        try:
            async with admin.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except (TimeoutError, OSError, DBAPIError) as exc:
            await admin.dispose()
            errors.append(f"user {user!r}: {type(exc).__name__}: {exc}")
            continue
        return admin, user
    raise ConnectionError("; ".join(errors))


@pytest.fixture(scope="session")
def _storage_loop() -> Iterator[_LoopThread]:
    loop = _LoopThread()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def postgres_server(_storage_loop: _LoopThread) -> Iterator[PostgresServer]:
    """The test PostgreSQL server; fails (never skips) when it cannot be reached."""
    try:
        admin, user = _storage_loop.run(_connect_admin())
    except ConnectionError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_HOST}:{POSTGRES_PORT} "
            f"(database {POSTGRES_ADMIN_DATABASE!r}, trust auth): {exc}. Start it, e.g. "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
            "or deselect with -k sqlite.",
            pytrace=False,
        )
    server = PostgresServer(_storage_loop, admin, user)
    yield server
    server.close()


@pytest.fixture(scope="session")
def _sqlite_template(_storage_loop: _LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _storage_loop.run(upgrade_to_head(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def _postgres_template(_storage_loop: _LoopThread, postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create()
    try:
        _storage_loop.run(upgrade_to_head(postgres_server.url(name)))
        yield name
    finally:
        postgres_server.wait_for_drops()
        postgres_server.drop(name)


@pytest.fixture(params=ENGINE_KINDS, ids=list(ENGINE_KINDS))
def engine_kind(request: pytest.FixtureRequest) -> EngineKind:
    """Which engine this test instance runs on; tests may branch on it sparingly."""
    kind: EngineKind = request.param
    return kind


@pytest.fixture
def database_url(engine_kind: EngineKind, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database of ``engine_kind``."""
    if engine_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tenantgate.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create()
    yield server.url(name)
    server.drop_later(name)


def _fresh_migrated_url(
    request: pytest.FixtureRequest, engine_kind: EngineKind, directory: Path
) -> Iterator[str]:
    """A copy of the migrated template of ``engine_kind``: a file in ``directory``, or a database."""
    if engine_kind == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = directory / "tenantgate.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create(template=request.getfixturevalue("_postgres_template"))
    yield server.url(name)
    server.drop_later(name)


@pytest.fixture
def migrated_database_url(
    engine_kind: EngineKind, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """URL of a fresh database of ``engine_kind`` already at migration head."""
    yield from _fresh_migrated_url(request, engine_kind, tmp_path)


@pytest.fixture(scope="module", params=ENGINE_KINDS, ids=list(ENGINE_KINDS))
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of a fresh migrated database per engine shared by a whole module (e.g. one gateway)."""
    yield from _fresh_migrated_url(request, request.param, tmp_path_factory.mktemp("module-db"))


@pytest_asyncio.fixture
async def database(migrated_database_url: str) -> AsyncIterator[Database]:
    """An open, migrated ``Database`` for this test, disposed when the test ends."""
    db = Database.open(migrated_database_url, pool_size=5)
    try:
        yield db
    finally:
        await db.dispose()

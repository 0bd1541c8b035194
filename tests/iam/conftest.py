"""Identity-store fixtures: every test runs on SQLite and PostgreSQL (``tenantgate.testing.databases``).

pytest only honours ``pytest_plugins`` in the root conftest, so until tests/conftest.py
declares it, the shared database fixtures are imported here, as in tests/storage.
"""

from tenantgate.testing.databases import (
    _postgres_template,
    _sqlite_template,
    _storage_loop,
    database,
    database_url,
    engine_kind,
    migrated_database_url,
    postgres_server,
)

__all__ = [
    "_postgres_template",
    "_sqlite_template",
    "_storage_loop",
    "database",
    "database_url",
    "engine_kind",
    "migrated_database_url",
    "postgres_server",
]

from datetime import UTC, datetime, timedelta

import pytest

from tenantgate.iam.store import IdentityStore


class SteppingClock:
    """A clock tests move by hand: ``clock.advance(minutes=2)``."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
async def store(database, clock) -> IdentityStore:
    identity = IdentityStore(database, clock=clock)
    await identity.create_tenancy("acme")
    return identity

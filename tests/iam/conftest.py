"""Identity-store fixtures: every test runs on SQLite and PostgreSQL (``tenantgate.testing.databases``,
a plugin of tests/conftest.py); a clock the tests step by hand."""

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

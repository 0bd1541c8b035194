"""Audit fixtures: a hand-stepped clock and an ``AuditStore`` on each engine (``database`` is
parametrized over SQLite and PostgreSQL by ``tenantgate.testing.databases``)."""

import pytest
from audit_factories import SteppingClock

from tenantgate.audit.store import AuditStore


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def store(database, clock) -> AuditStore:
    return AuditStore(database, clock=clock)

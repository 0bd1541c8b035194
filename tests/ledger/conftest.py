"""Ledger fixtures: a stepping clock, a ``LedgerStore`` on each engine (``database`` is
parametrized over SQLite and PostgreSQL by ``tenantgate.testing.databases``) and the chart."""

import pytest
import pytest_asyncio
from ledger_helpers import SteppingClock, chart

from tenantgate.ledger import Account, LedgerStore


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def store(database, clock) -> LedgerStore:
    return LedgerStore(database, clock=clock)


@pytest_asyncio.fixture
async def accounts(store) -> dict[str, Account]:
    """The chart of ``ledger_helpers.chart``, created; ``cust`` starts with nothing."""
    created = chart()
    results = await store.create_accounts(list(created.values()))
    assert all(r.result.succeeded for r in results)
    return created

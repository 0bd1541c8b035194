"""Idempotency fixtures: a store on each engine (``database`` comes from the
``tenantgate.testing.databases`` plugin, parametrized over SQLite and PostgreSQL) and a clock
the tests step by hand; for the end-to-end suite, per engine, a seeded database (``idempotency_world``)
served by two gateway replicas and the fake upstream behind them."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from idempotency_world import UPSTREAM_KEY, UPSTREAM_KEY_ENV, World, gateway_config, seed

from tenantgate.idempotency import IdempotencyStore
from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, run_gateway


class SteppingClock:
    """A clock tests move by hand: ``clock.advance(seconds=61)``."""

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
def store(database, clock) -> IdempotencyStore:
    return IdempotencyStore(database, clock=clock)


# End to end: per engine, one seeded database served by two gateway replicas -----------------

@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_keys=[UPSTREAM_KEY], max_recorded=None) as fake:
        yield fake


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.reset()
    return upstream


@pytest.fixture(scope="module")
def world(module_database_url: str) -> World:
    return seed(module_database_url)


@pytest.fixture(scope="module")
def replicas(world: World, upstream: FakeUpstream) -> Iterator[list[RunningGateway]]:
    config = gateway_config(world, upstream)
    env = {UPSTREAM_KEY_ENV: UPSTREAM_KEY}
    with run_gateway(config, env=env) as first, run_gateway(config, env=env) as second:
        yield [first, second]

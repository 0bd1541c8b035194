"""Fixtures of the rate-card suite: per engine, one seeded database served by two gateway replicas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rate_card_world import UPSTREAM_KEY, UPSTREAM_KEY_ENV, World, gateway_config, seed

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, run_gateway


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_keys=[UPSTREAM_KEY], max_recorded=None) as fake:
        yield fake


@pytest.fixture(scope="module")
def world(module_database_url: str) -> World:
    return seed(module_database_url)


@pytest.fixture(scope="module")
def replicas(world: World, upstream: FakeUpstream) -> Iterator[list[RunningGateway]]:
    config = gateway_config(world, upstream)
    env = {UPSTREAM_KEY_ENV: UPSTREAM_KEY}
    with run_gateway(config, env=env) as first, run_gateway(config, env=env) as second:
        yield [first, second]

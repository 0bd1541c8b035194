"""Fixtures of the inference-authorization suite: one seeded tenancy and one gateway per engine.

The module-scoped database is seeded through ``IdentityStore`` (as ``tenantgate`` commands
and the admin API write it) and served by a real ``tenantgate serve`` process, so every
test goes through real HTTP, the real SDK and a real SQLite or PostgreSQL database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from authz_world import UPSTREAM_KEY, World, catalog, seed_world

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, run_gateway


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_keys=[UPSTREAM_KEY]) as fake:
        yield fake


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.reset()
    return upstream


@pytest.fixture(scope="module")
def world_url(module_database_url: str) -> str:
    """A migrated database of each engine, for the whole module."""
    return module_database_url


@pytest.fixture(scope="module")
def world(world_url: str) -> World:
    return asyncio.run(seed_world(world_url))


@pytest.fixture(scope="module")
def gateway(world: World, upstream: FakeUpstream) -> Iterator[RunningGateway]:
    config = {
        "storage": {"url": world.url},
        "auth": {"refresh_interval_ms": 100},
        "models": catalog(upstream),
        "local": {"enabled": False},
    }
    with run_gateway(config, env={"TG_AUTHZ_UPSTREAM_KEY": UPSTREAM_KEY}) as running:
        yield running


@pytest.fixture(scope="module")
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.base_url, timeout=10) as client:
        yield client

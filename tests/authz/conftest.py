"""Fixtures of the inference-authorization suite: one seeded tenancy and one gateway per engine.

The module-scoped database is seeded through ``IdentityStore`` (as ``tenantgate`` commands
and the admin API write it) and served by a real ``tenantgate serve`` process, so every
test goes through real HTTP, the real SDK and a real SQLite or PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authz_world import UPSTREAM_KEY, World, catalog, seed_world

from tenantgate.testing import FakeUpstream
from tenantgate.testing.databases import ENGINE_KINDS, PostgresServer
from tenantgate.testing.gateway_process import RunningGateway, run_gateway


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_keys=[UPSTREAM_KEY]) as fake:
        yield fake


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.reset()
    return upstream


@pytest.fixture(scope="module", params=ENGINE_KINDS, ids=list(ENGINE_KINDS))
def world_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of each engine, for the whole module."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path_factory.mktemp("authz") / "tenantgate.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create(template=request.getfixturevalue("_postgres_template"))
    yield server.url(name)
    server.drop_later(name)


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

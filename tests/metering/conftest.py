"""Fixtures of the metering suite: per engine, one seeded database served by two gateway processes.

Two replicas share the database exactly as a scaled-out deployment does (SQLite between two
processes on one file, PostgreSQL between two pools), so a budget that holds here holds
across replicas, not just inside one process.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from metering_world import UPSTREAM_KEY, UPSTREAM_KEY_ENV, World, gateway_config, seed

from tenantgate.testing import FakeUpstream
from tenantgate.testing.databases import ENGINE_KINDS, PostgresServer
from tenantgate.testing.gateway_process import RunningGateway, run_gateway


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_keys=[UPSTREAM_KEY], max_recorded=None) as fake:
        yield fake


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.reset()
    return upstream


@pytest.fixture(scope="module", params=ENGINE_KINDS, ids=list(ENGINE_KINDS))
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path_factory.mktemp("metering") / "tenantgate.db"
        shutil.copyfile(template, path)
        yield seed(f"sqlite+aiosqlite:///{path}")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create(template=request.getfixturevalue("_postgres_template"))
    yield seed(server.url(name))
    server.drop_later(name)


@pytest.fixture(scope="module")
def replicas(world: World, upstream: FakeUpstream) -> Iterator[list[RunningGateway]]:
    config = gateway_config(world, upstream)
    env = {UPSTREAM_KEY_ENV: UPSTREAM_KEY}
    with run_gateway(config, env=env) as first, run_gateway(config, env=env) as second:
        yield [first, second]

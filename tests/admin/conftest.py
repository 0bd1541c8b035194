"""Fixtures of the admin suite: one real gateway process per engine (SQLite, PostgreSQL) per module.

The world it serves is described in ``admin_world``; tests share it, so they create what
they change under unique names.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from admin_world import World, bootstrap, build, gateway_config

from tenantgate.testing.databases import ENGINE_KINDS
from tenantgate.testing.gateway_process import run_gateway


@pytest.fixture(scope="module", params=ENGINE_KINDS, ids=list(ENGINE_KINDS))
def world_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh migrated database of each engine, for the module's gateway."""
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        path = tmp_path_factory.mktemp("admin-world") / "tenantgate.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create(template=request.getfixturevalue("_postgres_template"))
    yield server.url(name)
    server.drop_later(name)


@pytest.fixture(scope="module")
def world(world_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The module's gateway with the world above built through the admin API."""
    admin_token = bootstrap(world_database_url)
    workdir = tmp_path_factory.mktemp("admin-gateway")
    with run_gateway(gateway_config(world_database_url), workdir=workdir) as gateway:
        built = World(gateway, world_database_url, admin_token)
        build(built)
        yield built

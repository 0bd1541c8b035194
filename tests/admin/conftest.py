"""Fixtures of the admin suite: one real gateway process per engine (SQLite, PostgreSQL) per module.

The world it serves is described in ``admin_world``; tests share it, so they create what
they change under unique names.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from admin_world import World, bootstrap, build, gateway_config

from tenantgate.testing.gateway_process import run_gateway


@pytest.fixture(scope="module")
def world_database_url(module_database_url: str) -> str:
    """A fresh migrated database of each engine, for the module's gateway."""
    return module_database_url


@pytest.fixture(scope="module")
def world(world_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The module's gateway with the world above built through the admin API."""
    admin_token = bootstrap(world_database_url)
    workdir = tmp_path_factory.mktemp("admin-gateway")
    with run_gateway(gateway_config(world_database_url), workdir=workdir) as gateway:
        built = World(gateway, world_database_url, admin_token)
        build(built)
        yield built

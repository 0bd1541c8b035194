"""Fixtures of the report suite: per engine, one seeded database, one gateway and its traffic.

The traffic runs once per engine in two phases a whole second apart, so the reports can be
checked against the ledger on both sides of a boundary that falls between real settlements.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from report_world import (
    ADMITTED,
    PHASE_A,
    PHASE_B,
    UPSTREAM_KEY,
    UPSTREAM_KEY_ENV,
    Traffic,
    World,
    gateway_config,
    seed,
    send,
)

from tenantgate.credits.usage_report import unix_seconds
from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, run_gateway


def eventually(check, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_keys=[UPSTREAM_KEY], max_recorded=None) as fake:
        yield fake


@pytest.fixture(scope="module")
def world(module_database_url: str) -> World:
    return seed(module_database_url)


@pytest.fixture(scope="module")
def gateway(world: World, upstream: FakeUpstream) -> Iterator[RunningGateway]:
    with run_gateway(gateway_config(world, upstream), env={UPSTREAM_KEY_ENV: UPSTREAM_KEY}) as running:
        yield running


def _settled(world: World, requests: int, overages: int) -> None:
    assert world.ledger(lambda ledger: ledger.pending_transfers()) == []
    assert len(world.billed_records()) == requests
    assert len(world.overage_transfers()) == overages


@pytest.fixture(scope="module")
def traffic(world: World, gateway: RunningGateway) -> Traffic:
    before = world.debits_posted()
    with httpx.Client(timeout=30) as client:
        first = send(client, gateway.base_url, world, PHASE_A)
        eventually(lambda: _settled(world, first.count(200), 2))
        split_s = unix_seconds(world.usage_transfers()[-1].timestamp) + 1
        while time.time() < split_s + 0.05:
            time.sleep(0.05)
        second = send(client, gateway.base_url, world, PHASE_B)
    statuses = first + second
    assert statuses.count(200) == ADMITTED, statuses
    eventually(lambda: _settled(world, ADMITTED, 2))
    records = world.usage_transfers()
    return Traffic(statuses, split_s, unix_seconds(records[0].timestamp) - 90,
                   unix_seconds(records[-1].timestamp) + 1, before)

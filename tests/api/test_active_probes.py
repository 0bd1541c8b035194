"""Active probes end to end: a deployment that goes down is taken out, and brought back, by probes alone.

A real gateway process with ``routing.probes`` on (every 0.2 s) in front of the fake
upstream. While the primary answers 503, its breaker opens with no caller request spent on
it, and callers go straight to the backup; once the primary recovers, probes close its
breaker and callers get it again. The probes are one-token ``ping`` requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from gateway_harness import gateway_config, start_gateway, token_clients
from routing_tenancy import seed, up

from tenantgate.testing import FakeUpstream, Fault
from tenantgate.testing.gateway_process import RunningGateway

PRIMARY = "openai:probe-a#0"
PROBES = {"enabled": True, "interval_s": 0.2, "timeout_s": 2, "unhealthy_after": 2, "healthy_after": 2}
HI = [{"role": "user", "content": "hi there"}]


@pytest.fixture(scope="module")
def world(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[RunningGateway, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("probes")
    url = f"sqlite+aiosqlite:///{workdir / 'probes.db'}"
    tokens = asyncio.run(seed(url))
    models = [{"name": "probed", "deployments": [up(upstream, "probe-a"), up(upstream, "probe-b")]}]
    config = gateway_config(models, storage={"url": url}, routing={"probes": PROBES, "breaker": {"cooldown_s": 600}})
    with start_gateway(config, workdir) as running:
        yield running, tokens


@pytest.fixture(scope="module")
def client(world: tuple[RunningGateway, dict[str, str]]) -> Iterator[Callable[[str], httpx.Client]]:
    running, tokens = world
    with token_clients(running.base_url, tokens) as by_name:
        yield by_name


def _primary(client: Callable[[str], httpx.Client]) -> dict:
    listed = client("admin").get("/admin/v1/deployments")
    assert listed.status_code == 200, listed.text
    return next(row for row in listed.json()["data"] if row["deployment"] == PRIMARY)


def _wait_for(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _callers(fake: FakeUpstream, model: str) -> list:
    """Requests the fake got for ``model`` that were not probes."""
    return [r for r in fake.received if r.model == model and r.body.get("max_tokens") != 1]


def test_probes_take_a_failing_deployment_out_and_bring_it_back_without_a_callers_request(
    fake: FakeUpstream, client: Callable[[str], httpx.Client]
):
    _wait_for(lambda: _primary(client)["probe_streak"] >= 2)  # healthy: probes answered
    probes = [r for r in fake.received if r.model == "probe-a"]
    assert probes
    assert all(r.body["messages"] == [{"role": "user", "content": "ping"}] for r in probes)
    assert all(r.body["max_tokens"] == 1 for r in probes)

    fake.enqueue(Fault(kind="status", status=503, model="probe-a", times=10_000))
    _wait_for(lambda: _primary(client)["breaker"] == "open")
    assert _primary(client)["probe_streak"] <= -2
    assert _callers(fake, "probe-a") == []  # no caller's request was spent finding the outage

    answered = client("finance").post("/v1/chat/completions", json={"model": "probed", "messages": HI})
    assert answered.status_code == 200, answered.text
    assert _callers(fake, "probe-a") == []  # the open breaker sent the caller straight to the backup
    assert len(_callers(fake, "probe-b")) == 1

    fake.reset()  # the primary recovers
    _wait_for(lambda: _primary(client)["breaker"] == "closed")
    answered = client("finance").post("/v1/chat/completions", json={"model": "probed", "messages": HI})
    assert answered.status_code == 200, answered.text
    assert len(_callers(fake, "probe-a")) == 1
    assert _callers(fake, "probe-b") == []

"""Dedicated capacity end to end: a real gateway process, a slow fake upstream, two compartments.

``shared-gpt`` has one dedicated deployment of 3 slots: compartment ``A`` reserves 2, one is
shared. Saturated by concurrent requests from ``A`` and ``B``, ``B`` never has more than the
shared slot upstream at once (measured at the fake, from arrival times: every answer takes
0.2 s), and ``A``'s p99 wait is below ``B``'s (measured by the clients, and reported by the
admin API). ``spill`` and ``nospill`` put an on-demand deployment behind a one-slot
reservation: the owner spills over only where its reservation allows it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database, upgrade_to_head
from tenantgate.testing import FakeUpstream, Fault
from tenantgate.testing.gateway_process import RunningGateway, run_gateway

KEY, KEY_ENV = "sk-capacity-upstream", "TG_CAPACITY_UPSTREAM_KEY"
SERVICE_S = 0.2
SLOW = ("ded-up", "spill-ded", "spill-od", "nospill-ded", "nospill-od")


def _up(fake: FakeUpstream, name: str, **fields: Any) -> dict[str, Any]:
    return {"provider": "openai", "base_url": fake.openai_base_url, "model": name, "credential_env": KEY_ENV,
            **fields}


def _dedicated(total: int, reserved: int, **reservation: Any) -> dict[str, Any]:
    return {"capacity_class": "dedicated", "concurrent_requests_max": total,
            "reservations": [{"compartment": "A", "concurrent_requests": reserved, **reservation}],
            "capacity_queue": {"queue_max": 16, "queue_deadline_ms": 4000}}


def _models(fake: FakeUpstream) -> list[dict[str, Any]]:
    return [
        {"name": "shared-gpt", "deployments": [_up(fake, "ded-up", **_dedicated(3, 2))]},
        {"name": "spill", "deployments": [_up(fake, "spill-ded", **_dedicated(1, 1)), _up(fake, "spill-od")]},
        {"name": "nospill", "deployments": [_up(fake, "nospill-ded", **_dedicated(1, 1, spill_over=False)),
                                            _up(fake, "nospill-od")]},
    ]


async def _seed(url: str) -> dict[str, str]:
    db = Database.open(url, pool_size=1)
    try:
        await upgrade_to_head(db.engine)
        store = IdentityStore(db, clock=lambda: datetime.now(UTC))
        root = (await store.create_tenancy("acme")).id
        a = await store.create_compartment("A", parent_id=root)
        b = await store.create_compartment("B", parent_id=root)
        await store.save_policy("chat", "Allow any-user to use generative-ai-chat in tenancy", compartment_id=root)
        admin = await store.ensure_administrator("root")
        return {"A": (await store.create_api_key("a", owner_compartment_id=a.id)).token,
                "B": (await store.create_api_key("b", owner_compartment_id=b.id)).token,
                "admin": (await store.create_api_key("admin", owner_user_id=admin.id)).token}
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_keys=[KEY], token_delay_s=0.05) as upstream:  # streams take a while
        yield upstream


@pytest.fixture(scope="module")
def world(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningGateway, dict]]:
    workdir: Path = tmp_path_factory.mktemp("capacity")
    url = f"sqlite+aiosqlite:///{workdir / 'capacity.db'}"
    tokens = asyncio.run(_seed(url))
    config = {"local": {"enabled": False}, "logging": {"level": "WARNING"}, "storage": {"url": url},
              "models": _models(fake)}
    with run_gateway(config, env={KEY_ENV: KEY}, workdir=workdir) as running:
        yield running, tokens


@pytest.fixture
def slow(fake: FakeUpstream) -> FakeUpstream:
    fake.reset()
    fake.enqueue(*[Fault(kind="slow_first_token", seconds=SERVICE_S, model=name, times=100_000) for name in SLOW])
    return fake


async def _ask(client: httpx.AsyncClient, model: str, who: str, n: int) -> tuple[int, float]:
    started = time.monotonic()
    body = {"model": model, "messages": [{"role": "user", "content": f"from {who} {n}"}]}
    response = await client.post("/v1/chat/completions", json=body)
    return response.status_code, time.monotonic() - started


async def _loop(client: httpx.AsyncClient, who: str, until: float, out: list[tuple[str, int, float]]) -> None:
    n = 0
    while time.monotonic() < until:
        status, latency_s = await _ask(client, "shared-gpt", who, n)
        out.append((who, status, latency_s))
        n += 1


async def _saturate(gateway: RunningGateway, tokens: dict[str, str], seconds: float) -> list[tuple[str, int, float]]:
    """3 clients of A (its 2 slots and more) and 2 of B against the 3 slots, for ``seconds``."""
    results: list[tuple[str, int, float]] = []
    until = time.monotonic() + seconds
    clients = {who: httpx.AsyncClient(base_url=gateway.base_url, timeout=10,
                                      headers={"authorization": f"Bearer {tokens[who]}"}) for who in "AB"}
    try:
        await asyncio.gather(*[_loop(clients[who], who, until, results) for who in "AAABB"])
    finally:
        for client in clients.values():
            await client.aclose()
    return results


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)]


def _arrivals(fake: FakeUpstream, model: str, who: str | None = None) -> list[float]:
    return sorted(r.arrived_at for r in fake.received if r.model == model
                  and (who is None or f"from {who} " in str(r.body["messages"][-1]["content"])))


def test_under_saturation_others_never_hold_more_than_the_shared_slot_and_the_owner_waits_less(
    world: tuple[RunningGateway, dict[str, str]], slow: FakeUpstream
) -> None:
    gateway, tokens = world
    results = asyncio.run(_saturate(gateway, tokens, seconds=2.5))
    assert {status for _, status, _ in results} == {200}, results
    latencies = {who: [latency for w, _, latency in results if w == who] for who in "AB"}
    assert len(latencies["B"]) >= 3, "B must be served now and then, or the shared-slot bound says nothing"
    b_arrivals = _arrivals(slow, "ded-up", "B")
    gaps = [later - earlier for earlier, later in itertools.pairwise(b_arrivals)]
    assert min(gaps) >= SERVICE_S * 0.9, f"two of B's requests were upstream at once: {gaps}"
    every = _arrivals(slow, "ded-up")
    assert all(every[i + 3] - every[i] >= SERVICE_S * 0.9 for i in range(len(every) - 3)), "over 3 slots"
    assert _p99(latencies["A"]) < _p99(latencies["B"]), (latencies["A"], latencies["B"])
    reserved, shared = _reservations(gateway, tokens, "shared-gpt")
    assert (reserved["compartment"], reserved["slots"], shared["compartment"], shared["slots"]) == ("A", 2, None, 1)
    assert reserved["in_use"] == shared["in_use"] == reserved["queued"] == shared["queued"] == 0
    assert reserved["wait_p99_ms"] < shared["wait_p99_ms"]


def _reservations(gateway: RunningGateway, tokens: dict[str, str], model: str) -> list[dict[str, Any]]:
    """The admin API's utilisation rows of ``model``'s (only) deployment."""
    listed = httpx.get(f"{gateway.base_url}/admin/v1/deployments",
                       headers={"authorization": f"Bearer {tokens['admin']}"})
    assert listed.status_code == 200, listed.text
    rows: list[dict[str, Any]] = next(r for r in listed.json()["data"] if r["model"] == model)["reservations"]
    return rows


async def _burst(gateway: RunningGateway, token: str, model: str, count: int) -> list[tuple[int, float]]:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10,
                                 headers={"authorization": f"Bearer {token}"}) as client:
        return list(await asyncio.gather(*[_ask(client, model, "A", n) for n in range(count)]))


def test_a_full_reservation_spills_over_to_on_demand_only_where_it_may(
    world: tuple[RunningGateway, dict[str, str]], slow: FakeUpstream
) -> None:
    gateway, tokens = world
    spilled = asyncio.run(_burst(gateway, tokens["A"], "spill", 3))
    assert [status for status, _ in spilled] == [200] * 3
    assert len(_arrivals(slow, "spill-ded")) == 1
    assert len(_arrivals(slow, "spill-od")) == 2
    assert max(latency for _, latency in spilled) < 2 * SERVICE_S  # nobody waited for the slot
    kept = asyncio.run(_burst(gateway, tokens["A"], "nospill", 2))
    assert [status for status, _ in kept] == [200, 200]
    assert len(_arrivals(slow, "nospill-ded")) == 2
    assert _arrivals(slow, "nospill-od") == []
    assert max(latency for _, latency in kept) >= 2 * SERVICE_S * 0.9  # the second waited its turn


def test_a_stream_holds_its_slot_until_it_ends(world: tuple[RunningGateway, dict[str, str]], slow: FakeUpstream) -> None:
    gateway, tokens = world
    body = {"model": "nospill", "stream": True, "messages": [{"role": "user", "content": "from A with a longer question"}]}
    with httpx.Client(base_url=gateway.base_url, timeout=10, headers={"authorization": f"Bearer {tokens['A']}"}) as client, \
            client.stream("POST", "/v1/chat/completions", json=body) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data: "))
        assert _reservations(gateway, tokens, "nospill")[0]["in_use"] == 1  # mid-stream
        rest = list(lines)
    assert "data: [DONE]" in rest, rest[-3:]
    deadline = time.monotonic() + 2
    while _reservations(gateway, tokens, "nospill")[0]["in_use"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _reservations(gateway, tokens, "nospill")[0]["in_use"] == 0

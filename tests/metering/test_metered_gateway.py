"""Universal credits end to end: two gateway replicas, the real SDK and HTTP, a real database.

The bar of the credits issue: a thousand concurrent requests against a budget that covers a
hundred admit at most a hundred (and the upstream sees exactly those), every stream is
settled however its client leaves, a stream without usage is settled from a local count
flagged estimated, and a replica killed between hold and settlement leaves holds that
expire without charging anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter

import httpx
from metering_world import (
    ADMITTED,
    HOLD,
    MAX_TOKENS,
    PROMPT,
    UPSTREAM_KEY,
    UPSTREAM_KEY_ENV,
    World,
    gateway_config,
)

from tenantgate.audit import AuditStore
from tenantgate.ledger import TransferFlags
from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, run_gateway

REQUESTS = 1000


def body(model: str = "metered", **extra) -> dict:
    return {"model": model, "messages": PROMPT, "max_tokens": MAX_TOKENS, **extra}


def eventually(check, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def pending(world: World) -> list:
    return world.ledger(lambda ledger: ledger.pending_transfers())


def violations(world: World) -> list[str]:
    return world.ledger(lambda ledger: ledger.find_invariant_violations())


def posts_on(world: World, account: str) -> list:
    records = world.ledger(lambda ledger: ledger.get_account_transfers(account, limit=10_000))
    return [r for r in records if r.transfer.flags & TransferFlags.POST_PENDING_TRANSFER]


async def _flood(replicas: list[RunningGateway], token: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return await asyncio.gather(*(
            client.post(f"{replicas[i % 2].base_url}/v1/chat/completions", json=body(),
                        headers={"authorization": f"Bearer {token}"})
            for i in range(REQUESTS)
        ))


def test_a_budget_for_100_admits_at_most_100_of_1000_concurrent_requests_across_two_replicas(
    replicas, world: World, fake: FakeUpstream,
):
    answers = asyncio.run(_flood(replicas, world.tokens["budgeted"]))
    statuses = Counter(answer.status_code for answer in answers)
    admitted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    errors = [line for gateway in replicas for line in gateway.logs().splitlines()
              if '"level":"error"' in line.replace(" ", "")]
    assert len(admitted) == ADMITTED, (statuses, errors[-5:])
    assert {a.status_code for a in refused} == {429}
    assert {a.json()["error"]["code"] for a in refused} == {"budget_exceeded"}
    assert {a.json()["error"]["type"] for a in refused} == {"insufficient_quota"}
    assert len([r for r in fake.received if r.path.endswith("/chat/completions")]) == len(admitted)
    assert {a.headers["x-tenantgate-cost"] for a in admitted} == {f"0.{HOLD:06d}"}
    eventually(lambda: _no_pending(world))
    budget_posts = posts_on(world, f"bud:{world.ids['budget']}:{time.strftime('%Y-%m', time.gmtime())}")
    assert sum(p.transfer.amount for p in budget_posts) == ADMITTED * HOLD  # settled ≤ the budget, exactly
    assert violations(world) == []

    def alerted() -> None:  # 50, 80 and 100 % crossed: each fires once, whichever replica saw it
        events = world.run(lambda db: AuditStore(db, clock=lambda: None).list_events(  # type: ignore[arg-type]
            action="credits.budget.alert", limit=100))
        assert sorted(e.details["threshold_percent"] for e in events) == [50, 80, 100]
        assert {e.target_id for e in events} == {world.ids["budget"]}

    eventually(alerted, timeout_s=30)


def _no_pending(world: World) -> None:
    assert pending(world) == []


def test_every_stream_is_settled_however_early_its_client_leaves(replicas, world: World):
    commitment = world.ids["commitment_account"]
    paid_before = world.posted(commitment)
    token = world.tokens["streams"]
    assert world.records(key_id=world.ids["streams"]) == []

    def read_some(index: int) -> None:
        gateway = replicas[index % 2]
        keep = 1 + index % 50
        with httpx.Client(timeout=30) as client, client.stream(
            "POST", f"{gateway.base_url}/v1/chat/completions", headers={"authorization": f"Bearer {token}"},
            json=body(stream=True, max_tokens=60, messages=[{"role": "user", "content": " ".join(["w"] * 80)}]),
        ) as response:
            assert response.status_code == 200
            seen = 0
            for line in response.iter_lines():
                if line.startswith("data: "):
                    seen += 1
                    if seen >= keep:
                        break  # leave mid-stream: the connection closes here

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(read_some, range(200)))
    eventually(lambda: _no_pending(world))
    billed = world.records(key_id=world.ids["streams"], status="billed")
    assert len(billed) == 200  # one record per stream, booked with its charge
    assert sum(r.cost_micros for r in billed) == world.posted(commitment) - paid_before
    assert violations(world) == []


def test_a_stream_without_usage_is_settled_from_a_local_count_flagged_estimated(replicas, world: World):
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"{replicas[0].base_url}/v1/chat/completions",
                             json=body("metered-no-usage", stream=True),
                             headers={"authorization": f"Bearer {world.tokens['streams']}",
                                      "x-request-id": "req_no_usage_1"})
    assert answer.status_code == 200
    assert "data: [DONE]" in answer.text

    def settled() -> None:
        records = world.records(request_id="req_no_usage_1")
        assert len(records) == 1
        assert records[0].status == "billed"
        assert records[0].estimated is True
        assert records[0].cost_micros > 0

    eventually(settled)


def test_kill_9_between_hold_and_settle_leaves_holds_that_expire_and_charge_nobody(
    world: World, upstream: FakeUpstream, tmp_path,
):
    config = gateway_config(world, upstream, hold_timeout_s=2, sweep_interval_s=1)
    env = {UPSTREAM_KEY_ENV: UPSTREAM_KEY}
    commitment = world.ids["commitment_account"]
    charged_before, booked_before = world.posted(commitment), len(world.records())
    token = world.tokens["crash"]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with run_gateway(config, env=env, workdir=tmp_path / "a") as doomed:
        async def stalled() -> None:
            async with httpx.AsyncClient(timeout=30) as client:
                await asyncio.gather(*(
                    client.post(f"{doomed.base_url}/v1/chat/completions", json=body("metered-stall"),
                                headers={"authorization": f"Bearer {token}"})
                    for _ in range(5)), return_exceptions=True)

        import threading

        threading.Thread(target=lambda: asyncio.run(stalled()), daemon=True).start()
        eventually(lambda: _has_pending(world, 1))  # one lease holds all five: this key has no budget
        eventually(lambda: _upstream_saw(upstream, "fault-stall-60", 5))
        _kill_tree(doomed.process.pid)
        doomed.process.wait()
    with run_gateway(config, env=env, workdir=tmp_path / "b"):
        eventually(lambda: _no_pending(world), timeout_s=30)
    assert world.posted(commitment) == charged_before
    assert len(world.records()) == booked_before  # the lost replica's requests left no charge
    assert violations(world) == []


def _kill_tree(pid: int) -> None:
    """SIGKILL the server and its worker processes at once: a crash, not a shutdown."""
    import psutil

    process = psutil.Process(pid)
    for member in [*process.children(recursive=True), process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(signal.SIGKILL)


def _has_pending(world: World, count: int) -> None:
    assert len(pending(world)) >= count


def _upstream_saw(upstream: FakeUpstream, model: str, count: int) -> None:
    assert len([r for r in upstream.received if (r.body or {}).get("model") == model]) >= count

"""What a metered call leaves behind besides its charge: a usage record with its latency and
attempts (also for a call that failed), and the caller's remaining budget in a header."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
from metering_world import MAX_TOKENS, PROMPT, TRAIL_LIMIT, World

from tenantgate.testing.gateway_process import RunningGateway


def ask(gateway: RunningGateway, world: World, model: str, request_id: str) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(f"{gateway.base_url}/v1/chat/completions",
                           json={"model": model, "messages": PROMPT, "max_tokens": MAX_TOKENS},
                           headers={"authorization": f"Bearer {world.tokens['trail']}",
                                    "x-request-id": request_id})


def eventually(check, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_billed_record_carries_its_latency_and_the_attempt_that_answered(replicas, world: World):
    answer = ask(replicas[0], world, "metered", "req_trail_ok")
    assert answer.status_code == 200

    def booked():
        records = world.records(request_id="req_trail_ok")
        assert len(records) == 1
        return records[0]

    record = eventually(booked)
    assert record.status == "billed"
    assert record.attempts == ["req_trail_ok-a1"]
    assert 0 <= record.latency_ms < 30_000
    assert record.deployment.startswith("openai:gpt-4o-mini")
    assert Decimal(answer.headers["x-tenantgate-cost"]) * 1_000_000 == record.cost_micros


def test_a_call_that_failed_before_any_token_leaves_a_released_record_and_no_charge(replicas, world: World):
    answer = ask(replicas[1], world, "metered-broken", "req_trail_broken")
    assert answer.status_code == 503

    def recorded():
        records = world.records(request_id="req_trail_broken")
        assert len(records) == 1
        return records[0]

    record = eventually(recorded)
    assert record.status == "released"
    assert record.cost_micros == 0
    assert record.attempts == ["openai:fault-503#0:upstream_unavailable"]


def test_the_callers_own_budget_left_comes_back_in_a_header(replicas, world: World):
    spent = Decimal(0)

    def shown():
        nonlocal spent
        answer = ask(replicas[0], world, "metered", f"req_trail_{time.monotonic_ns()}")
        assert answer.status_code == 200
        spent += Decimal(answer.headers["x-tenantgate-cost"])
        assert "x-tenantgate-budget-remaining" in answer.headers  # known after the first budget check
        left = Decimal(answer.headers["x-tenantgate-budget-remaining"])
        assert left < limit  # a check after the first charges were booked
        return left

    limit = Decimal(TRAIL_LIMIT) / 1_000_000
    left = eventually(shown, timeout_s=30)
    assert left >= limit - spent  # as of the last check: never less than what is really left
    other = httpx.post(f"{replicas[0].base_url}/v1/chat/completions", timeout=30,
                       json={"model": "metered", "messages": PROMPT, "max_tokens": MAX_TOKENS},
                       headers={"authorization": f"Bearer {world.tokens['streams']}"})
    assert other.status_code == 200
    assert "x-tenantgate-budget-remaining" not in other.headers  # that key has no budget of its own

"""Three gateway processes sharing one Redis admit a key's limit exactly once between them.

The bar of the rate-limit issue: 90 requests fired at once across three replicas against a
limit of 30 per minute admit exactly 30 (not 3 x 30), the upstream sees exactly those 30, and
``x-ratelimit-remaining-requests`` counts down 29 … 0 over the admitted answers whichever
replica gave them. Also: a token correction made on one replica is seen by the others, and a
Redis that cannot be reached fails open or closed as configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from ratelimit_gateways import ENV, gateway_config, key_id
from ratelimit_stores import REDIS_URL, remove_keys, unique_prefix

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, free_port, run_gateway

KEY, TOKENS_KEY = "sk-replicated", "sk-replicated-tokens"
LIMIT, REQUESTS, REPLICAS = 30, 90, 3
HI = [{"role": "user", "content": "one two three"}]


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    chosen = unique_prefix()
    yield chosen
    remove_keys(chosen)


@pytest.fixture(scope="module")
def replicas(upstream: FakeUpstream, prefix: str) -> Iterator[list[RunningGateway]]:
    rules = [{"scope": "key", "match": key_id(KEY), "requests_per_minute": LIMIT},
             {"scope": "key", "match": key_id(TOKENS_KEY), "tokens_per_minute": 10_000}]
    config = gateway_config(upstream, [KEY, TOKENS_KEY], rules, redis_url=REDIS_URL, redis_key_prefix=prefix)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(run_gateway(config, env=ENV)) for _ in range(REPLICAS)]


async def _burst(replicas: list[RunningGateway]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return await asyncio.gather(*(
            client.post(f"{replicas[i % REPLICAS].base_url}/v1/chat/completions",
                        headers={"authorization": f"Bearer {KEY}"},
                        json={"model": "chat", "messages": HI, "max_tokens": 3})
            for i in range(REQUESTS)
        ))


def test_three_replicas_sharing_redis_admit_exactly_the_limit_and_count_down(
    replicas: list[RunningGateway], fake: FakeUpstream,
):
    answers = asyncio.run(_burst(replicas))
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: LIMIT, 429: REQUESTS - LIMIT}, statuses
    assert len([r for r in fake.received if r.path.endswith("/chat/completions")]) == LIMIT
    admitted = [a for a in answers if a.status_code == 200]
    assert sorted(int(a.headers["x-ratelimit-remaining-requests"]) for a in admitted) == list(range(LIMIT))
    assert {a.headers["x-ratelimit-limit-requests"] for a in answers} == {str(LIMIT)}
    refused = [a for a in answers if a.status_code == 429]
    assert {a.headers["x-ratelimit-remaining-requests"] for a in refused} == {"0"}
    assert {a.json()["error"]["code"] for a in refused} == {"rate_limit_exceeded"}
    assert all(1 <= int(a.headers["retry-after"]) <= 60 for a in refused)
    by_replica = Counter(i % REPLICAS for i, a in enumerate(answers) if a.status_code == 200)
    assert sum(by_replica.values()) == LIMIT  # shared between the replicas, not 30 each


def test_a_token_correction_on_one_replica_is_seen_by_the_others(replicas: list[RunningGateway]):
    def call(gateway: RunningGateway) -> httpx.Response:
        return httpx.post(f"{gateway.base_url}/v1/chat/completions", timeout=15,
                          headers={"authorization": f"Bearer {TOKENS_KEY}"},
                          json={"model": "chat", "messages": HI, "max_tokens": 3})

    first = call(replicas[0])
    estimate = 10_000 - int(first.headers["x-ratelimit-remaining-tokens"])
    used = first.json()["usage"]["total_tokens"]
    assert used < estimate
    deadline = time.monotonic() + 5
    while True:  # the correction is sent in the background, right after the answer
        second = call(replicas[1])
        remaining = int(second.headers["x-ratelimit-remaining-tokens"])
        if remaining == 10_000 - used - estimate or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert remaining == 10_000 - used - estimate


@pytest.mark.parametrize(("on_store_error", "status"), [("open", 200), ("closed", 503)])
def test_an_unreachable_redis_fails_open_or_closed_as_configured(
    upstream: FakeUpstream, on_store_error: str, status: int,
):
    rules = [{"scope": "key", "requests_per_minute": 1}]
    config = gateway_config(upstream, [KEY], rules, redis_url=f"redis://127.0.0.1:{free_port()}/0",
                            on_store_error=on_store_error, redis_timeout_ms=200)
    with run_gateway(config, env=ENV) as gateway:
        answers = [httpx.post(f"{gateway.base_url}/v1/chat/completions", timeout=15,
                              headers={"authorization": f"Bearer {KEY}"},
                              json={"model": "chat", "messages": HI, "max_tokens": 3}) for _ in range(3)]
        metrics = httpx.get(f"{gateway.base_url}/metrics").text
    assert [a.status_code for a in answers] == [status] * 3  # a limit of 1 is not enforced when open
    if status == 503:
        assert answers[0].json()["error"]["code"] == "rate_limiter_unavailable"
        assert answers[0].headers["retry-after"] == "1"
    assert "tenantgate_ratelimit_store_errors 3.0" in metrics
    assert "x-ratelimit-limit-requests" not in answers[0].headers

"""Idempotency-Key end to end: two gateway replicas over one real database, real HTTP, credits on.

The bar: fifty concurrent copies of one request under one key reach the upstream once and are
charged once; every other copy gets the stored answer (or a 409 while the first is in flight,
and the stored answer when retried).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest
from idempotency_world import World

from tenantgate.testing import FakeUpstream, Fault
from tenantgate.testing.gateway_process import RunningGateway

CONCURRENT = 50
PROMPT = [{"role": "user", "content": "Say something idempotent."}]


def chat(model: str = "chat", **extra) -> dict:
    return {"model": model, "messages": PROMPT, "max_tokens": 8, **extra}


def headers(world: World, key: str | None, user: str = "alice") -> dict[str, str]:
    sent = {"authorization": f"Bearer {world.tokens[user]}"}
    if key is not None:
        sent["idempotency-key"] = key
    return sent


def upstream_calls(fake: FakeUpstream, path: str = "/chat/completions") -> int:
    return len([r for r in fake.received if r.path.endswith(path)])


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


def replayed(answer: httpx.Response) -> bool:
    return answer.headers.get("idempotent-replayed") == "true"


async def _flood(replicas: list[RunningGateway], world: World, key: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(*(
            client.post(f"{replicas[i % 2].base_url}/v1/chat/completions", json=chat("chat-slow"),
                        headers=headers(world, key))
            for i in range(CONCURRENT)
        ))


def test_50_concurrent_identical_requests_with_one_key_call_the_upstream_once_and_charge_once(
    replicas, world: World, fake: FakeUpstream,
):
    key = str(uuid.uuid4())
    answers = asyncio.run(_flood(replicas, world, key))
    statuses = Counter((a.status_code, replayed(a)) for a in answers)
    [first] = [a for a in answers if a.status_code == 200 and not replayed(a)]
    in_flight = [a for a in answers if a.status_code == 409]
    assert set(statuses) <= {(200, False), (200, True), (409, False)}, statuses
    assert in_flight, "the upstream answers after a second: some copies must arrive while it runs"
    assert {a.json()["error"]["code"] for a in in_flight} <= {"idempotency_key_in_progress"}
    assert {a.headers["retry-after"] for a in in_flight} <= {"1"}
    with httpx.Client(timeout=30) as client:
        retried = [client.post(f"{replicas[i % 2].base_url}/v1/chat/completions", json=chat("chat-slow"),
                               headers=headers(world, key)) for i in range(len(in_flight))]
    copies = [a for a in answers if replayed(a)] + retried
    assert len(copies) == CONCURRENT - 1
    assert all(a.status_code == 200 and replayed(a) and a.content == first.content for a in copies)
    assert {a.headers["x-tenantgate-cost"] for a in copies} == {first.headers["x-tenantgate-cost"]}
    assert upstream_calls(fake) == 1
    request_ids = {a.headers["x-request-id"] for a in [*answers, *retried]}
    eventually(lambda: _charged_once(world, request_ids))
    eventually(lambda: _nothing_pending(world))
    assert len(world.charges(request_ids)) == 1


def _charged_once(world: World, request_ids: set[str]) -> None:
    assert len(world.charges(request_ids)) == 1


def _nothing_pending(world: World) -> None:
    assert world.pending() == []


def test_the_same_key_with_a_different_body_is_refused_with_422(http, world: World, fake: FakeUpstream):
    key = str(uuid.uuid4())
    assert http.post("/v1/chat/completions", json=chat(), headers=headers(world, key)).status_code == 200
    other = http.post("/v1/chat/completions", json=chat(max_tokens=9), headers=headers(world, key))
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.json()["error"]["type"] == "invalid_request_error"
    reordered = {"max_tokens": 8, "messages": PROMPT, "model": "chat"}  # same object, other key order
    assert replayed(http.post("/v1/chat/completions", json=reordered, headers=headers(world, key)))
    assert upstream_calls(fake) == 1


def test_a_stream_is_replayed_as_the_identical_transcript(http, world: World, fake: FakeUpstream):
    key = str(uuid.uuid4())
    body = chat(stream=True, stream_options={"include_usage": True})
    first = http.post("/v1/chat/completions", json=body, headers=headers(world, key))
    again = http.post("/v1/chat/completions", json=body, headers=headers(world, key))
    assert first.status_code == again.status_code == 200
    assert first.text.endswith("data: [DONE]\n\n")
    assert again.content == first.content
    assert replayed(again)
    assert not replayed(first)
    assert again.headers["content-type"] == first.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert upstream_calls(fake) == 1


def test_an_interrupted_stream_is_not_kept_so_the_retry_runs_again(http, world: World, fake: FakeUpstream):
    key = str(uuid.uuid4())
    for _ in range(2):
        answer = http.post("/v1/chat/completions", json=chat("chat-cut", stream=True),
                           headers=headers(world, key))
        assert "upstream_stream_interrupted" in answer.text
        assert not replayed(answer)
    assert upstream_calls(fake) == 2


def test_an_upstream_failure_is_not_kept_so_the_retry_calls_the_upstream_again(
    http, world: World, fake: FakeUpstream,
):
    key = str(uuid.uuid4())
    fake.enqueue(Fault(kind="status", status=500))
    failed = http.post("/v1/chat/completions", json=chat(), headers=headers(world, key))
    assert failed.status_code >= 500
    retried = http.post("/v1/chat/completions", json=chat(), headers=headers(world, key))
    assert retried.status_code == 200
    assert not replayed(retried)
    assert upstream_calls(fake) == 2
    assert replayed(http.post("/v1/chat/completions", json=chat(), headers=headers(world, key)))


def test_a_client_error_is_kept_and_replayed(http, world: World, fake: FakeUpstream):
    key = str(uuid.uuid4())
    first = http.post("/v1/chat/completions", json=chat("no-such-model"), headers=headers(world, key))
    again = http.post("/v1/chat/completions", json=chat("no-such-model"), headers=headers(world, key))
    assert first.status_code == again.status_code == 404
    assert again.content == first.content
    assert replayed(again)
    assert again.json()["error"]["code"] == "model_not_found"


def test_two_principals_may_use_the_same_key_independently(http, world: World, fake: FakeUpstream):
    key = str(uuid.uuid4())
    alice = http.post("/v1/chat/completions", json=chat(), headers=headers(world, key, "alice"))
    bob = http.post("/v1/chat/completions", json=chat(max_tokens=5), headers=headers(world, key, "bob"))
    assert alice.status_code == bob.status_code == 200
    assert not replayed(alice)
    assert not replayed(bob)
    assert upstream_calls(fake) == 2
    assert replayed(http.post("/v1/chat/completions", json=chat(), headers=headers(world, key, "alice")))
    assert replayed(http.post("/v1/chat/completions", json=chat(max_tokens=5),
                              headers=headers(world, key, "bob")))


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/completions", {"model": "chat", "prompt": "Say something idempotent.", "max_tokens": 8}),
    ("/v1/embeddings", {"model": "embed", "input": ["one", "two"]}),
])
def test_every_inference_endpoint_replays(http, world: World, fake: FakeUpstream, path: str, body: dict):
    key = str(uuid.uuid4())
    first = http.post(path, json=body, headers=headers(world, key))
    again = http.post(path, json=body, headers=headers(world, key))
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert replayed(again)
    assert upstream_calls(fake, path.removeprefix("/v1")) == 1
    assert http.post("/v1/chat/completions", json=chat(), headers=headers(world, key)).status_code == 422


def test_requests_without_a_key_are_not_recorded(http, world: World, fake: FakeUpstream):
    for _ in range(2):
        answer = http.post("/v1/chat/completions", json=chat(), headers=headers(world, None))
        assert answer.status_code == 200
        assert not replayed(answer)
    assert upstream_calls(fake) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"], ids=["empty", "too-long", "not-ascii"])
def test_an_invalid_key_is_refused_with_400_before_anything_runs(http, world: World, fake: FakeUpstream,
                                                                 key: str):
    sent = {**headers(world, None), "idempotency-key": key.encode("utf-8")}
    answer = http.post("/v1/chat/completions", json=chat(), headers=sent)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "idempotency_key_invalid"
    assert upstream_calls(fake) == 0


@pytest.fixture(scope="module")
def http(replicas: list[RunningGateway]):
    with httpx.Client(base_url=replicas[0].base_url, timeout=30) as client:
        yield client

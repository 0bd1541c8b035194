"""Upstream faults seen through a real gateway: fail over before the first byte, end honestly after.

Each flavour has a public model whose first deployment is a *primary* of that flavour (with
small timeouts) and whose second is a healthy OpenAI deployment. Faults are queued on the
fake for the primary's upstream model only, so the secondary always answers. Stalls last at
most 1.5 s against 0.5 s timeouts: an answer within 1.4 s proves the timeout fired.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import openai
import pytest
from gateway_harness import (
    FLAVOUR_IDS,
    FLAVOURS,
    HI,
    REPLY,
    Flavour,
    OciIdentity,
    assert_error_event,
    assert_openai_error,
    assert_schema,
    deployment,
    gateway_config,
    metric_value,
    sse_payloads,
    start_gateway,
)
from openai.types.chat import ChatCompletionMessageParam

from tenantgate.testing import FakeUpstream, Fault
from tenantgate.testing.gateway_process import RunningGateway

SECONDARY = "gpt-4o-mini"
STALL_S = 1.5
BOUND_S = 1.4
SMALL_TIMEOUTS = {"first_byte_timeout_ms": 500, "idle_timeout_ms": 500, "total_timeout_ms": 5000}
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi there"}]
OPENAI = FLAVOURS[0]
# These tests look at one request's failover at a time, so what one request teaches the next
# (breakers, 429 cooldowns, the retry budget) is off here; tests/api/test_routing_faults.py covers it.
ONE_REQUEST_AT_A_TIME = {
    "breaker": {"enabled": False},
    "retry": {"rate_limit_cooldown_max_s": 0, "budget_burst": 10_000},
}
by_flavour = pytest.mark.parametrize("flavour", FLAVOURS, ids=FLAVOUR_IDS)
streaming = pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])


def primary(flavour: Flavour) -> str:
    """The upstream model name of a flavour's faulty primary deployment."""
    return f"primary-{flavour.name}"


def _failover_models(fake: FakeUpstream, identity: OciIdentity) -> list[dict[str, Any]]:
    healthy = deployment("openai", fake, identity, SECONDARY)
    models = [
        {
            "name": f"failover-{flavour.name}",
            "deployments": [
                deployment(flavour.name, fake, identity, primary(flavour), timeouts=SMALL_TIMEOUTS),
                healthy,
            ],
        }
        for flavour in FLAVOURS
    ]
    only = deployment("openai", fake, identity, "primary-only", timeouts=SMALL_TIMEOUTS)
    models.append({"name": "only", "deployments": [only]})  # nothing to fail over to
    return models


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, oci_identity: OciIdentity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    config = gateway_config(_failover_models(upstream, oci_identity), routing=ONE_REQUEST_AT_A_TIME)
    with start_gateway(config, tmp_path_factory.mktemp("gateway")) as running:
        yield running


def _chat(http: httpx.Client, model: str, **body: Any) -> httpx.Response:
    return http.post("/v1/chat/completions", json={"model": model, "messages": HI, **body})


def _content(payloads: list[str]) -> str:
    chunks = [json.loads(p) for p in payloads if p != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def _assert_complete(response: httpx.Response, stream: bool) -> None:
    assert response.status_code == 200, response.text
    if not stream:
        assert response.json()["choices"][0]["message"]["content"] == REPLY
        return
    payloads = sse_payloads(response.text)
    assert payloads.count("[DONE]") == 1
    assert payloads[-1] == "[DONE]"
    assert _content(payloads) == REPLY


def _assert_failed_over(fake: FakeUpstream, flavour: Flavour, kind: str) -> None:
    """The fake recorded the faulted attempt on the primary, then one healthy attempt."""
    seen = [(r.model, r.fault) for r in fake.received]
    assert seen == [(primary(flavour), kind), (SECONDARY, None)]


# Before the first byte: fail over ------------------------------------------------------------

PRE_BODY_FAULTS = {
    "429-retry-after": Fault(kind="rate_limit", retry_after_s=1.0),
    "429": Fault(kind="rate_limit"),
    "500": Fault(kind="status", status=500),
    "503": Fault(kind="status", status=503),
    "reset": Fault(kind="reset_before_headers"),
    "stall-before-headers": Fault(kind="stall_before_headers", seconds=STALL_S),
    "slow-first-token": Fault(kind="slow_first_token", seconds=STALL_S),
}


@streaming
@pytest.mark.parametrize("fault", PRE_BODY_FAULTS.values(), ids=PRE_BODY_FAULTS.keys())
def test_fault_before_the_first_byte_fails_over_to_the_secondary(
    http: httpx.Client, fake: FakeUpstream, fault: Fault, stream: bool
) -> None:
    fake.enqueue(msgspec.structs.replace(fault, model=primary(OPENAI)))
    started = time.monotonic()
    _assert_complete(_chat(http, "failover-openai", stream=stream), stream)
    assert time.monotonic() - started < BOUND_S
    _assert_failed_over(fake, OPENAI, fault.kind)


@by_flavour
@streaming
@pytest.mark.parametrize("status", [429, 500, 503])
def test_every_flavours_errors_fail_over(
    http: httpx.Client, fake: FakeUpstream, flavour: Flavour, stream: bool, status: int
) -> None:
    kind = "rate_limit" if status == 429 else "status"
    fake.enqueue(Fault(kind=kind, status=status, model=primary(flavour)))
    _assert_complete(_chat(http, f"failover-{flavour.name}", stream=stream), stream)
    _assert_failed_over(fake, flavour, kind)


@pytest.mark.parametrize("kind", ["cut_stream_after", "malformed_chunk"])
def test_stream_broken_before_its_first_chunk_fails_over(
    http: httpx.Client, fake: FakeUpstream, kind: Any
) -> None:
    fake.enqueue(Fault(kind=kind, after_chunks=0, model=primary(OPENAI)))
    _assert_complete(_chat(http, "failover-openai", stream=True), stream=True)
    _assert_failed_over(fake, OPENAI, kind)


def test_failed_attempts_are_counted_by_provider_and_code(
    http: httpx.Client, fake: FakeUpstream
) -> None:
    labels = {"provider": "azure_openai", "code": "upstream_unavailable"}
    before = metric_value(http.get("/metrics").text, "tenantgate_upstream_errors_total", labels)
    fake.enqueue(Fault(kind="status", status=503, model=primary(FLAVOURS[1])))
    _assert_complete(_chat(http, "failover-azure"), stream=False)
    after = metric_value(http.get("/metrics").text, "tenantgate_upstream_errors_total", labels)
    assert after == before + 1


# After the first chunk: an error event, never a clean end ------------------------------------

MID_STREAM_FAULTS = {
    "cut": Fault(kind="cut_stream_after", after_chunks=2),
    "malformed": Fault(kind="malformed_chunk", after_chunks=2),
    "stall": Fault(kind="stall_after_chunks", after_chunks=2, seconds=STALL_S),
}


@by_flavour
@pytest.mark.parametrize("fault", MID_STREAM_FAULTS.values(), ids=MID_STREAM_FAULTS.keys())
def test_fault_after_the_first_chunk_ends_with_an_error_event_and_no_done(
    http: httpx.Client, fake: FakeUpstream, openapi: dict[str, Any], flavour: Flavour, fault: Fault
) -> None:
    fake.enqueue(msgspec.structs.replace(fault, model=primary(flavour)))
    started = time.monotonic()
    response = _chat(http, f"failover-{flavour.name}", stream=True)
    assert time.monotonic() - started < BOUND_S
    assert response.status_code == 200
    payloads = sse_payloads(response.text)
    assert "[DONE]" not in payloads
    error = assert_error_event(payloads[-1])
    assert (error["code"], error["type"]) == ("upstream_stream_interrupted", "server_error")
    assert_schema(openapi, "ErrorResponse", json.loads(payloads[-1]))
    for chunk in payloads[:-1]:
        assert_schema(openapi, "CreateChatCompletionStreamResponse", json.loads(chunk))
    assert [r.model for r in fake.received] == [primary(flavour)]  # no failover once started


@by_flavour
def test_sdk_raises_when_the_stream_breaks_mid_answer(
    client: openai.OpenAI, fake: FakeUpstream, flavour: Flavour
) -> None:
    fake.enqueue(Fault(kind="cut_stream_after", after_chunks=3, model=primary(flavour)))
    received: list[str] = []
    stream = client.chat.completions.create(
        model=f"failover-{flavour.name}", messages=MESSAGES, stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        received.extend(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "interrupted" in caught.value.message
    assert "".join(received) != REPLY


# Missing usage or end marker -------------------------------------------------------------------


@by_flavour
def test_missing_usage_is_estimated_when_the_client_asked_for_it(
    http: httpx.Client, fake: FakeUpstream, flavour: Flavour
) -> None:
    fake.enqueue(*[Fault(kind="missing_usage", model=primary(flavour))] * 2)
    model = f"failover-{flavour.name}"
    asked = sse_payloads(
        _chat(http, model, stream=True, stream_options={"include_usage": True}).text
    )
    assert asked[-1] == "[DONE]"
    chunks = [json.loads(p) for p in asked[:-1]]
    usage_chunks = [c for c in chunks if c.get("usage")]
    assert usage_chunks == [chunks[-1]]
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert _content(asked) == REPLY
    not_asked = sse_payloads(_chat(http, model, stream=True).text)
    assert not_asked[-1] == "[DONE]"
    assert all(json.loads(p)["choices"] for p in not_asked[:-1])
    assert [r.fault for r in fake.received] == ["missing_usage"] * 2


@by_flavour
def test_missing_end_marker_still_ends_a_finished_answer_cleanly(
    http: httpx.Client, fake: FakeUpstream, flavour: Flavour
) -> None:
    """No ``[DONE]`` (OCI native: no finish event) after a whole answer and its usage is fine."""
    fake.enqueue(Fault(kind="missing_done", model=primary(flavour)))
    payloads = sse_payloads(_chat(http, f"failover-{flavour.name}", stream=True).text)
    assert payloads[-1] == "[DONE]"
    assert payloads.count("[DONE]") == 1
    assert _content(payloads) == REPLY
    assert [r.fault for r in fake.received] == ["missing_done"]


# Timeouts and rate limits without a second deployment -----------------------------------------


@streaming
@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="stall_before_headers", seconds=STALL_S),
        Fault(kind="slow_first_token", seconds=STALL_S),
    ],
    ids=["stall-before-headers", "slow-first-token"],
)
def test_stall_past_the_timeout_is_a_504_in_bounded_time(
    http: httpx.Client, fake: FakeUpstream, openapi: dict[str, Any], fault: Fault, stream: bool
) -> None:
    fake.enqueue(msgspec.structs.replace(fault, model="primary-only"))
    started = time.monotonic()
    response = _chat(http, "only", stream=stream)
    assert time.monotonic() - started < BOUND_S
    error = assert_openai_error(response, 504, "upstream_timeout")
    assert error["type"] == "server_error"
    assert_schema(openapi, "ErrorResponse", response.json())


@pytest.mark.parametrize(("retry_after_s", "header"), [(2.5, "3"), (1.0, "1"), (None, None)])
@streaming
def test_rate_limited_only_deployment_is_a_429_with_the_retry_hint(
    http: httpx.Client,
    fake: FakeUpstream,
    retry_after_s: float | None,
    header: str | None,
    stream: bool,
) -> None:
    fake.enqueue(Fault(kind="rate_limit", retry_after_s=retry_after_s, model="primary-only"))
    response = _chat(http, "only", stream=stream)
    error = assert_openai_error(response, 429, "upstream_rate_limited")
    assert error["type"] == "rate_limit_error"
    # Never earlier than the upstream asked: its Retry-After is rounded up, not to nearest.
    assert response.headers.get("retry-after") == header
    assert [r.fault for r in fake.received] == ["rate_limit"]


def test_sdk_sees_a_rate_limit_error(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.enqueue(Fault(kind="rate_limit", retry_after_s=1.0, model="primary-only"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="only", messages=MESSAGES)
    assert caught.value.code == "upstream_rate_limited"
    assert caught.value.response.headers["retry-after"] == "1"

"""Routing end to end: faults on several deployments, residency, fallbacks, weights, latency.

Through a real gateway process and the real ``openai`` SDK (its own retries off), every
fault ends in either a complete answer from a healthy deployment or an explicit OpenAI
error (an error event once the stream has started), and never in more upstream attempts
than the budget allows. Each fault case has a model of its own, so breakers of one case
never decide another.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest
from gateway_harness import UPSTREAM_KEY, gateway_config, metric_value, start_gateway, token_clients
from routing_tenancy import ATTEMPTS_MAX, MATRIX_CASES, REPLY, ROUTING, catalog, seed

from tenantgate.testing import FakeUpstream, Fault
from tenantgate.testing.gateway_process import RunningGateway

HI = [{"role": "user", "content": "hi there"}]


@pytest.fixture(scope="module")
def us_upstream() -> Iterator[FakeUpstream]:
    """A second fake upstream: the only one serving a non-eu deployment (``geo-us``)."""
    with FakeUpstream(api_keys=[UPSTREAM_KEY]) as fake:
        yield fake


@pytest.fixture
def us_fake(us_upstream: FakeUpstream) -> FakeUpstream:
    us_upstream.reset()
    return us_upstream


@pytest.fixture(scope="module")
def world(
    upstream: FakeUpstream, us_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("routing")
    url = f"sqlite+aiosqlite:///{workdir / 'routing.db'}"
    tokens = asyncio.run(seed(url))
    config = gateway_config(catalog(upstream, us_upstream), routing=ROUTING, storage={"url": url},
                            logging={"level": "INFO", "access_log": False})
    with start_gateway(config, workdir) as running:
        yield running, tokens


@pytest.fixture(scope="module")
def gateway(world: tuple[RunningGateway, dict[str, str]]) -> RunningGateway:
    return world[0]


@pytest.fixture(scope="module")
def sdk(world: tuple[RunningGateway, dict[str, str]]) -> Iterator[Callable[[str], openai.OpenAI]]:
    running, tokens = world
    clients = {name: openai.OpenAI(base_url=running.openai_base_url, api_key=token, max_retries=0, timeout=10)
               for name, token in tokens.items()}
    yield clients.__getitem__
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def raw(world: tuple[RunningGateway, dict[str, str]]) -> Iterator[Callable[[str], httpx.Client]]:
    running, tokens = world
    with token_clients(running.base_url, tokens) as client:
        yield client


def _ask(client: openai.OpenAI, model: str, stream: bool) -> str:
    """The whole answer's text; raises the SDK's error when the gateway reports one."""
    if not stream:
        reply = client.chat.completions.create(model=model, messages=HI)  # type: ignore[arg-type]
        assert reply.choices[0].finish_reason == "stop"
        return reply.choices[0].message.content or ""
    text, finished = [], False
    for chunk in client.chat.completions.create(model=model, messages=HI, stream=True):  # type: ignore[arg-type]
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            finished = finished or choice.finish_reason == "stop"
    assert finished, "a stream that ended like a normal one must carry its finish_reason"
    return "".join(text)


# The fault matrix ----------------------------------------------------------------------------

MATRIX: dict[str, tuple[list[Fault], str]] = {
    # case: (faults queued on the primary, expected outcome: "answer" | "stream-error" | "error")
    "429-retry-after": ([Fault(kind="rate_limit", retry_after_s=1.0)], "answer"),
    "429": ([Fault(kind="rate_limit")], "answer"),
    "500-once": ([Fault(kind="status", status=500)], "answer"),
    "503-persistent": ([Fault(kind="status", status=503, times=1000)], "answer"),
    "reset": ([Fault(kind="reset_before_headers")], "answer"),
    "no-response": ([Fault(kind="stall_before_headers", seconds=1.5)], "answer"),
    "slow-first-token": ([Fault(kind="slow_first_token", seconds=1.5)], "answer"),
    "cut": ([Fault(kind="cut_stream_after", after_chunks=2)], "stream-error"),
    "stall-mid": ([Fault(kind="stall_after_chunks", after_chunks=2, seconds=1.5)], "stream-error"),
    "all-down": ([Fault(kind="status", status=503, times=1000)], "error"),
}
assert set(MATRIX) | {"flapping"} == set(MATRIX_CASES)


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("case", MATRIX, ids=MATRIX.keys())
def test_every_fault_ends_in_a_complete_answer_or_an_explicit_error_within_the_attempt_budget(
    fake: FakeUpstream, sdk: Callable[[str], openai.OpenAI], case: str, stream: bool
) -> None:
    faults, expected = MATRIX[case]
    fake.enqueue(*[Fault(**{**_fields(f), "model": f"primary-{case}"}) for f in faults])
    if case == "all-down":
        fake.enqueue(Fault(kind="status", status=503, times=1000, model=f"secondary-{case}"))
    if expected == "stream-error" and not stream:
        expected = "answer"  # stream-only faults pass unary requests by
    started = time.monotonic()
    if expected == "answer":
        assert _ask(sdk("finance"), f"matrix-{case}", stream) == REPLY
    elif expected == "stream-error":
        with pytest.raises(openai.APIError, match="interrupted"):
            _ask(sdk("finance"), f"matrix-{case}", stream)
    else:
        with pytest.raises(openai.APIStatusError) as caught:
            _ask(sdk("finance"), f"matrix-{case}", stream)
        assert caught.value.status_code == 503
        assert caught.value.code in ("upstream_unavailable", "no_deployment_available")
    assert time.monotonic() - started < 3.0
    assert 1 <= len(fake.received) <= ATTEMPTS_MAX


def _fields(fault: Fault) -> dict[str, object]:
    return {name: getattr(fault, name) for name in fault.__struct_fields__}


def test_a_flapping_primary_never_costs_the_client_an_answer(
    fake: FakeUpstream, sdk: Callable[[str], openai.OpenAI]
) -> None:
    for i in range(12):
        fake.reset()
        if i % 2 == 0:
            fake.enqueue(Fault(kind="status", status=503, model="primary-flapping"))
        assert _ask(sdk("finance"), "matrix-flapping", stream=i % 4 < 2) == REPLY
        assert len(fake.received) <= 2


def test_attempts_share_the_request_id_and_carry_their_own_attempt_ids(
    fake: FakeUpstream, raw: Callable[[str], httpx.Client], gateway: RunningGateway
) -> None:
    fake.enqueue(Fault(kind="status", status=500, model="primary-500-once"))
    response = raw("finance").post("/v1/chat/completions", json={"model": "matrix-500-once", "messages": HI})
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in gateway.logs().splitlines()
                 if line.startswith("{") and request_id in line]
        attempts = {(line.get("msg"), line.get("attempt_id")) for line in lines}
        if ("upstream attempt answered", f"{request_id}-a2") in attempts:
            break
        time.sleep(0.05)
    assert ("upstream attempt failed", f"{request_id}-a1") in attempts, lines
    assert ("upstream attempt answered", f"{request_id}-a2") in attempts, lines


# Retry-After ---------------------------------------------------------------------------------


def test_a_retry_after_of_two_seconds_is_waited_out_then_the_same_deployment_answers(
    fake: FakeUpstream, sdk: Callable[[str], openai.OpenAI]
) -> None:
    fake.enqueue(Fault(kind="rate_limit", retry_after_s=2.0, model="solo-up"))
    started = time.monotonic()
    assert _ask(sdk("finance"), "solo", stream=False) == REPLY
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 3.5
    first, second = fake.received
    assert second.arrived_at - first.arrived_at >= 1.95


def test_a_retry_after_beyond_the_configured_maximum_is_handed_to_the_client_at_once(
    fake: FakeUpstream, sdk: Callable[[str], openai.OpenAI]
) -> None:
    fake.enqueue(Fault(kind="rate_limit", retry_after_s=5.0, model="solo-up"))
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as caught:
        _ask(sdk("finance"), "solo", stream=False)
    assert time.monotonic() - started < 1.0
    assert caught.value.response.headers["retry-after"] == "5"
    assert len(fake.received) == 1


# Residency and fallbacks ---------------------------------------------------------------------


GEO = {"model": "geo", "messages": HI}


def _take_eu_down(fake: FakeUpstream, client: httpx.Client) -> list[httpx.Response]:
    """Every eu deployment of ``geo`` answers 503 from now on; pinned requests until their breakers open."""
    for model in ("geo-eu1", "geo-eu2"):
        fake.enqueue(Fault(kind="status", status=503, times=1000, model=model))
    responses = []
    for _ in range(8):
        responses.append(client.post("/v1/chat/completions", json=GEO))
        if responses[-1].json()["error"]["code"] == "residency_unavailable":
            break
    return responses


def test_a_pinned_compartment_never_leaves_its_residency_even_with_every_eu_deployment_down(
    fake: FakeUpstream, us_fake: FakeUpstream, raw: Callable[[str], httpx.Client]
) -> None:
    healthy = raw("eu").post("/v1/chat/completions", json=GEO)
    assert healthy.status_code == 200
    assert [r.model for r in fake.received] == ["geo-eu1"]
    fake.reset()
    responses = _take_eu_down(fake, raw("eu"))
    assert all(response.status_code == 503 for response in responses), [r.text for r in responses]
    codes = [response.json()["error"]["code"] for response in responses]
    assert codes[-1] == "residency_unavailable"
    assert "eu" in responses[-1].json()["error"]["message"]
    assert 1 <= int(responses[-1].headers["retry-after"]) <= 60  # when the first breaker probes again
    assert set(codes) <= {"upstream_unavailable", "residency_unavailable"}
    assert us_fake.received == []  # not one request reached the non-eu fake
    assert len(fake.received) <= ATTEMPTS_MAX * len(responses)
    unpinned = raw("finance").post("/v1/chat/completions", json=GEO)
    assert unpinned.status_code == 200
    assert [r.model for r in us_fake.received] == ["geo-us"]


def test_breaker_states_and_routing_data_are_visible_in_metrics_and_the_admin_api(
    fake: FakeUpstream, raw: Callable[[str], httpx.Client],
) -> None:
    _take_eu_down(fake, raw("eu"))
    assert raw("finance").post("/v1/chat/completions", json=GEO).status_code == 200  # geo-us measured
    metrics = raw("admin").get("/metrics").text
    labels = {"model": "geo", "deployment": "openai:geo-eu1#1"}
    assert metric_value(metrics, "tenantgate_deployment_breaker_state", labels) == 2
    assert metric_value(metrics, "tenantgate_deployment_breaker_state",
                        {"model": "geo", "deployment": "openai:geo-us#0"}) == 0
    assert "tenantgate_deployment_inflight{" in metrics
    assert "tenantgate_deployment_ttft_ewma_seconds{" in metrics
    listed = raw("admin").get("/admin/v1/deployments")
    assert listed.status_code == 200, listed.text
    rows = {(row["model"], row["deployment"]): row for row in listed.json()["data"]}
    eu2 = rows[("geo", "openai:geo-eu2#2")]
    assert (eu2["region"], eu2["cloud"], eu2["residency"]) == ("westeurope", "azure", ["eu", "sovereign"])
    assert (eu2["capacity_class"], eu2["throughput_tokens_per_min"]) == ("dedicated", 200_000)
    assert eu2["breaker"] == "open"
    assert rows[("geo", "openai:geo-us#0")]["breaker"] == "closed"
    assert isinstance(rows[("geo", "openai:geo-us#0")]["ewma_ttft_ms"], float)
    refused = raw("dave").get("/admin/v1/deployments")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"


def test_a_model_fallback_answers_when_allowed_and_not_where_the_compartment_forbids_it(
    fake: FakeUpstream, raw: Callable[[str], httpx.Client]
) -> None:
    body = {"model": "fb-primary", "messages": HI}
    fake.enqueue(Fault(kind="status", status=503, model="fb-a"))
    allowed = raw("finance").post("/v1/chat/completions", json=body)
    assert allowed.status_code == 200, allowed.text
    assert [r.model for r in fake.received] == ["fb-a", "fb-b"]
    fake.reset()
    fake.enqueue(Fault(kind="status", status=503, model="fb-a"))
    forbidden = raw("strict").post("/v1/chat/completions", json=body)
    assert forbidden.status_code == 503
    assert forbidden.json()["error"]["code"] == "upstream_unavailable"
    assert [r.model for r in fake.received] == ["fb-a"]


# Strategies end to end -----------------------------------------------------------------------


def test_weighted_routing_follows_its_weights(fake: FakeUpstream, raw: Callable[[str], httpx.Client]) -> None:
    client = raw("finance")
    for _ in range(400):
        assert client.post("/v1/chat/completions", json={"model": "weighted", "messages": HI}).status_code == 200
    share = Counter(r.model for r in fake.received)["w-a"] / 400
    assert abs(share - 0.75) < 0.07, share


def _send_until(client: httpx.Client, fake: FakeUpstream, done: Callable[[list[str]], bool], limit_s: float) -> float:
    """Send requests to ``fastest`` until ``done(last 20 destinations)``; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        assert client.post("/v1/chat/completions", json={"model": "fastest", "messages": HI}).status_code == 200
        destinations = [r.model or "" for r in fake.received][-20:]
        if len(destinations) == 20 and done(destinations):
            return time.monotonic() - started
    raise AssertionError(f"not reached in {limit_s} s: {Counter(r.model for r in fake.received[-20:])}")


def test_least_latency_moves_away_from_a_deployment_that_slows_down_and_back_when_it_recovers(
    fake: FakeUpstream, raw: Callable[[str], httpx.Client]
) -> None:
    client = raw("finance")
    _send_until(client, fake, lambda last: last.count("l-a") >= 15, limit_s=3)
    fake.reset()
    fake.enqueue(Fault(kind="slow_first_token", seconds=0.25, model="l-a", times=100_000))
    _send_until(client, fake, lambda last: last.count("l-b") >= 17, limit_s=5)
    fake.reset()  # l-a is fast again
    _send_until(client, fake, lambda last: last.count("l-a") >= 15, limit_s=5)


def test_routing_settings_are_rejected_when_a_fallback_is_unknown(tmp_path: Path, fake: FakeUpstream) -> None:
    from tenantgate.runtime import Gateway
    from tenantgate.settings import SettingsError, load_settings

    settings = load_settings(None, local={"enabled": False}, storage={"url": f"sqlite+aiosqlite:///{tmp_path}/x.db"},
                             models=[{"name": "a", "routing": {"fallbacks": ["ghost"]},
                                      "deployments": [{"provider": "openai", "model": "x",
                                                       "base_url": fake.openai_base_url}]}])
    with pytest.raises(SettingsError, match="ghost"):
        Gateway(settings)

"""A client that hangs up mid-request makes the gateway abandon the upstream request at once.

The upstream stalls for 2 s; the gateway must notice the disconnect and let go well before
the stall ends (its in-flight stream gauge back to 0, the request logged as 499) instead of
waiting for an answer nobody will read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from gateway_harness import HI, OciIdentity, deployment, gateway_config, metric_value, start_gateway

from tenantgate.testing import FakeUpstream, Fault
from tenantgate.testing.gateway_process import RunningGateway

UPSTREAM_MODEL = "primary-slow"
STALL_S = 2.0
LET_GO_S = 1.0  # well inside the stall: letting go by then means the gateway cancelled
INFLIGHT = "tenantgate_inflight_streams"
REQUESTS = "tenantgate_requests_total"
DISCONNECTED = {"route": "chat.completions", "status": "499"}


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, oci_identity: OciIdentity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    slow = deployment("openai", upstream, oci_identity, UPSTREAM_MODEL)
    config = gateway_config([{"name": "slow", "deployments": [slow]}])
    with start_gateway(config, tmp_path_factory.mktemp("gateway")) as running:
        yield running


def _metric(http: httpx.Client, name: str, labels: dict[str, str] | None = None) -> float:
    return metric_value(http.get("/metrics").text, name, labels)


def _wait_for(
    http: httpx.Client, name: str, value: float, labels: dict[str, str] | None = None
) -> None:
    """Poll the metric until it equals ``value``, for at most ``LET_GO_S`` after the hang-up."""
    started = time.monotonic()
    while time.monotonic() - started < LET_GO_S:
        if _metric(http, name, labels) == value:
            return
        time.sleep(0.02)
    raise AssertionError(f"{name}{labels or ''} != {value} after {LET_GO_S}s")


def test_disconnect_mid_stream_releases_the_stream_before_the_upstream_resumes(
    http: httpx.Client, fake: FakeUpstream, gateway: RunningGateway
) -> None:
    fake.enqueue(
        Fault(kind="stall_after_chunks", after_chunks=2, seconds=STALL_S, model=UPSTREAM_MODEL)
    )
    hung_up_before = _metric(http, REQUESTS, DISCONNECTED)
    body = {"model": "slow", "messages": HI, "stream": True}
    with (
        httpx.Client(base_url=gateway.base_url, timeout=5) as caller,
        caller.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()
        first = next(line for line in lines if line)
        assert first.startswith("data: {")
        assert _metric(http, INFLIGHT) == 1
    _wait_for(http, INFLIGHT, 0)
    _wait_for(http, REQUESTS, hung_up_before + 1, DISCONNECTED)
    assert [(r.model, r.stream, r.fault) for r in fake.received] == [
        (UPSTREAM_MODEL, True, "stall_after_chunks")
    ]


def test_disconnect_while_waiting_for_the_first_byte_is_logged_as_499(
    http: httpx.Client, fake: FakeUpstream, gateway: RunningGateway
) -> None:
    fake.enqueue(Fault(kind="stall_before_headers", seconds=STALL_S, model=UPSTREAM_MODEL))
    hung_up_before = _metric(http, REQUESTS, DISCONNECTED)
    with (
        httpx.Client(base_url=gateway.base_url, timeout=0.3) as caller,
        pytest.raises(httpx.ReadTimeout),
    ):
        caller.post("/v1/chat/completions", json={"model": "slow", "messages": HI})
    _wait_for(http, REQUESTS, hung_up_before + 1, DISCONNECTED)
    assert _metric(http, INFLIGHT) == 0
    assert [r.fault for r in fake.received] == ["stall_before_headers"]

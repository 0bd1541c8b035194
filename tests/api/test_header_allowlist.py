"""Headers cross the gateway only by allowlist: none of the client's reach an upstream, and the
client sees the gateway's own response headers, never the upstream's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_harness import UPSTREAM_KEY, OciIdentity, deployment, gateway_config, start_gateway

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway

CLIENT_HEADERS = {
    "authorization": "Bearer tg-client-key-never-forwarded",
    "cookie": "session=client-cookie",
    "x-forwarded-host": "evil.example",
    "openai-organization": "org-client",
    "x-custom-header": "client-value",
    "host-override": "169.254.169.254",
}
GATEWAY_RESPONSE_HEADERS = {"content-type", "content-length", "x-request-id", "date", "server",
                            "connection", "keep-alive", "transfer-encoding", "cache-control"}


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, oci_identity: OciIdentity,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    models = [{"name": "chat", "deployments": [deployment("openai", upstream, oci_identity,
                                                          "gpt-4o-mini")]}]
    with start_gateway(gateway_config(models), Path(tmp_path_factory.mktemp("hdr"))) as running:
        yield running


@pytest.mark.parametrize("stream", [False, True])
def test_no_client_header_reaches_the_upstream(http: httpx.Client, fake: FakeUpstream,
                                               stream: bool) -> None:
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    answer = http.post("/v1/chat/completions", json=body, headers=CLIENT_HEADERS)
    assert answer.status_code == 200
    [seen] = fake.received
    assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    for name, value in CLIENT_HEADERS.items():
        assert value not in seen.headers.values(), f"client header {name} reached the upstream"
    assert "cookie" not in seen.headers
    assert seen.headers["host"].startswith("127.0.0.1:")


def test_the_client_sees_only_the_gateways_response_headers(http: httpx.Client,
                                                             fake: FakeUpstream) -> None:
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    answer = http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200
    assert set(answer.headers) <= GATEWAY_RESPONSE_HEADERS
    assert "aiohttp" not in answer.headers.get("server", "").lower()

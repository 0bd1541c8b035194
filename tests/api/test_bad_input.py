"""Bad requests get OpenAI-shaped 4xx answers (never a 500), and the operational endpoints work.

Raw HTTP against a real gateway, so malformed bytes, odd headers and wrong methods reach it
exactly as sent; a second gateway requires API keys. Nothing invalid reaches the upstream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from gateway_harness import (
    HI,
    REPLY,
    OciIdentity,
    assert_openai_error,
    deployment,
    gateway_config,
    metric_value,
    start_gateway,
)

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway

CLIENT_KEY = "sk-client-e2e"
TEN_MB = 10 * 1024 * 1024
CHAT = "/v1/chat/completions"
INVALID_TYPE, INVALID_VALUE, MISSING = "invalid_type", "invalid_value", "missing_required_parameter"


def _catalog(fake: FakeUpstream, identity: OciIdentity) -> list[dict[str, Any]]:
    return [
        {"name": "chat", "deployments": [deployment("openai", fake, identity, "gpt-4o-mini")]},
        {
            "name": "embed",
            "deployments": [deployment("openai", fake, identity, "text-embedding-3-small")],
        },
    ]


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, oci_identity: OciIdentity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    config = gateway_config(_catalog(upstream, oci_identity))
    with start_gateway(config, tmp_path_factory.mktemp("gateway")) as running:
        yield running


@pytest.fixture(scope="module")
def guarded(
    upstream: FakeUpstream, oci_identity: OciIdentity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """Raw HTTP to a second gateway that only serves callers presenting ``CLIENT_KEY``."""
    digest = hashlib.sha256(CLIENT_KEY.encode()).hexdigest()
    auth = {"required": True, "api_key_sha256": [digest]}
    config = gateway_config(_catalog(upstream, oci_identity), auth=auth)
    with (
        start_gateway(config, tmp_path_factory.mktemp("guarded")) as running,
        httpx.Client(base_url=running.base_url, timeout=10) as client,
    ):
        yield client


def _assert_client_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code != 500, response.text
    return assert_openai_error(response, status, code)


# Bodies ------------------------------------------------------------------------------------

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'"just a string"', "invalid_json"),
        (b"null", "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
    ],
    ids=["malformed", "empty", "array", "string", "null", "not-utf8"],
)
def test_bodies_that_are_not_a_json_object_are_invalid_json(
    http: httpx.Client, fake: FakeUpstream, content: bytes, code: str
) -> None:
    response = http.post(CHAT, content=content, headers=JSON)
    _assert_client_error(response, 400, code)
    assert fake.received == []


@pytest.mark.parametrize(
    ("path", "body", "code", "param"),
    [
        (CHAT, {"model": "chat", "messages": "hi"}, INVALID_TYPE, "messages"),
        (CHAT, {"model": "chat", "messages": HI, "temperature": "hot"}, INVALID_TYPE, "temperature"),
        (CHAT, {"model": 7, "messages": HI}, INVALID_TYPE, "model"),
        (CHAT, {"messages": HI}, MISSING, "model"),
        (CHAT, {"model": "chat"}, MISSING, "messages"),
        (CHAT, {"model": "chat", "messages": [{"content": "x"}]}, MISSING, "messages[0].role"),
        (CHAT, {"model": "chat", "messages": HI, "temperature": 9}, INVALID_VALUE, "temperature"),
        (CHAT, {"model": "chat", "messages": HI, "stream_options": {}}, INVALID_VALUE, "stream_options"),
        ("/v1/embeddings", {"model": "embed"}, MISSING, "input"),
        ("/v1/completions", {"model": "chat"}, MISSING, "prompt"),
    ],
)
def test_wrong_types_and_missing_fields_name_the_parameter(
    http: httpx.Client, fake: FakeUpstream, path: str, body: Any, code: str, param: str
) -> None:
    error = _assert_client_error(http.post(path, json=body), 400, code)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert param in error["message"]
    assert fake.received == []


@pytest.mark.parametrize("path", [CHAT, "/v1/completions", "/v1/embeddings"])
def test_unknown_model_is_404_model_not_found_on_every_endpoint(
    http: httpx.Client, fake: FakeUpstream, path: str
) -> None:
    body = {"model": "no-such-model", "messages": HI, "prompt": "x", "input": "x"}
    error = _assert_client_error(http.post(path, json=body), 404, "model_not_found")
    assert "no-such-model" in error["message"]
    assert fake.received == []


def test_ten_megabyte_body_is_413_whether_declared_or_chunked(
    http: httpx.Client, fake: FakeUpstream
) -> None:
    padding = "x" * TEN_MB
    declared = http.post(CHAT, json={"model": "chat", "messages": HI, "padding": padding})
    _assert_client_error(declared, 413, "request_too_large")

    def pieces() -> Iterator[bytes]:
        yield b'{"model": "chat", "padding": "'
        for _ in range(10):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    chunked = http.post(CHAT, content=pieces(), headers=JSON)
    _assert_client_error(chunked, 413, "request_too_large")
    assert fake.received == []
    # The unread rest of the body spoils the connection; the client must be told to drop it,
    # else its next request on the kept-alive connection fails.
    assert (declared.headers["connection"], chunked.headers["connection"]) == ("close", "close")
    after = http.post(CHAT, json={"model": "chat", "messages": HI})
    assert after.json()["choices"][0]["message"]["content"] == REPLY


def test_multipart_is_415_but_mislabelled_json_is_accepted(
    http: httpx.Client, fake: FakeUpstream
) -> None:
    """Only bodies that are certainly not JSON are refused (``curl -d`` sends form labels)."""
    multipart = http.post(CHAT, files={"file": ("a.txt", b"hello")}, data={"model": "chat"})
    _assert_client_error(multipart, 415, "unsupported_media_type")
    assert fake.received == []
    body = b'{"model": "chat", "messages": [{"role": "user", "content": "hi there"}]}'
    labelled = http.post(CHAT, content=body, headers={"content-type": "text/plain"})
    assert labelled.json()["choices"][0]["message"]["content"] == REPLY


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/chat", 404, "route_not_found"),
        ("POST", "/v1/responses-nope", 404, "route_not_found"),
        ("GET", "/", 404, "route_not_found"),
        ("GET", CHAT, 405, "method_not_allowed"),
        ("PUT", "/v1/embeddings", 405, "method_not_allowed"),
        ("POST", "/v1/models", 405, "method_not_allowed"),
        ("DELETE", "/v1/models/chat", 405, "method_not_allowed"),
    ],
)
def test_unknown_paths_and_wrong_methods(
    http: httpx.Client, method: str, path: str, status: int, code: str
) -> None:
    _assert_client_error(http.request(method, path), status, code)


# Request ids and operations -----------------------------------------------------------------


def test_request_id_is_echoed_when_sent_and_minted_otherwise(http: httpx.Client) -> None:
    body = {"model": "chat", "messages": HI}
    traced = {"x-request-id": "trace-abc_123.4"}
    assert http.post(CHAT, json=body, headers=traced).headers["x-request-id"] == "trace-abc_123.4"
    streamed = http.post(CHAT, json={**body, "stream": True}, headers=traced)
    assert streamed.headers["x-request-id"] == "trace-abc_123.4"
    failed = http.post(CHAT, json={"model": "nope", "messages": HI}, headers=traced)
    assert failed.headers["x-request-id"] == "trace-abc_123.4"
    minted = {http.post(CHAT, json=body).headers["x-request-id"] for _ in range(2)}
    assert len(minted) == 2
    assert all(rid.startswith("req_") for rid in minted)
    hostile = http.get("/v1/models", headers={"x-request-id": "a b;<script>"})
    assert hostile.headers["x-request-id"].startswith("req_")


def test_health_and_readiness(http: httpx.Client) -> None:
    health = http.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"startup": "ok", "database": "ok"}}


def test_metrics_count_requests_and_in_flight_streams(http: httpx.Client) -> None:
    labels = {"route": "chat.completions", "status": "200"}
    before = metric_value(http.get("/metrics").text, "tenantgate_requests_total", labels)
    http.post(CHAT, json={"model": "chat", "messages": HI})
    http.post(CHAT, json={"model": "chat", "messages": HI, "stream": True})
    metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert "# TYPE tenantgate_requests_total counter" in text
    assert "# TYPE tenantgate_inflight_streams gauge" in text
    assert metric_value(text, "tenantgate_requests_total", labels) == before + 2
    assert metric_value(text, "tenantgate_inflight_streams") == 0
    timed = {"route": "chat.completions"}
    assert metric_value(text, "tenantgate_request_duration_seconds_count", timed) >= 2


# Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"authorization": "Bearer sk-wrong"}, "invalid_api_key"),
        ({"authorization": f"Basic {CLIENT_KEY}"}, "invalid_api_key"),
        ({"authorization": "Bearer " + "k" * 600}, "invalid_api_key"),
    ],
    ids=["missing", "wrong", "not-bearer", "oversized"],
)
def test_guarded_gateway_refuses_missing_or_wrong_keys(
    guarded: httpx.Client, fake: FakeUpstream, headers: dict[str, str], code: str
) -> None:
    for response in (
        guarded.post(CHAT, json={"model": "chat", "messages": HI}, headers=headers),
        guarded.post(CHAT, content=b"{not json", headers=headers),  # auth comes before parsing
        guarded.get("/v1/models", headers=headers),
    ):
        error = _assert_client_error(response, 401, code)
        assert error["type"] == "authentication_error"
    assert fake.received == []


def test_guarded_gateway_serves_the_right_key_and_public_endpoints(guarded: httpx.Client) -> None:
    base_url = str(guarded.base_url) + "/v1"
    with openai.OpenAI(base_url=base_url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        reply = sdk.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi there"}]
        )
        assert reply.choices[0].message.content == REPLY
        assert [model.id for model in sdk.models.list()] == ["chat", "embed"]
    with (
        openai.OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError) as refused,
    ):
        sdk.models.list()
    assert refused.value.code == "invalid_api_key"
    for path in ("/healthz", "/readyz", "/metrics"):
        assert guarded.get(path).status_code == 200

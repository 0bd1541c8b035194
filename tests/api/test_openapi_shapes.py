"""Every body and stream chunk the gateway sends validates against OpenAI's published OpenAPI spec.

Raw HTTP, so nothing is smoothed over by an SDK's lenient parsing; each flavour's upstream
answer is translated (or passed through) by the gateway and must come out in OpenAI's shape.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gateway_harness import (
    FLAVOUR_IDS,
    FLAVOURS,
    HI,
    Flavour,
    OciIdentity,
    assert_openai_error,
    assert_schema,
    flavour_models,
    gateway_config,
    sse_payloads,
    start_gateway,
)

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string"}},
                "required": ["q"],
            },
        },
    }
]
by_flavour = pytest.mark.parametrize("flavour", FLAVOURS, ids=FLAVOUR_IDS)


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, oci_identity: OciIdentity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    config = gateway_config(flavour_models(upstream, oci_identity))
    with start_gateway(config, tmp_path_factory.mktemp("gateway")) as running:
        yield running


def _ok_json(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def _stream_chunks(response: httpx.Response) -> list[Any]:
    """The JSON chunks of a complete stream (which must end with ``[DONE]``)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    return [json.loads(payload) for payload in payloads[:-1]]


@by_flavour
def test_chat_replies_match_create_chat_completion_response(
    http: httpx.Client, openapi: dict[str, Any], flavour: Flavour
) -> None:
    for extra in ({}, {"n": 2, "max_tokens": 3}, {"tools": TOOLS, "tool_choice": "required"}):
        body = _ok_json(
            http.post("/v1/chat/completions", json={"model": flavour.chat, "messages": HI, **extra})
        )
        assert_schema(openapi, "CreateChatCompletionResponse", body)
        assert len(body["choices"]) == extra.get("n", 1)


@by_flavour
@pytest.mark.parametrize("include_usage", [True, False], ids=["usage", "no-usage"])
def test_chat_stream_chunks_match_create_chat_completion_stream_response(
    http: httpx.Client, openapi: dict[str, Any], flavour: Flavour, include_usage: bool
) -> None:
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    for extra in ({}, {"tools": TOOLS, "tool_choice": "required"}):
        request = {"model": flavour.chat, "messages": HI, "stream": True, **options, **extra}
        chunks = _stream_chunks(http.post("/v1/chat/completions", json=request))
        for chunk in chunks:
            assert_schema(openapi, "CreateChatCompletionStreamResponse", chunk)
        assert [c["choices"] == [] for c in chunks].count(True) == int(include_usage)
        assert len({chunk["id"] for chunk in chunks}) == 1


@by_flavour
def test_legacy_completions_match_create_completion_response(
    http: httpx.Client, openapi: dict[str, Any], flavour: Flavour
) -> None:
    request = {"model": flavour.chat, "prompt": "hi there"}
    response = http.post("/v1/completions", json=request)
    stream = http.post("/v1/completions", json={**request, "stream": True})
    if not flavour.completions:
        for refused in (response, stream):
            assert_openai_error(refused, 400, "unsupported_parameter")
            assert_schema(openapi, "ErrorResponse", refused.json())
        return
    assert_schema(openapi, "CreateCompletionResponse", _ok_json(response))
    # The spec models no legacy stream chunk (OpenAI sends CreateCompletionResponse-like
    # objects with a null finish_reason until the end), so the stream is checked by hand.
    chunks = _stream_chunks(stream)
    assert {chunk["object"] for chunk in chunks} == {"text_completion"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    texts = [c["choices"][0]["text"] for c in chunks if c["choices"]]
    assert "".join(texts) == "Hello! You said: hi there"
    reasons = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert reasons[-1] == "stop"
    assert set(reasons[:-1]) <= {None}

@by_flavour
def test_embeddings_float_and_base64_match_create_embedding_response(
    http: httpx.Client, openapi: dict[str, Any], flavour: Flavour
) -> None:
    request = {"model": flavour.embedding, "input": ["a", "b c"]}
    floats = _ok_json(http.post("/v1/embeddings", json=request))
    assert_schema(openapi, "CreateEmbeddingResponse", floats)
    encoded = _ok_json(http.post("/v1/embeddings", json={**request, "encoding_format": "base64"}))
    # The spec types ``embedding`` as numbers only; base64 is the same object with each vector
    # packed as little-endian float32, so it is validated with the vectors unpacked.
    vectors = [_unpack(item["embedding"]) for item in encoded["data"]]
    for item, vector in zip(encoded["data"], vectors, strict=True):
        item["embedding"] = vector
    assert_schema(openapi, "CreateEmbeddingResponse", encoded)
    for vector, item in zip(vectors, floats["data"], strict=True):
        assert vector == pytest.approx(item["embedding"], rel=1e-6)


def _unpack(encoded: Any) -> list[float]:
    assert isinstance(encoded, str)
    packed = base64.b64decode(encoded, validate=True)
    return list(struct.unpack(f"<{len(packed) // 4}f", packed))

def test_models_match_list_models_response_and_model(
    http: httpx.Client, openapi: dict[str, Any]
) -> None:
    listed = _ok_json(http.get("/v1/models"))
    assert_schema(openapi, "ListModelsResponse", listed)
    assert len(listed["data"]) == 2 * len(FLAVOURS)
    for model in listed["data"]:
        assert_schema(openapi, "Model", _ok_json(http.get(f"/v1/models/{model['id']}")))


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/v1/chat/completions", {"model": "nope", "messages": HI}, 404, "model_not_found"),
        ("GET", "/v1/models/nope", None, 404, "model_not_found"),
        ("POST", "/v1/embeddings", {"model": "embed-openai"}, 400, "missing_required_parameter"),
        ("GET", "/v1/nothing-here", None, 404, "route_not_found"),
        ("DELETE", "/v1/models", None, 405, "method_not_allowed"),
    ],
)
def test_errors_match_error_response(
    http: httpx.Client,
    openapi: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    response = http.request(method, path, json=body)
    assert_openai_error(response, status, code)
    assert_schema(openapi, "ErrorResponse", response.json())

"""The fake upstream speaks each provider's wire format and misbehaves exactly as scripted.

Every test goes over real HTTP on loopback, with the official clients where one exists:
the ``openai`` SDK (OpenAI, Azure and OCI's OpenAI-compatible API) and the ``oci`` SDK (OCI
native API and its request signer).
"""

from __future__ import annotations

import base64
import email.utils
import json
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import oci
import openai
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oci._vendor import requests  # the SDK signs requests prepared by its vendored copy
from oci.generative_ai_inference import GenerativeAiInferenceClient
from oci.generative_ai_inference import models as oci_models
from openai.types.chat import ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam

import tenantgate.testing
from openapi_schemas import OPENAPI, assert_schema, load_components
from tenantgate.testing import FakeUpstream, Fault

KEY = "sk-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
TENANCY = "ocid1.tenancy.oc1..aaaatenancy"
USER = "ocid1.user.oc1..aaaauser"
FINGERPRINT = ":".join(["ab"] * 16)
KEY_ID = f"{TENANCY}/{USER}/{FINGERPRINT}"
COMPARTMENT = "ocid1.compartment.oc1..aaaacompartment"
HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi there"}]


# Fixtures ------------------------------------------------------------------------------


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def oci_key_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("oci") / "key.pem"
    path.write_bytes(_private_pem(key))
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public


@pytest.fixture(scope="module")
def server(oci_key_file: tuple[Path, bytes]) -> Iterator[FakeUpstream]:
    with FakeUpstream(
        api_keys=[KEY],
        oci_public_keys={KEY_ID: oci_key_file[1]},
        azure_model_names={"my-gpt": "gpt-4o-2024-08-06"},
    ) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeUpstream) -> FakeUpstream:
    server.reset()
    return server


@pytest.fixture
def http(fake: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, headers=AUTH, timeout=10) as client:
        yield client


@pytest.fixture
def client(fake: FakeUpstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=KEY, base_url=fake.openai_base_url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def signer(oci_key_file: tuple[Path, bytes]) -> oci.signer.Signer:
    return oci.signer.Signer(
        TENANCY, USER, FINGERPRINT, private_key_file_location=str(oci_key_file[0])
    )


@pytest.fixture
def oci_client(fake: FakeUpstream, oci_key_file: tuple[Path, bytes]) -> GenerativeAiInferenceClient:
    config = {
        "tenancy": TENANCY,
        "user": USER,
        "fingerprint": FINGERPRINT,
        "key_file": str(oci_key_file[0]),
        "region": "us-chicago-1",
    }
    return GenerativeAiInferenceClient(
        config, service_endpoint=fake.oci_endpoint, retry_strategy=oci.retry.NoneRetryStrategy()
    )


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    assert OPENAPI.exists(), f"the OpenAI OpenAPI spec belongs at {OPENAPI} (../shared beside the repo)"
    return load_components(OPENAPI)


def sse_payloads(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, checking OpenAI's exact framing on the way."""
    assert text.endswith("\n\n")
    events = text[:-2].split("\n\n")
    assert all(event.startswith("data: ") and "\n" not in event for event in events)
    return [event[len("data: ") :] for event in events]


def chat(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": HI, **body})


def signed(
    method: str, url: str, body: bytes, signer: Any, **headers: str
) -> requests.PreparedRequest:
    prepared = requests.Request(method, url, data=body, headers=headers).prepare()
    signer(prepared)
    return prepared


def send(prepared: requests.PreparedRequest, body: bytes | None = None) -> httpx.Response:
    sent = prepared.body if body is None else body
    assert isinstance(sent, bytes)
    assert prepared.url is not None
    return httpx.request(
        prepared.method or "POST", prepared.url, content=sent, headers=dict(prepared.headers)
    )


# OpenAI ---------------------------------------------------------------------------------


def test_package_exports_pinned() -> None:
    assert tenantgate.testing.__all__ == ["FakeUpstream", "Fault", "FaultKind", "RecordedRequest"]


def test_openai_sdk_chat_gets_deterministic_reply_and_usage(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi there"},
        ],
    )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.choices[0].message.content == "Hello! You said: hi there"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (4, 5, 9)
    [seen] = fake.received
    assert (seen.flavour, seen.auth, seen.auth_ok, seen.model) == (
        "openai",
        "bearer",
        True,
        "gpt-4o-mini",
    )


def test_openai_responses_match_the_openapi_schemas(
    http: httpx.Client, openapi: dict[str, Any]
) -> None:
    assert_schema(
        openapi, "CreateChatCompletionResponse", chat(http, logprobs=True, top_logprobs=2).json()
    )
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert_schema(openapi, "CreateChatCompletionResponse", chat(http, tools=tools).json())
    stream = chat(http, stream=True, stream_options={"include_usage": True}, logprobs=True)
    for payload in sse_payloads(stream.text)[:-1]:
        assert_schema(openapi, "CreateChatCompletionStreamResponse", json.loads(payload))
    legacy = http.post("/v1/completions", json={"model": "m", "prompt": "hi", "logprobs": 1})
    assert_schema(openapi, "CreateCompletionResponse", legacy.json())
    embedding = http.post("/v1/embeddings", json={"model": "e", "input": ["a", "b"]})
    assert_schema(openapi, "CreateEmbeddingResponse", embedding.json())
    assert_schema(openapi, "ListModelsResponse", http.get("/v1/models").json())


def test_openai_stream_with_usage_is_framed_exactly_like_openai(http: httpx.Client) -> None:
    response = chat(http, stream=True, stream_options={"include_usage": True})
    assert response.headers["content-type"] == "text/event-stream"
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert pieces == ["Hello! ", "You ", "said: ", "hi ", "there"]
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 5
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}


def test_openai_stream_without_include_usage_has_no_usage_field(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="m", messages=HI, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! You said: hi there"
    assert all(c.usage is None and c.choices for c in chunks)


def test_wrong_or_missing_key_gets_openai_401(fake: FakeUpstream) -> None:
    body = {"model": "m", "messages": HI}
    wrong = httpx.post(
        fake.openai_base_url + "/chat/completions", json=body, headers={"Authorization": "Bearer x"}
    )
    missing = httpx.post(fake.openai_base_url + "/chat/completions", json=body)
    for response in (wrong, missing):
        assert response.status_code == 401
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["param"], error["code"]) == (
            "invalid_request_error",
            None,
            "invalid_api_key",
        )
    assert [r.auth_ok for r in fake.received] == [False, False]


def test_max_tokens_truncates_with_length_and_n_gives_choices(http: httpx.Client) -> None:
    body = chat(http, max_completion_tokens=2, n=3).json()
    assert [c["message"]["content"] for c in body["choices"]] == ["Hello! You"] * 3
    assert {c["finish_reason"] for c in body["choices"]} == {"length"}
    assert body["usage"]["completion_tokens"] == 6
    assert chat(http, max_tokens=1).json()["choices"][0]["message"]["content"] == "Hello!"


def test_stop_strings_and_json_mode_shape_the_reply(http: httpx.Client) -> None:
    assert chat(http, stop=[" said"]).json()["choices"][0]["message"]["content"] == "Hello! You"
    content = chat(http, response_format={"type": "json_object"}).json()["choices"][0]["message"][
        "content"
    ]
    assert json.loads(content) == {"answer": "Hello! You said: hi there"}


def test_logprobs_come_per_token(http: httpx.Client) -> None:
    logprobs = chat(http, logprobs=True, top_logprobs=2).json()["choices"][0]["logprobs"]
    assert [t["token"] for t in logprobs["content"]] == [
        "Hello! ",
        "You ",
        "said: ",
        "hi ",
        "there",
    ]
    assert len(logprobs["content"][0]["top_logprobs"]) == 2


WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"enum": ["c", "f"]},
            },
            "required": ["city", "days", "unit"],
        },
    },
}
NOOP: Any = {"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}}


def test_tools_give_a_tool_call_with_placeholder_arguments(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="m", messages=HI, tools=[WEATHER, NOOP])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example", "days": 1, "unit": "c"}
    forced = client.chat.completions.create(
        model="m",
        messages=HI,
        tools=[WEATHER, NOOP],
        tool_choice={"type": "function", "function": {"name": "noop"}},
    )
    [forced_call] = forced.choices[0].message.tool_calls or []
    assert isinstance(forced_call, ChatCompletionMessageFunctionToolCall)
    assert forced_call.function.name == "noop"
    plain = client.chat.completions.create(
        model="m", messages=HI, tools=[WEATHER], tool_choice="none"
    )
    assert plain.choices[0].message.content == "Hello! You said: hi there"


def test_streamed_tool_call_uses_openai_delta_format(http: httpx.Client) -> None:
    chunks = [
        json.loads(p) for p in sse_payloads(chat(http, stream=True, tools=[WEATHER]).text)[:-1]
    ]
    first = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert first["id"].startswith("call_")
    assert first["function"] == {
        "name": "get_weather",
        "arguments": "",
    }
    pieces = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-1]]
    assert all(set(p) == {"index", "function"} for p in pieces)
    assert json.loads("".join(p["function"]["arguments"] for p in pieces))["city"] == "example"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_legacy_completions_stream_and_default_limit(http: httpx.Client) -> None:
    body = http.post("/v1/completions", json={"model": "m", "prompt": "one two"}).json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "Hello! You said: one two"
    assert body["usage"] == {**body["usage"], "prompt_tokens": 2, "completion_tokens": 5}
    long_prompt = " ".join(["w"] * 30)
    limited = http.post("/v1/completions", json={"model": "m", "prompt": long_prompt}).json()
    assert limited["choices"][0]["finish_reason"] == "length"
    assert limited["usage"]["completion_tokens"] == 16
    stream = http.post("/v1/completions", json={"model": "m", "prompt": "x", "stream": True})
    payloads = sse_payloads(stream.text)
    assert payloads[-1] == "[DONE]"
    assert (
        "".join(json.loads(p)["choices"][0]["text"] for p in payloads[:-1]) == "Hello! You said: x"
    )


def test_embeddings_are_deterministic_and_honour_format_and_dimensions(
    client: openai.OpenAI,
) -> None:
    first = client.embeddings.create(model="e", input=["hello world", "x"])
    again = client.embeddings.create(model="e", input="hello world")
    assert first.data[0].embedding == again.data[0].embedding
    assert len(first.data[0].embedding) == 8
    assert first.data[0].embedding != first.data[1].embedding
    assert (first.usage.prompt_tokens, first.usage.total_tokens) == (3, 3)
    wide = client.embeddings.create(model="e", input="hello world", dimensions=16)
    assert len(wide.data[0].embedding) == 16
    raw = client.embeddings.with_raw_response.create(
        model="e", input="hello world", encoding_format="base64"
    )
    encoded = json.loads(raw.http_response.text)["data"][0]["embedding"]
    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == first.data[0].embedding
    tokens = client.embeddings.create(model="e", input=[[1, 2, 3], [4]])
    assert tokens.usage.prompt_tokens == 4
    assert len(tokens.data) == 2


def test_models_are_listed(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [
        "gpt-4o-mini",
        "gpt-4o",
        "text-embedding-3-small",
    ]


# Azure OpenAI ---------------------------------------------------------------------------


def test_azure_sdk_deployment_route_reports_the_deployment_model(fake: FakeUpstream) -> None:
    with openai.AzureOpenAI(
        api_key=KEY, azure_endpoint=fake.azure_endpoint, api_version="2024-10-21", max_retries=0
    ) as azure:
        completion = azure.chat.completions.create(model="my-gpt", messages=HI)
        streamed = azure.chat.completions.create(model="my-gpt", messages=HI, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert completion.model == "gpt-4o-2024-08-06"
    assert completion.choices[0].message.content == text == "Hello! You said: hi there"
    first = fake.received[0]
    assert (first.flavour, first.auth, first.model) == ("azure", "api-key", "my-gpt")
    assert first.path == "/openai/deployments/my-gpt/chat/completions"
    assert first.query == {"api-version": "2024-10-21"}


def test_azure_stream_opens_with_the_prompt_filter_chunk(fake: FakeUpstream) -> None:
    response = httpx.post(
        fake.azure_endpoint + "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21",
        json={"messages": HI, "stream": True},
        headers={"api-key": KEY},
    )
    first = json.loads(sse_payloads(response.text)[0])
    assert first["choices"] == []
    assert first["prompt_filter_results"][0]["prompt_index"] == 0


def test_azure_requires_api_version_on_deployment_routes(fake: FakeUpstream) -> None:
    url = fake.azure_endpoint + "/openai/deployments/my-gpt/embeddings"
    response = httpx.post(url, json={"input": "x"}, headers={"api-key": KEY})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}
    ok = httpx.post(url + "?api-version=2024-10-21", json={"input": "x"}, headers={"api-key": KEY})
    assert ok.json()["model"] == "gpt-4o-2024-08-06"


def test_azure_v1_route_takes_model_in_body_and_entra_bearer(fake: FakeUpstream) -> None:
    response = httpx.post(
        fake.azure_endpoint + "/openai/v1/chat/completions",
        json={"model": "gpt-4o", "messages": HI},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.json()["model"] == "gpt-4o"
    assert fake.received[0].auth == "bearer"
    legacy = httpx.post(
        fake.azure_endpoint + "/openai/deployments/d/completions?api-version=2024-10-21",
        json={"prompt": "x"},
        headers={"api-key": KEY},
    )
    assert legacy.json()["model"] == "d"


def test_azure_bad_key_gets_azure_401_shape(fake: FakeUpstream) -> None:
    response = httpx.post(
        fake.azure_endpoint + "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21",
        json={"messages": HI},
        headers={"api-key": "nope"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"
    assert "Access denied" in response.json()["error"]["message"]


# OCI: OpenAI-compatible -----------------------------------------------------------------


def test_oci_openai_endpoint_accepts_genai_api_key(fake: FakeUpstream) -> None:
    with openai.OpenAI(api_key=KEY, base_url=fake.oci_openai_base_url, max_retries=0) as sdk:
        completion = sdk.chat.completions.create(model="xai.grok-4", messages=HI)
    assert completion.choices[0].message.content == "Hello! You said: hi there"
    [seen] = fake.received
    assert (seen.flavour, seen.auth, seen.path) == (
        "oci-openai",
        "bearer",
        "/oci/openai/v1/chat/completions",
    )


def test_oci_openai_endpoint_verifies_signature_and_wants_compartment(
    fake: FakeUpstream, signer: Any
) -> None:
    url = fake.oci_openai_base_url + "/chat/completions"
    body = json.dumps({"model": "meta.llama", "messages": HI}).encode()
    ok = send(signed("POST", url, body, signer, **{"opc-compartment-id": COMPARTMENT}))
    assert ok.status_code == 200
    legacy_header = send(signed("POST", url, body, signer, CompartmentId=COMPARTMENT))
    assert legacy_header.status_code == 200
    missing = send(signed("POST", url, body, signer))
    assert missing.status_code == 400
    assert "opc-compartment-id" in missing.json()["error"]["message"]
    assert [(r.auth, r.signature_verified) for r in fake.received] == [("signature", True)] * 3


# OCI: native API --------------------------------------------------------------------------


def _generic(**request: Any) -> oci_models.ChatDetails:
    return oci_models.ChatDetails(
        compartment_id=COMPARTMENT,
        serving_mode=oci_models.OnDemandServingMode(model_id="meta.llama-3.3-70b-instruct"),
        chat_request=oci_models.GenericChatRequest(
            messages=[oci_models.UserMessage(content=[oci_models.TextContent(text="hi there")])],
            **request,
        ),
    )


def test_oci_sdk_generic_chat_round_trips(
    oci_client: GenerativeAiInferenceClient, fake: FakeUpstream
) -> None:
    result = oci_client.chat(_generic(max_tokens=100, num_generations=2)).data
    assert isinstance(result, oci_models.ChatResult)
    assert result.model_id == "meta.llama-3.3-70b-instruct"
    response = result.chat_response
    assert response.api_format == "GENERIC"
    assert [c.message.content[0].text for c in response.choices] == [
        "Hello! You said: hi there"
    ] * 2
    assert response.choices[0].finish_reason == "stop"
    assert (
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
        response.usage.total_tokens,
    ) == (2, 10, 12)
    [seen] = fake.received
    assert (seen.flavour, seen.signature_verified, seen.key_id) == ("oci", True, KEY_ID)
    assert seen.body["servingMode"] == {
        "servingType": "ON_DEMAND",
        "modelId": "meta.llama-3.3-70b-instruct",
    }


def test_oci_generic_tool_call_uses_function_call_fields(
    oci_client: GenerativeAiInferenceClient,
) -> None:
    tool = oci_models.FunctionDefinition(
        name="get_weather", parameters=WEATHER["function"]["parameters"]
    )
    choice = oci_client.chat(_generic(tools=[tool])).data.chat_response.choices[0]
    [call] = choice.message.tool_calls
    assert (call.type, call.name, choice.finish_reason) == ("FUNCTION", "get_weather", "tool_calls")
    assert json.loads(call.arguments) == {"city": "example", "days": 1, "unit": "c"}


def test_oci_generic_stream_events(oci_client: GenerativeAiInferenceClient) -> None:
    details = _generic(
        is_stream=True, stream_options=oci_models.StreamOptions(is_include_usage=True)
    )
    events = [json.loads(e.data) for e in oci_client.chat(details).data.events()]
    texts = [e["message"]["content"][0]["text"] for e in events[:-2]]
    assert texts == ["Hello! ", "You ", "said: ", "hi ", "there"]
    assert events[0]["message"]["role"] == "ASSISTANT"
    assert events[0]["index"] == 0
    assert events[-2]["finishReason"] == "stop"
    assert events[-1]["usage"] == {"promptTokens": 2, "completionTokens": 5, "totalTokens": 7}


def test_oci_cohere_chat_on_dedicated_endpoint(oci_client: GenerativeAiInferenceClient) -> None:
    details = oci_models.ChatDetails(
        compartment_id=COMPARTMENT,
        serving_mode=oci_models.DedicatedServingMode(
            endpoint_id="ocid1.generativeaiendpoint.oc1..e"
        ),
        chat_request=oci_models.CohereChatRequest(message="hello cohere", max_tokens=2),
    )
    result = oci_client.chat(details).data
    assert result.chat_response.api_format == "COHERE"
    assert (result.chat_response.text, result.chat_response.finish_reason) == (
        "Hello! You",
        "MAX_TOKENS",
    )
    assert [m.role for m in result.chat_response.chat_history] == ["USER", "CHATBOT"]
    details.chat_request.is_stream = True
    events = [json.loads(e.data) for e in oci_client.chat(details).data.events()]
    assert [e["text"] for e in events] == ["Hello! ", "You", "Hello! You"]
    assert events[-1]["finishReason"] == "MAX_TOKENS"
    assert events[0]["apiFormat"] == "COHERE"


def test_oci_embed_text(oci_client: GenerativeAiInferenceClient) -> None:
    details = oci_models.EmbedTextDetails(
        inputs=["hello world", "x"],
        serving_mode=oci_models.OnDemandServingMode(model_id="cohere.embed-english-v3.0"),
        compartment_id=COMPARTMENT,
    )
    result = oci_client.embed_text(details).data
    assert isinstance(result, oci_models.EmbedTextResult)
    assert len(result.embeddings) == 2
    assert len(result.embeddings[0]) == 8
    assert result.usage.prompt_tokens == 3


def test_oci_invalid_request_gets_oci_error_shape(fake: FakeUpstream, signer: Any) -> None:
    url = fake.oci_endpoint + "/20231130/actions/chat"
    body = json.dumps({"servingMode": {"servingType": "ON_DEMAND", "modelId": "m"}}).encode()
    response = send(signed("POST", url, body, signer))
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidParameter", "message": "compartmentId is required"}
    assert response.headers["opc-request-id"]


# OCI request signing ------------------------------------------------------------------------


@pytest.fixture
def oci_chat_body() -> bytes:
    return json.dumps(
        {
            "compartmentId": COMPARTMENT,
            "servingMode": {"servingType": "ON_DEMAND", "modelId": "meta.llama"},
            "chatRequest": {
                "apiFormat": "GENERIC",
                "messages": [{"role": "USER", "content": [{"type": "TEXT", "text": "hi"}]}],
            },
        }
    ).encode()


def test_signature_with_the_registered_key_verifies(
    fake: FakeUpstream, signer: Any, oci_chat_body: bytes
) -> None:
    response = send(
        signed("POST", fake.oci_endpoint + "/20231130/actions/chat?x=1", oci_chat_body, signer)
    )
    assert response.status_code == 200
    assert fake.received[0].signature_verified is True


def test_tampered_body_fails_signature(
    fake: FakeUpstream, signer: Any, oci_chat_body: bytes
) -> None:
    prepared = signed("POST", fake.oci_endpoint + "/20231130/actions/chat", oci_chat_body, signer)
    response = send(prepared, oci_chat_body.replace(b"hi", b"yo"))
    assert response.status_code == 401
    assert response.json()["code"] == "NotAuthenticated"
    assert fake.received[0].signature_verified is False


def test_wrong_private_key_fails_signature(
    fake: FakeUpstream, oci_chat_body: bytes, tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(_private_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    impostor = oci.signer.Signer(TENANCY, USER, FINGERPRINT, private_key_file_location=str(other))
    response = send(
        signed("POST", fake.oci_endpoint + "/20231130/actions/chat", oci_chat_body, impostor)
    )
    assert response.status_code == 401
    assert fake.received[0].key_id == KEY_ID
    assert fake.received[0].signature_verified is False


def test_stale_date_or_missing_signature_is_not_authenticated(
    fake: FakeUpstream, signer: Any, oci_chat_body: bytes
) -> None:
    url = fake.oci_endpoint + "/20231130/actions/chat"
    stale = email.utils.formatdate(time.time() - 600, usegmt=True)
    assert send(signed("POST", url, oci_chat_body, signer, date=stale)).status_code == 401
    unsigned = httpx.post(url, content=oci_chat_body, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "NotAuthenticated"


# Faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after_s", [2.5, None])
def test_rate_limit_fault_answers_429_with_optional_retry_after(
    fake: FakeUpstream, http: httpx.Client, retry_after_s: float | None
) -> None:
    fake.enqueue(Fault(kind="rate_limit", retry_after_s=retry_after_s))
    limited = chat(http)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    if retry_after_s is None:
        assert "retry-after" not in limited.headers
        assert "retry-after-ms" not in limited.headers
    else:
        assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("3", "2500")
    assert chat(http).status_code == 200
    assert [r.fault for r in fake.received] == ["rate_limit", None]


def test_status_fault_uses_each_flavours_error_shape(
    fake: FakeUpstream, signer: Any, oci_chat_body: bytes
) -> None:
    fake.enqueue(*[Fault(kind="status", status=503)] * 3)
    openai_error = httpx.post(
        fake.openai_base_url + "/embeddings", json={"model": "e", "input": "x"}, headers=AUTH
    )
    azure_error = httpx.post(
        fake.azure_endpoint + "/openai/deployments/d/embeddings?api-version=1",
        json={"input": "x"},
        headers={"api-key": KEY},
    )
    oci_error = send(
        signed("POST", fake.oci_endpoint + "/20231130/actions/chat", oci_chat_body, signer)
    )
    assert [r.status_code for r in (openai_error, azure_error, oci_error)] == [503] * 3
    assert openai_error.json()["error"]["type"] == "server_error"
    assert azure_error.json()["error"]["code"] == "503"
    assert oci_error.json()["code"] == "ServiceUnavailable"


def test_reset_before_headers_drops_the_connection(
    fake: FakeUpstream, client: openai.OpenAI
) -> None:
    fake.enqueue(Fault(kind="reset_before_headers"))
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=HI)
    assert client.chat.completions.create(model="m", messages=HI).choices


def test_cut_stream_after_n_chunks_has_no_done(fake: FakeUpstream, http: httpx.Client) -> None:
    fake.enqueue(Fault(kind="cut_stream_after", after_chunks=2))
    lines: list[str] = []
    with (
        pytest.raises(httpx.TransportError),
        http.stream(
            "POST", "/v1/chat/completions", json={"model": "m", "messages": HI, "stream": True}
        ) as response,
    ):
        lines.extend(line for line in response.iter_lines() if line)
    assert len(lines) == 2
    assert all(line != "data: [DONE]" for line in lines)


async def test_cut_stream_surfaces_as_payload_error_in_aiohttp(fake: FakeUpstream) -> None:
    fake.enqueue(Fault(kind="cut_stream_after", after_chunks=1))
    async with (
        aiohttp.ClientSession(headers=AUTH) as session,
        session.post(
            fake.openai_base_url + "/chat/completions",
            json={"model": "m", "messages": HI, "stream": True},
        ) as response,
    ):
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


def test_missing_usage_and_missing_done_faults(fake: FakeUpstream, http: httpx.Client) -> None:
    fake.enqueue(Fault(kind="missing_usage"), Fault(kind="missing_done"))
    no_usage = sse_payloads(chat(http, stream=True, stream_options={"include_usage": True}).text)
    assert no_usage[-1] == "[DONE]"
    assert all(json.loads(p)["choices"] for p in no_usage[:-1])
    no_done = sse_payloads(chat(http, stream=True, stream_options={"include_usage": True}).text)
    assert json.loads(no_done[-1])["usage"]["total_tokens"] == 7


def test_malformed_chunk_after_n_chunks(fake: FakeUpstream, http: httpx.Client) -> None:
    fake.enqueue(Fault(kind="malformed_chunk", after_chunks=1))
    text = chat(http, stream=True).text
    events = text.split("\n\n")
    assert events[1] == "data: {not json"
    assert text.endswith("data: [DONE]\n\n")


def test_stream_only_faults_wait_for_a_streaming_request(
    fake: FakeUpstream, http: httpx.Client
) -> None:
    fake.enqueue(Fault(kind="missing_done"))
    assert chat(http).status_code == 200
    assert len(fake.pending_faults) == 1
    assert not chat(http, stream=True).text.endswith("[DONE]\n\n")
    assert fake.pending_faults == []


def test_stall_before_headers_delays_then_answers(fake: FakeUpstream, http: httpx.Client) -> None:
    fake.enqueue(
        Fault(kind="stall_before_headers", seconds=0.4),
        Fault(kind="stall_before_headers", seconds=5),
    )
    started = time.monotonic()
    assert chat(http).status_code == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(httpx.ReadTimeout):
        chat(http.__class__(base_url=str(http.base_url), headers=AUTH, timeout=0.3))


def test_stall_after_chunks_pauses_mid_stream(fake: FakeUpstream, http: httpx.Client) -> None:
    fake.enqueue(Fault(kind="stall_after_chunks", after_chunks=2, seconds=0.4))
    arrivals: list[float] = []
    with http.stream(
        "POST", "/v1/chat/completions", json={"model": "m", "messages": HI, "stream": True}
    ) as response:
        for line in response.iter_lines():
            if line:
                arrivals.append(time.monotonic())
    assert arrivals[2] - arrivals[1] >= 0.35
    assert arrivals[-1] - arrivals[2] < 0.3


def test_slow_first_token_sends_headers_first(fake: FakeUpstream, http: httpx.Client) -> None:
    fake.enqueue(Fault(kind="slow_first_token", seconds=0.5))
    started = time.monotonic()
    with http.stream(
        "POST", "/v1/chat/completions", json={"model": "m", "messages": HI, "stream": True}
    ) as response:
        headers_at = time.monotonic() - started
        first_line = next(line for line in response.iter_lines() if line)
        first_at = time.monotonic() - started
    assert headers_at < 0.4 <= first_at
    assert first_line.startswith("data: {")


def test_faults_are_fifo_and_filtered_by_path_and_model(
    fake: FakeUpstream, http: httpx.Client
) -> None:
    fake.enqueue(
        Fault(kind="status", status=500, path="/v1/embeddings"),
        Fault(kind="status", status=502, model="gpt-4o"),
        Fault(kind="status", status=503, times=2),
    )
    assert chat(http).status_code == 503
    assert chat(http, model="gpt-4o").status_code == 502
    assert http.post("/v1/embeddings", json={"model": "e", "input": "x"}).status_code == 500
    assert chat(http).status_code == 503
    assert chat(http).status_code == 200


@pytest.mark.parametrize(
    ("model", "status"),
    [("fault-503", 503), ("fault-429", 429), ("fault-401", 401)],
)
def test_fault_model_names_always_fail(http: httpx.Client, model: str, status: int) -> None:
    for _ in range(2):
        assert chat(http, model=model).status_code == status


def test_fault_model_names_with_arguments(fake: FakeUpstream, http: httpx.Client) -> None:
    started = time.monotonic()
    assert chat(http, model="fault-stall-0.3").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.TransportError):
        chat(http, model="fault-cut-1", stream=True)
    azure = httpx.post(
        fake.azure_endpoint + "/openai/deployments/fault-500/chat/completions?api-version=1",
        json={"messages": HI},
        headers={"api-key": KEY},
    )
    assert azure.status_code == 500


# Control API and process mode ---------------------------------------------------------------


def test_control_api_queues_faults_lists_requests_and_resets(
    fake: FakeUpstream, http: httpx.Client
) -> None:
    queued = httpx.post(
        fake.base_url + "/_fake/faults", json=[{"kind": "rate_limit", "retry_after_s": 1}]
    )
    assert queued.json()["queued"] == 1
    assert chat(http, stream_options={"include_usage": True}, stream=True).status_code == 429
    chat(http)
    seen = httpx.get(fake.base_url + "/_fake/requests").json()
    assert [r["fault"] for r in seen] == ["rate_limit", None]
    assert seen[0]["body"]["stream_options"] == {"include_usage": True}
    bad = httpx.post(fake.base_url + "/_fake/faults", json=[{"kind": "nope"}])
    assert bad.status_code == 400
    httpx.post(fake.base_url + "/_fake/reset")
    assert fake.received == []


def test_runs_as_a_process_and_prints_its_base_url() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenantgate.testing.fake_upstream",
            "--port",
            "0",
            "--api-key",
            "k1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        response = httpx.post(
            base_url + "/v1/chat/completions",
            json={"model": "m", "messages": HI},
            headers={"Authorization": "Bearer k1"},
        )
        assert response.json()["choices"][0]["message"]["content"] == "Hello! You said: hi there"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


def test_oci_native_faults_use_oci_shapes_and_events(
    fake: FakeUpstream, signer: Any, oci_chat_body: bytes
) -> None:
    url = fake.oci_endpoint + "/20231130/actions/chat"
    fake.enqueue(Fault(kind="rate_limit"), Fault(kind="missing_done"))
    limited = send(signed("POST", url, oci_chat_body, signer))
    assert limited.status_code == 429
    assert limited.json()["code"] == "TooManyRequests"
    streamed = json.loads(oci_chat_body)
    streamed["chatRequest"]["isStream"] = True
    events = sse_payloads(send(signed("POST", url, json.dumps(streamed).encode(), signer)).text)
    assert [json.loads(e)["message"]["content"][0]["text"] for e in events] == [
        "Hello! ",
        "You ",
        "said: ",
        "hi",
    ]


def test_azure_rate_limit_carries_retry_after_headers(fake: FakeUpstream) -> None:
    fake.enqueue(Fault(kind="rate_limit", retry_after_s=0.2))
    response = httpx.post(
        fake.azure_endpoint + "/openai/v1/chat/completions",
        json={"model": "gpt-4o", "messages": HI},
        headers={"api-key": KEY},
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "429"
    assert (response.headers["retry-after"], response.headers["retry-after-ms"]) == ("1", "200")

"""OCI native chat/embedText translation: exact requests, replies and stream chunks; the fake."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantgate.errors import (
    UnsupportedParameter,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamStreamInterrupted,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tenantgate.providers.base import (
    DeploymentInfo,
    Operation,
    StreamPiece,
    UpstreamResponse,
    Usage,
)
from tenantgate.providers.http_backend import HttpBackend
from tenantgate.providers.oci_genai_native import OciGenAINativeAdapter, build_signer
from tenantgate.providers.registry import PROVIDERS, HttpProvider
from tenantgate.providers.transport import HttpTransport
from tenantgate.settings import DeploymentSettings, UpstreamSettings, UpstreamTimeouts
from tenantgate.testing.fake_upstream import FakeUpstream

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaacompartment"
ENDPOINT = "ocid1.generativeaiendpoint.oc1.us-chicago-1.aaaaaaaaendpoint"
MODEL = "meta.llama-3.3-70b-instruct"
BASE = "https://inference.generativeai.us-chicago-1.oci.oraclecloud.com/20231130/actions"
ON_DEMAND = {"servingType": "ON_DEMAND", "modelId": MODEL}
NOW_S = 1_750_000_000


def _deployment(**fields: Any) -> DeploymentSettings:
    values: dict[str, Any] = {
        "provider": "oci_genai_native",
        "model": MODEL,
        "region": "us-chicago-1",
        "compartment_id": COMPARTMENT,
        **fields,
    }
    return DeploymentSettings.model_validate(values)


def _adapter(**fields: Any) -> OciGenAINativeAdapter:
    return OciGenAINativeAdapter(
        _deployment(**fields), now_s=lambda: NOW_S + 0.7, new_id=lambda: "chatcmpl-fixed"
    )


def _sent(
    operation: Operation, body: dict[str, Any], *, stream: bool = False, **fields: Any
) -> Any:
    return json.loads(_adapter(**fields).build_request(operation, body, stream=stream).body)


def test_registered_without_completions() -> None:
    spec = PROVIDERS["oci_genai_native"]
    assert isinstance(spec, HttpProvider)
    assert spec.adapter is OciGenAINativeAdapter
    assert OciGenAINativeAdapter.capabilities.operations == {Operation.CHAT, Operation.EMBEDDING}
    assert OciGenAINativeAdapter.capabilities.logprobs is False


def test_completion_is_refused() -> None:
    with pytest.raises(UnsupportedParameter):
        _adapter().build_request(Operation.COMPLETION, {"prompt": "x"}, stream=False)


def test_compartment_id_is_required() -> None:
    with pytest.raises(ValueError, match="compartment_id"):
        OciGenAINativeAdapter(_deployment(compartment_id=None))


def test_dedicated_mode_requires_an_endpoint() -> None:
    with pytest.raises(ValueError, match="endpoint_id"):
        OciGenAINativeAdapter(_deployment(serving_mode="dedicated"))


# --- GENERIC requests -------------------------------------------------------------------


def test_generic_chat_request_uses_the_sdk_wire_names() -> None:
    body = {
        "model": "llama",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,AAA", "detail": "low"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q":"cat"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        ],
        "max_tokens": 100,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "stop": "END",
        "n": 2,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Find",
                    "parameters": {"type": "object"},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "user": "u-1",
    }
    request = _adapter().build_request(Operation.CHAT, body, stream=False)

    assert request.url == f"{BASE}/chat"
    assert request.headers == {"content-type": "application/json", "accept": "application/json"}
    assert json.loads(request.body) == {
        "compartmentId": COMPARTMENT,
        "servingMode": ON_DEMAND,
        "chatRequest": {
            "apiFormat": "GENERIC",
            "messages": [
                {"role": "SYSTEM", "content": [{"type": "TEXT", "text": "Be brief."}]},
                {
                    "role": "USER",
                    "content": [
                        {"type": "TEXT", "text": "What is this?"},
                        {
                            "type": "IMAGE",
                            "imageUrl": {"url": "data:image/png;base64,AAA", "detail": "LOW"},
                        },
                    ],
                },
                {
                    "role": "ASSISTANT",
                    "toolCalls": [
                        {
                            "id": "call_1",
                            "type": "FUNCTION",
                            "name": "lookup",
                            "arguments": '{"q":"cat"}',
                        }
                    ],
                },
                {
                    "role": "TOOL",
                    "content": [{"type": "TEXT", "text": "a cat"}],
                    "toolCallId": "call_1",
                },
            ],
            "isStream": False,
            "temperature": 0.5,
            "topP": 0.9,
            "seed": 7,
            "frequencyPenalty": 0.1,
            "presencePenalty": 0.2,
            "maxTokens": 100,
            "numGenerations": 2,
            "stop": ["END"],
            "isParallelToolCalls": False,
            "responseFormat": {"type": "JSON_OBJECT"},
            "toolChoice": {"type": "FUNCTION", "name": "lookup"},
            "tools": [
                {
                    "type": "FUNCTION",
                    "name": "lookup",
                    "description": "Find",
                    "parameters": {"type": "object"},
                }
            ],
        },
    }


def test_generic_stream_asks_for_usage_and_json_schema_maps() -> None:
    body = {
        "model": "llama",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 9,
        "tool_choice": "required",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
        },
    }

    chat = _sent(Operation.CHAT, body, stream=True)["chatRequest"]

    assert chat == {
        "apiFormat": "GENERIC",
        "messages": [{"role": "USER", "content": [{"type": "TEXT", "text": "hi"}]}],
        "isStream": True,
        "streamOptions": {"isIncludeUsage": True},
        "maxCompletionTokens": 9,
        "toolChoice": {"type": "REQUIRED"},
        "responseFormat": {
            "type": "JSON_SCHEMA",
            "jsonSchema": {"name": "answer", "schema": {"type": "object"}, "isStrict": True},
        },
    }


def test_dedicated_serving_mode_names_the_endpoint() -> None:
    sent = _sent(
        Operation.CHAT,
        {"messages": [{"role": "user", "content": "hi"}]},
        serving_mode="dedicated",
        endpoint_id=ENDPOINT,
    )

    assert sent["servingMode"] == {"servingType": "DEDICATED", "endpointId": ENDPOINT}


def test_unsupported_content_is_refused() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}

    with pytest.raises(UnsupportedParameter, match="input_audio"):
        _adapter().build_request(Operation.CHAT, body, stream=False)


# --- COHERE requests --------------------------------------------------------------------


def test_cohere_request_splits_preamble_history_and_message() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        ],
        "max_tokens": 50,
        "stop": ["\n\n"],
        "temperature": 0.3,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Forecast",
                    "parameters": {
                        "type": "object",
                        "required": ["city"],
                        "properties": {
                            "city": {"type": "string", "description": "City name"},
                            "days": {"type": "integer"},
                        },
                    },
                },
            }
        ],
    }

    chat = _sent(
        Operation.CHAT, body, stream=True, api_format="cohere", model="cohere.command-r-plus"
    )["chatRequest"]

    assert chat == {
        "apiFormat": "COHERE",
        "message": "Weather?",
        "chatHistory": [
            {"role": "USER", "message": "Hi"},
            {"role": "CHATBOT", "message": "Hello"},
        ],
        "preambleOverride": "You are terse.",
        "isStream": True,
        "streamOptions": {"isIncludeUsage": True},
        "temperature": 0.3,
        "maxTokens": 50,
        "stopSequences": ["\n\n"],
        "tools": [
            {
                "name": "weather",
                "description": "Forecast",
                "parameterDefinitions": {
                    "city": {"type": "str", "isRequired": True, "description": "City name"},
                    "days": {"type": "int", "isRequired": False},
                },
            }
        ],
    }


def test_cohere_trailing_tool_results_become_tool_results() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "c2", "content": "rain"},
        ],
    }

    chat = _sent(Operation.CHAT, body, api_format="cohere")["chatRequest"]

    assert chat["message"] == ""
    assert chat["chatHistory"] == [
        {"role": "USER", "message": "Weather in Paris and Rome?"},
        {
            "role": "CHATBOT",
            "message": "",
            "toolCalls": [
                {"name": "weather", "parameters": {"city": "Paris"}},
                {"name": "weather", "parameters": {"city": "Rome"}},
            ],
        },
    ]
    assert chat["toolResults"] == [
        {
            "call": {"name": "weather", "parameters": {"city": "Paris"}},
            "outputs": [{"output": "sunny"}],
        },
        {
            "call": {"name": "weather", "parameters": {"city": "Rome"}},
            "outputs": [{"output": "rain"}],
        },
    ]


def test_cohere_refuses_several_choices_and_images() -> None:
    with pytest.raises(UnsupportedParameter):
        _sent(
            Operation.CHAT,
            {"messages": [{"role": "user", "content": "x"}], "n": 2},
            api_format="cohere",
        )
    image = {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}
    with pytest.raises(UnsupportedParameter):
        _sent(
            Operation.CHAT,
            {"messages": [{"role": "user", "content": [image]}]},
            api_format="cohere",
        )


# --- replies ----------------------------------------------------------------------------


def _parse(body: dict[str, Any], **fields: Any) -> tuple[Any, Usage | None]:
    response = UpstreamResponse(status=200, headers={}, body=json.dumps(body).encode())
    reply = _adapter(**fields).parse_response(Operation.CHAT, {}, response)
    return json.loads(reply.body), reply.usage


def test_generic_reply_becomes_a_chat_completion() -> None:
    completion, usage = _parse(
        {
            "modelId": MODEL,
            "modelVersion": "1.0",
            "chatResponse": {
                "apiFormat": "GENERIC",
                "timeCreated": "2025-06-15T12:00:00.123Z",
                "choices": [
                    {
                        "index": 0,
                        "finishReason": "stop",
                        "message": {
                            "role": "ASSISTANT",
                            "content": [
                                {"type": "TEXT", "text": "Hello "},
                                {"type": "TEXT", "text": "there"},
                            ],
                        },
                    }
                ],
                "usage": {
                    "promptTokens": 12,
                    "completionTokens": 2,
                    "totalTokens": 14,
                    "promptTokensDetails": {"cachedTokens": 4},
                },
            },
        }
    )

    assert completion == {
        "id": "chatcmpl-fixed",
        "object": "chat.completion",
        "created": 1749988800,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 2,
            "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }
    assert usage == Usage(prompt_tokens=12, completion_tokens=2, cached_tokens=4)


def test_generic_tool_call_reply() -> None:
    completion, _ = _parse(
        {
            "modelId": MODEL,
            "chatResponse": {
                "apiFormat": "GENERIC",
                "timeCreated": "2025-06-15T12:00:00Z",
                "choices": [
                    {
                        "index": 0,
                        "finishReason": "tool_calls",
                        "message": {
                            "role": "ASSISTANT",
                            "toolCalls": [
                                {
                                    "id": "call_9",
                                    "type": "FUNCTION",
                                    "name": "lookup",
                                    "arguments": '{"q":1}',
                                }
                            ],
                        },
                    }
                ],
                "usage": {"promptTokens": 5, "completionTokens": 3, "totalTokens": 8},
            },
        }
    )

    assert completion["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q":1}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]


def test_cohere_reply_with_tool_calls() -> None:
    completion, usage = _parse(
        {
            "modelId": "cohere.command-r-plus",
            "chatResponse": {
                "apiFormat": "COHERE",
                "text": "",
                "finishReason": "COMPLETE",
                "toolCalls": [{"name": "weather", "parameters": {"city": "Paris"}}],
                "usage": {"promptTokens": 20, "completionTokens": 6, "totalTokens": 26},
            },
        },
        api_format="cohere",
    )

    call = completion["choices"][0]["message"]["tool_calls"][0]
    assert completion["created"] == NOW_S
    assert completion["model"] == "cohere.command-r-plus"
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert completion["choices"][0]["message"]["content"] is None
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    assert call["function"] == {"name": "weather", "arguments": '{"city":"Paris"}'}
    assert usage == Usage(prompt_tokens=20, completion_tokens=6)


@pytest.mark.parametrize(
    ("oci", "openai"),
    [
        ("COMPLETE", "stop"),
        ("stop", "stop"),
        ("MAX_TOKENS", "length"),
        ("length", "length"),
        ("ERROR_TOXIC", "content_filter"),
        ("CONTENT_FILTERED", "content_filter"),
        ("ERROR_LIMIT", "length"),
        ("USER_CANCEL", "stop"),
        ("something_new", "stop"),
    ],
)
def test_finish_reasons_map_to_openai(oci: str, openai: str) -> None:
    completion, _ = _parse(
        {"modelId": "m", "chatResponse": {"apiFormat": "COHERE", "text": "x", "finishReason": oci}},
        api_format="cohere",
    )

    assert completion["choices"][0]["finish_reason"] == openai


def test_unreadable_reply_is_a_bad_response() -> None:
    with pytest.raises(UpstreamBadResponse):
        _parse({"modelId": "m"})


# --- streams ----------------------------------------------------------------------------


def _stream(events: list[dict[str, Any]], **fields: Any) -> tuple[list[StreamPiece], bool]:
    decoder = _adapter(**fields).stream_decoder(Operation.CHAT, {})
    pieces: list[StreamPiece] = []
    done = False
    for event in events:
        decoded = decoder.feed(json.dumps(event).encode())
        pieces += decoded.pieces
        done = decoded.done
    return pieces, done


HEAD = {"id": "chatcmpl-fixed", "object": "chat.completion.chunk", "created": NOW_S, "model": MODEL}


def _chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        **HEAD,
        "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def test_generic_stream_becomes_openai_chunks_with_usage_last() -> None:
    text = {"role": "ASSISTANT", "content": [{"type": "TEXT", "text": "Hel"}]}
    more = {"role": "ASSISTANT", "content": [{"type": "TEXT", "text": "lo"}]}
    pieces, done = _stream(
        [
            {"index": 0, "message": text, "pad": "aaaa"},
            {"index": 0, "message": more, "pad": "aaaa"},
            {"index": 0, "message": {"role": "ASSISTANT"}, "finishReason": "stop", "pad": "aaaa"},
            {"usage": {"promptTokens": 7, "completionTokens": 2, "totalTokens": 9}},
        ]
    )

    assert [json.loads(p.data) for p in pieces] == [
        _chunk({"role": "assistant", "content": "Hel"}),
        _chunk({"content": "lo"}),
        _chunk({}, "stop"),
        {
            **HEAD,
            "choices": [],
            "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
        },
    ]
    assert [p.finished_choices for p in pieces] == [0, 0, 1, 0]
    assert [p.usage_only for p in pieces] == [False, False, False, True]
    assert pieces[-1].usage == Usage(prompt_tokens=7, completion_tokens=2)
    assert done


def test_generic_stream_tool_call_split_over_events() -> None:
    pieces, done = _stream(
        [
            {
                "index": 0,
                "message": {
                    "role": "ASSISTANT",
                    "toolCalls": [
                        {"id": "call_1", "type": "FUNCTION", "name": "lookup", "arguments": ""}
                    ],
                },
            },
            {"index": 0, "message": {"role": "ASSISTANT", "toolCalls": [{"arguments": '{"q":'}]}},
            {"index": 0, "message": {"role": "ASSISTANT", "toolCalls": [{"arguments": '"cat"}'}]}},
            {"index": 0, "finishReason": "tool_calls"},
        ]
    )

    assert [json.loads(p.data) for p in pieces] == [
        _chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": ""},
                    }
                ],
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"cat"}'}}]}),
        _chunk({}, "tool_calls"),
    ]
    assert not done  # no usage event: the backend relies on finished_choices instead
    assert sum(p.finished_choices for p in pieces) == 1


def test_cohere_stream_skips_the_repeated_text_of_the_terminal_event() -> None:
    pieces, done = _stream(
        [
            {"apiFormat": "COHERE", "text": "Hi"},
            {"apiFormat": "COHERE", "text": " there"},
            {
                "apiFormat": "COHERE",
                "text": "Hi there",
                "finishReason": "COMPLETE",
                "chatHistory": [
                    {"role": "USER", "message": "x"},
                    {"role": "CHATBOT", "message": "Hi there"},
                ],
            },
            {
                "apiFormat": "COHERE",
                "usage": {"promptTokens": 3, "completionTokens": 2, "totalTokens": 5},
            },
        ],
        api_format="cohere",
    )

    assert [json.loads(p.data)["choices"] for p in pieces] == [
        _chunk({"role": "assistant", "content": "Hi"})["choices"],
        _chunk({"content": " there"})["choices"],
        _chunk({}, "stop")["choices"],
        [],
    ]
    assert pieces[-1].usage_only
    assert done


def test_cohere_stream_tool_calls_on_the_terminal_event() -> None:
    pieces, _ = _stream(
        [
            {
                "apiFormat": "COHERE",
                "text": "",
                "finishReason": "COMPLETE",
                "chatHistory": [],
                "toolCalls": [{"name": "weather", "parameters": {"city": "Paris"}}],
            },
        ],
        api_format="cohere",
    )

    choice = json.loads(pieces[0].data)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["delta"]["role"] == "assistant"
    assert choice["delta"]["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": '{"city":"Paris"}',
    }
    assert pieces[0].finished_choices == 1


def test_stream_error_event_interrupts() -> None:
    decoder = _adapter().stream_decoder(Operation.CHAT, {})
    with pytest.raises(UpstreamStreamInterrupted, match="overloaded"):
        decoder.feed(b'{"code": "InternalServerError", "message": "overloaded"}')
    with pytest.raises(UpstreamBadResponse):
        decoder.feed(b"{not json")
    assert decoder.feed(b"[DONE]").done


# --- embeddings -------------------------------------------------------------------------


def test_embedding_request_uses_embed_text_details() -> None:
    request = _adapter().build_request(
        Operation.EMBEDDING, {"model": "e", "input": ["a", "b"], "dimensions": 256}, stream=False
    )

    assert request.url == f"{BASE}/embedText"
    assert json.loads(request.body) == {
        "inputs": ["a", "b"],
        "servingMode": ON_DEMAND,
        "compartmentId": COMPARTMENT,
        "truncate": "NONE",
        "inputType": "SEARCH_DOCUMENT",
        "outputDimensions": 256,
    }


def test_embedding_options_and_token_inputs() -> None:
    sent = _sent(
        Operation.EMBEDDING,
        {"input": "q"},
        embedding_input_type="SEARCH_QUERY",
        embedding_truncate="END",
    )
    assert (sent["inputs"], sent["inputType"], sent["truncate"]) == (["q"], "SEARCH_QUERY", "END")
    with pytest.raises(UnsupportedParameter):
        _sent(Operation.EMBEDDING, {"input": [1, 2, 3]})


def _embed(request: dict[str, Any], result: dict[str, Any]) -> tuple[Any, Usage | None]:
    adapter = _adapter()
    adapter.build_request(Operation.EMBEDDING, request, stream=False)
    response = UpstreamResponse(status=200, headers={}, body=json.dumps(result).encode())
    reply = adapter.parse_response(Operation.EMBEDDING, request, response)
    return json.loads(reply.body), reply.usage


def test_embedding_reply_is_an_openai_list() -> None:
    body, usage = _embed(
        {"input": ["a", "b"]},
        {
            "id": "r1",
            "modelId": "cohere.embed-v4.0",
            "embeddings": [[0.5, -1.0], [0.25, 2.0]],
            "usage": {"promptTokens": 4, "totalTokens": 4},
        },
    )

    assert body == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
            {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]},
        ],
        "model": "cohere.embed-v4.0",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    assert usage == Usage(prompt_tokens=4, completion_tokens=0)


def test_base64_embeddings_are_little_endian_float32_and_usage_is_estimated() -> None:
    body, usage = _embed(
        {"input": "abcdefgh", "encoding_format": "base64"}, {"embeddings": [[0.5, -1.0]]}
    )

    encoded = body["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(encoded)) == (0.5, -1.0)
    assert body["model"] == MODEL
    assert usage == Usage(prompt_tokens=2, completion_tokens=0, estimated=True)


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "InvalidParameter", UpstreamRejectedRequest),
        (401, "NotAuthenticated", UpstreamAuthFailed),
        (404, "NotAuthorizedOrNotFound", UpstreamAuthFailed),
        (429, "TooManyRequests", UpstreamRateLimited),
        (500, "InternalServerError", UpstreamUnavailable),
        (503, "ServiceUnavailable", UpstreamUnavailable),
        (504, "GatewayTimeout", UpstreamTimeout),
    ],
)
def test_oci_error_bodies_map_to_our_types(status: int, code: str, expected: type) -> None:
    response = UpstreamResponse(
        status=status,
        headers={"opc-request-id": "ABC", "retry-after": "2"},
        body=json.dumps({"code": code, "message": "details"}).encode(),
    )

    error = _adapter().map_error(response)

    assert type(error) is expected
    if expected is UpstreamRateLimited:
        assert error.retry_after_s == 2.0


# --- against the fake upstream --------------------------------------------------------------

TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancy"
USER = "ocid1.user.oc1..aaaaaaaauser"
FINGERPRINT = "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34"


@pytest.fixture(scope="module")
def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def fake(key_pair: rsa.RSAPrivateKey) -> Iterator[FakeUpstream]:
    public = key_pair.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with FakeUpstream(oci_public_keys={f"{TENANCY}/{USER}/{FINGERPRINT}": public}) as server:
        yield server


@pytest.fixture
def oci_config(tmp_path: Path, key_pair: rsa.RSAPrivateKey) -> Path:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        key_pair.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = tmp_path / "config"
    config.write_text(
        f"[DEFAULT]\nuser={USER}\nfingerprint={FINGERPRINT}\ntenancy={TENANCY}\n"
        f"region=us-chicago-1\nkey_file={key_file}\n"
    )
    return config


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    client = HttpTransport(UpstreamSettings())
    await client.start()
    yield client
    await client.aclose()


def _backend(
    fake: FakeUpstream, transport: HttpTransport, config: Path, **fields: Any
) -> HttpBackend:
    deployment = _deployment(base_url=fake.oci_endpoint, config_file=str(config), **fields)
    return HttpBackend(
        info=DeploymentInfo("m", "oci_genai_native", deployment.model, "us-chicago-1", 0),
        adapter=OciGenAINativeAdapter(deployment),
        signer=build_signer(deployment),
        transport=transport,
        timeouts=UpstreamTimeouts(),
    )


CHAT = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ],
    "max_tokens": 20,
}


async def test_fake_generic_chat_round_trip(
    fake: FakeUpstream, transport: HttpTransport, oci_config: Path
) -> None:
    reply = await _backend(fake, transport, oci_config).complete(Operation.CHAT, dict(CHAT))

    body = json.loads(reply.body)
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL
    assert body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] in ("stop", "length")
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0
    assert fake.received[-1].signature_verified is True


@pytest.mark.parametrize("api_format", ["generic", "cohere"])
async def test_fake_stream_ends_complete_with_usage(
    api_format: str, fake: FakeUpstream, transport: HttpTransport, oci_config: Path
) -> None:
    backend = _backend(fake, transport, oci_config, api_format=api_format)

    pieces = [p async for p in backend.stream(Operation.CHAT, dict(CHAT))]

    chunks = [json.loads(p.data) for p in pieces]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert text
    assert sum(p.finished_choices for p in pieces) == 1
    assert pieces[-1].usage_only
    assert pieces[-1].usage is not None
    assert pieces[-1].usage.completion_tokens > 0


async def test_fake_embeddings_round_trip(
    fake: FakeUpstream, transport: HttpTransport, oci_config: Path
) -> None:
    backend = _backend(fake, transport, oci_config, model="cohere.embed-english-v3.0")

    reply = await backend.complete(Operation.EMBEDDING, {"model": "e", "input": ["a b", "c"]})

    body = json.loads(reply.body)
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(isinstance(d["embedding"][0], float) for d in body["data"])
    assert reply.usage is not None
    assert not reply.usage.estimated


async def test_fake_rejects_a_signature_by_an_unknown_key(
    fake: FakeUpstream, transport: HttpTransport, tmp_path: Path
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "stranger.pem"
    key_file.write_bytes(
        stranger.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = tmp_path / "stranger-config"
    config.write_text(
        f"[DEFAULT]\nuser={USER}\nfingerprint={FINGERPRINT}\ntenancy={TENANCY}\n"
        f"region=us-chicago-1\nkey_file={key_file}\n"
    )

    with pytest.raises(UpstreamAuthFailed):
        await _backend(fake, transport, config).complete(Operation.CHAT, dict(CHAT))
    assert fake.received[-1].signature_verified is False

"""The official ``openai`` SDK works against the gateway the same way over every provider flavour.

One fake upstream, one real gateway whose catalog has a chat and an embedding model per
flavour (OpenAI, Azure deployments and v1 routes, OCI with an API key and with IAM request
signing, OCI's native API); every behaviour is written once and parametrized over them.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from gateway_harness import (
    COMPARTMENT,
    FLAVOUR_IDS,
    FLAVOURS,
    KEY_ID,
    REPLY,
    UPSTREAM_KEY,
    Flavour,
    OciIdentity,
    flavour_models,
    gateway_config,
    start_gateway,
)
from openai.types.chat import ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi there"}]
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
CLOCK: Any = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}

pytestmark = pytest.mark.parametrize("flavour", FLAVOURS, ids=FLAVOUR_IDS)


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, oci_identity: OciIdentity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    config = gateway_config(flavour_models(upstream, oci_identity))
    with start_gateway(config, tmp_path_factory.mktemp("gateway")) as running:
        yield running


def _assert_upstream_credential(fake: FakeUpstream, flavour: Flavour) -> None:
    """The upstream saw this flavour's credential and accepted it (signatures verified)."""
    assert fake.received, "the upstream saw no request"
    for seen in fake.received:
        assert (seen.auth, seen.auth_ok) == (flavour.auth, True)
        if flavour.auth == "signature":
            assert (seen.signature_verified, seen.key_id) == (True, KEY_ID)
            # IAM calls bill a compartment: a header on the OpenAI-compatible API, else the body.
            named = seen.headers.get("opc-compartment-id") or seen.body["compartmentId"]
            assert named == COMPARTMENT
        elif flavour.auth == "api-key":
            assert seen.headers["api-key"] == UPSTREAM_KEY
        else:
            assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_chat_answers_with_content_finish_reason_and_usage(
    client: openai.OpenAI, fake: FakeUpstream, flavour: Flavour
) -> None:
    completion = client.chat.completions.create(model=flavour.chat, messages=MESSAGES)
    assert completion.object == "chat.completion"
    [choice] = completion.choices
    assert (choice.message.role, choice.message.content) == ("assistant", REPLY)
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 5
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    [seen] = fake.received
    assert seen.model == flavour.chat_model
    assert not seen.stream
    _assert_upstream_credential(fake, flavour)


def test_stream_without_include_usage_sends_no_usage_chunk(
    client: openai.OpenAI, fake: FakeUpstream, flavour: Flavour
) -> None:
    stream = client.chat.completions.create(model=flavour.chat, messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert chunks
    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]
    [seen] = fake.received
    assert seen.stream  # the gateway still asked the upstream for usage, to meter the stream
    _assert_upstream_credential(fake, flavour)


def test_stream_with_include_usage_ends_with_one_usage_chunk(
    client: openai.OpenAI, flavour: Flavour
) -> None:
    chunks = list(
        client.chat.completions.create(
            model=flavour.chat,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage_chunks = [chunk for chunk in chunks if chunk.usage is not None]
    assert usage_chunks == [chunks[-1]]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert all(chunk.choices for chunk in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == REPLY
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_forced_tool_choice_comes_back_as_a_parsed_tool_call(
    client: openai.OpenAI, fake: FakeUpstream, flavour: Flavour
) -> None:
    completion = client.chat.completions.create(
        model=flavour.chat,
        messages=MESSAGES,
        tools=[CLOCK, WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example", "days": 1}
    [seen] = fake.received
    forced = seen.body.get("tool_choice") or seen.body["chatRequest"]["toolChoice"]
    assert "get_weather" in json.dumps(forced)  # the forced choice reached the upstream


def test_legacy_completions_or_a_clear_unsupported_error(
    client: openai.OpenAI, flavour: Flavour
) -> None:
    if not flavour.completions:
        with pytest.raises(openai.BadRequestError) as refused:
            client.completions.create(model=flavour.chat, prompt="hi there")
        body: Any = refused.value.body
        assert (body["code"], body["param"]) == ("unsupported_parameter", "model")
        assert "completion" in body["message"]
        return
    completion = client.completions.create(model=flavour.chat, prompt="hi there", max_tokens=3)
    assert completion.object == "text_completion"
    [choice] = completion.choices
    assert (choice.text, choice.finish_reason) == ("Hello! You said:", "length")
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_embeddings_base64_decodes_to_the_float_vectors(
    client: openai.OpenAI, fake: FakeUpstream, flavour: Flavour
) -> None:
    inputs = ["hello world", "x"]
    floats = client.embeddings.create(model=flavour.embedding, input=inputs)
    assert [item.index for item in floats.data] == [0, 1]
    assert all(len(item.embedding) == 8 for item in floats.data)
    assert floats.usage.prompt_tokens > 0
    raw = client.embeddings.with_raw_response.create(
        model=flavour.embedding, input=inputs, encoding_format="base64"
    )
    encoded = raw.http_response.json()["data"]
    for item, as_float in zip(encoded, floats.data, strict=True):
        assert isinstance(item["embedding"], str)
        packed = base64.b64decode(item["embedding"])
        decoded = struct.unpack(f"<{len(packed) // 4}f", packed)
        assert decoded == pytest.approx(as_float.embedding, rel=1e-6)
    assert {seen.model for seen in fake.received} == {flavour.embedding_model}
    _assert_upstream_credential(fake, flavour)


def test_models_list_and_retrieve_show_the_catalog(
    client: openai.OpenAI, fake: FakeUpstream, flavour: Flavour
) -> None:
    listed = {model.id: model for model in client.models.list()}
    assert set(listed) == {f.chat for f in FLAVOURS} | {f.embedding for f in FLAVOURS}
    retrieved = client.models.retrieve(flavour.chat)
    assert (retrieved.id, retrieved.object) == (flavour.chat, "model")
    assert retrieved == listed[flavour.chat]
    assert fake.received == []  # the catalog is the gateway's own, no upstream is asked


def test_unknown_model_is_not_found_with_model_not_found_code(
    client: openai.OpenAI, fake: FakeUpstream, flavour: Flavour
) -> None:
    unknown = f"{flavour.chat}-nope"
    with pytest.raises(openai.NotFoundError) as chat:
        client.chat.completions.create(model=unknown, messages=MESSAGES)
    with pytest.raises(openai.NotFoundError) as retrieve:
        client.models.retrieve(unknown)
    for caught in (chat.value, retrieve.value):
        assert caught.code == "model_not_found"
        assert caught.param == "model"
        assert unknown in caught.message
    assert fake.received == []



def test_fields_the_gateway_does_not_know_reach_openai_speaking_upstreams(
    client: openai.OpenAI, fake: FakeUpstream, flavour: Flavour
) -> None:
    extra = {"vendor_option": {"depth": 2}, "reasoning_effort": "low"}
    client.chat.completions.create(
        model=flavour.chat, messages=MESSAGES, seed=7, user="u-1", extra_body=extra
    )
    [seen] = fake.received
    if flavour.name == "oci-native":  # a translation: only the fields OCI's API defines go out
        assert "vendor_option" not in seen.body
        return
    for name, value in {**extra, "seed": 7, "user": "u-1"}.items():
        assert seen.body[name] == value
    if flavour.name == "azure":  # the deployments route names the model in its URL
        assert "model" not in seen.body
    else:
        assert seen.body["model"] == flavour.chat_model  # renamed to the upstream's name

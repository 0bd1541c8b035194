"""The local chat backend on the real SmolLM2 model: OpenAI shapes, usage, stops, seeds, limits."""

from __future__ import annotations

import json

import pytest
from llama_cpp import Llama
from local_bodies import FRANCE, Operation, chat_body, streamed_text

from tenantgate.errors import ContextLengthExceeded, UnsupportedParameter
from tenantgate.local.chat_backend import LocalChatBackend
from tenantgate.local.chat_template import ChatTemplate
from tenantgate.local.model_files import SMOLLM2_135M_INSTRUCT, locate_builtin


async def test_chat_answers_capital_of_france(chat: LocalChatBackend) -> None:
    reply = await chat.complete(Operation.CHAT, chat_body())
    body = json.loads(reply.body)
    assert body["object"] == "chat.completion"
    assert body["model"] == "smollm2-135m-instruct"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert "Paris" in body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == reply.usage.total_tokens  # type: ignore[union-attr]


async def test_chat_stream_opens_with_role_and_ends_with_usage_only_chunk(
    chat: LocalChatBackend,
) -> None:
    pieces = [p async for p in chat.stream(Operation.CHAT, chat_body())]
    chunks = [json.loads(p.data) for p in pieces]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "Paris" in streamed_text(pieces)
    assert len(pieces) > 4  # token by token, not one blob
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert pieces[-2].finished_choices == 1
    assert pieces[-1].usage_only
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == pieces[-1].usage.completion_tokens  # type: ignore[union-attr]


async def test_stream_and_plain_answers_are_identical_at_temperature_zero(
    chat: LocalChatBackend,
) -> None:
    reply = await chat.complete(Operation.CHAT, chat_body())
    pieces = [p async for p in chat.stream(Operation.CHAT, chat_body())]
    assert json.loads(reply.body)["choices"][0]["message"]["content"] == streamed_text(pieces)
    assert reply.usage == pieces[-1].usage


async def test_usage_equals_llama_tokenizer_count_and_llama_own_completion(
    chat: LocalChatBackend,
) -> None:
    reply = await chat.complete(Operation.CHAT, chat_body())
    system = chat.defaults.system_prompt
    assert system is not None  # the built-in deployment brings its own system prompt
    transcript = [{"role": "system", "content": system}, {"role": "user", "content": FRANCE}]
    llm = Llama(model_path=str(locate_builtin(SMOLLM2_135M_INSTRUCT).model_path),
                n_ctx=2048, n_threads=1, verbose=False)
    try:
        template = ChatTemplate.from_llama(llm)
        assert template is not None
        formatted = template.format((("system", system), ("user", FRANCE)))
        expected_prompt = llm.tokenize(formatted.prompt.encode(), add_bos=False, special=True)
        direct = llm.create_chat_completion(
            messages=transcript, temperature=0, max_tokens=24  # type: ignore[arg-type]
        )
    finally:
        llm.close()
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == len(expected_prompt)
    assert reply.usage.prompt_tokens == direct["usage"]["prompt_tokens"]
    assert reply.usage.completion_tokens == direct["usage"]["completion_tokens"]
    assert json.loads(reply.body)["choices"][0]["message"]["content"] == (
        direct["choices"][0]["message"]["content"]
    )


async def test_stop_sequence_ends_the_answer_before_the_stop(chat: LocalChatBackend) -> None:
    body = {"model": "m", "prompt": "1, 2, 3, 4, 5,", "max_tokens": 20, "temperature": 0,
            "stop": [" 8"]}
    reply = await chat.complete(Operation.COMPLETION, body)
    answer = json.loads(reply.body)
    assert answer["object"] == "text_completion"
    assert answer["choices"][0]["text"] == " 6, 7,"
    assert answer["choices"][0]["finish_reason"] == "stop"


async def test_legacy_completion_streams_text_chunks(chat: LocalChatBackend) -> None:
    body = {"model": "m", "prompt": "1, 2, 3, 4, 5,", "max_tokens": 6, "temperature": 0}
    pieces = [p async for p in chat.stream(Operation.COMPLETION, body)]
    chunks = [json.loads(p.data) for p in pieces]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert streamed_text(pieces).startswith(" 6, 7")
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert pieces[-1].usage is not None
    assert pieces[-1].usage.completion_tokens == 6


async def test_same_seed_gives_the_same_sampled_answer(chat: LocalChatBackend) -> None:
    body = chat_body("Tell me a short story.", temperature=1.0, seed=1234, max_tokens=16)
    first = json.loads((await chat.complete(Operation.CHAT, body)).body)
    second = json.loads((await chat.complete(Operation.CHAT, body)).body)
    assert first["choices"][0]["message"] == second["choices"][0]["message"]


async def test_max_completion_tokens_caps_the_answer(chat: LocalChatBackend) -> None:
    body = chat_body("Tell me a long story.", max_completion_tokens=5, max_tokens=50)
    reply = await chat.complete(Operation.CHAT, body)
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 5
    assert json.loads(reply.body)["choices"][0]["finish_reason"] == "length"


async def test_prompt_longer_than_the_context_is_rejected_in_openai_words(
    make_chat: object,
) -> None:
    backend = await make_chat(context_tokens=256)  # type: ignore[operator]
    with pytest.raises(ContextLengthExceeded) as too_long:
        await backend.complete(Operation.CHAT, chat_body("word " * 400))
    assert too_long.value.message.startswith(
        "This model's maximum context length is 256 tokens. However, your messages resulted in "
    )
    assert too_long.value.param == "messages"
    with pytest.raises(ContextLengthExceeded) as too_much:
        await backend.complete(Operation.CHAT, chat_body(max_tokens=250))
    assert "However, you requested" in too_much.value.message


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
    ],
)
async def test_unsupported_parameters_are_rejected_by_name(
    chat: LocalChatBackend, extra: dict[str, object], param: str
) -> None:
    with pytest.raises(UnsupportedParameter) as rejected:
        await chat.complete(Operation.CHAT, chat_body(**extra))
    assert rejected.value.param == param

"""A real ``tenantgate serve`` with no model configuration, driven by the official ``openai`` SDK.

The gateway runs on an empty config (only the temporary SQLite storage that
``run_gateway`` adds), so everything here comes from the embedded defaults: the catalog, the
built-in system prompt and greedy decoding of SmolLM2, the MiniLM embeddings and the memory
gauge. The in-process backend tests live beside this file; these prove the same bar through
HTTP, the CLI and the SDK.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest
from llama_cpp import Llama
from prometheus_client.parser import text_string_to_metric_families

from tenantgate.local.chat_template import ChatTemplate
from tenantgate.local.model_files import (
    BUILTIN_MODELS,
    MINILM_L6_V2_INT8,
    SMOLLM2_135M_INSTRUCT,
    locate_builtin,
)
from tenantgate.testing.gateway_process import RunningGateway, run_gateway

CHAT = "smollm2-135m-instruct"
EMBED = "all-minilm-l6-v2"
FRANCE = "What is the capital of France?"  # the README's first request, word for word
COUNTING = "1, 2, 3, 4, 5,"
REQUEST_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    """One gateway on an empty configuration, shared by the module."""
    with run_gateway({}) as running:
        yield running


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.openai_base_url, api_key="unused",
                       timeout=REQUEST_TIMEOUT_S, max_retries=0) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def llama() -> Iterator[Llama]:
    """The same GGUF file the gateway serves, loaded directly in the test process."""
    # One batch thread as well: llama.cpp's default (every core) spins against the gateway.
    llm = Llama(model_path=str(locate_builtin(SMOLLM2_135M_INSTRUCT).model_path),
                n_ctx=2048, n_threads=1, n_threads_batch=1, verbose=False)
    yield llm
    llm.close()


def _ask_france(client: openai.OpenAI) -> openai.types.chat.ChatCompletion:
    # No temperature, no max_tokens, no system message: the built-in deployment's defaults.
    return client.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": FRANCE}]
    )


def test_models_lists_both_embedded_defaults(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids == [CHAT, EMBED]
    assert client.models.retrieve(CHAT).owned_by == "tenantgate-local"


def test_plain_chat_answers_paris_with_the_builtin_defaults(client: openai.OpenAI) -> None:
    reply = _ask_france(client)
    choice = reply.choices[0]
    assert reply.model == CHAT
    assert choice.message.role == "assistant"
    assert choice.message.content is not None
    assert "Paris" in choice.message.content
    assert choice.finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streamed_chat_arrives_token_by_token_and_ends_with_usage(client: openai.OpenAI) -> None:
    plain = _ask_france(client)
    arrivals: list[float] = []
    chunks = []
    stream = client.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": FRANCE}], stream=True,
        stream_options={"include_usage": True},
    )
    with stream:
        for chunk in stream:
            chunks.append(chunk)
            arrivals.append(time.perf_counter())
    content = [(c, t) for c, t in zip(chunks, arrivals, strict=True)
               if c.choices and c.choices[0].delta.content]
    text = "".join(c.choices[0].delta.content or "" for c, _ in content)
    assert "Paris" in text
    assert text == plain.choices[0].message.content  # greedy: the same answer either way
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(content) >= 4, f"expected one chunk per token, got {len(content)}"
    # One chunk per token, sent as each token is decoded: not one burst at the end.
    assert content[-1][1] - content[0][1] > 0.02
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage == plain.usage
    assert chunks[-1].usage.completion_tokens == len(content)


def test_chat_usage_equals_llama_own_count_of_the_builtin_transcript(
    client: openai.OpenAI, llama: Llama
) -> None:
    reply = _ask_france(client)
    system = BUILTIN_MODELS[SMOLLM2_135M_INSTRUCT].system_prompt
    assert system is not None
    template = ChatTemplate.from_llama(llama)
    assert template is not None
    formatted = template.format((("system", system), ("user", FRANCE)))
    expected_prompt = llama.tokenize(formatted.prompt.encode("utf-8"),
                                     add_bos=not formatted.added_special, special=True)
    direct = llama.create_chat_completion(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": FRANCE}],
        temperature=0, max_tokens=512,
    )
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == len(expected_prompt)
    assert reply.usage.prompt_tokens == direct["usage"]["prompt_tokens"]  # type: ignore[index]
    assert reply.usage.completion_tokens == direct["usage"]["completion_tokens"]  # type: ignore[index]
    assert reply.choices[0].message.content == direct["choices"][0]["message"]["content"]  # type: ignore[index]
    answer = reply.choices[0].message.content or ""
    retokenized = llama.tokenize(answer.encode("utf-8"), add_bos=False, special=False)
    assert reply.usage.completion_tokens == len(retokenized)


def test_legacy_completion_usage_equals_llama_own_completion(
    client: openai.OpenAI, llama: Llama
) -> None:
    reply = client.completions.create(model=CHAT, prompt=COUNTING, max_tokens=6)
    direct = llama.create_completion(COUNTING, max_tokens=6, temperature=0)
    assert reply.object == "text_completion"
    assert reply.choices[0].text == direct["choices"][0]["text"]  # type: ignore[index]
    assert reply.choices[0].text.startswith(" 6, 7")
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == direct["usage"]["prompt_tokens"]  # type: ignore[index]
    assert reply.usage.completion_tokens == direct["usage"]["completion_tokens"] == 6  # type: ignore[index]


PAIRS = [
    ("How do I reset my password?", "Steps to change a forgotten account password",
     "The giraffe is the tallest living land animal."),
    ("A cat is sleeping on the sofa.", "A kitten naps on the couch.",
     "Interest rates rose again this quarter."),
    ("The weather is sunny and warm today.", "It is a bright, hot day outside.",
     "Compile the program with optimisations enabled."),
]


def _floats(reply: openai.types.CreateEmbeddingResponse) -> np.ndarray:
    return np.array([row.embedding for row in reply.data], dtype=np.float32)


def test_embeddings_have_384_dimensions_and_rank_related_texts_closer(
    client: openai.OpenAI,
) -> None:
    for anchor, related, unrelated in PAIRS:
        reply = client.embeddings.create(model=EMBED, input=[anchor, related, unrelated],
                                         encoding_format="float")
        vectors = _floats(reply)
        assert vectors.shape == (3, 384)
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        close, far = float(unit[0] @ unit[1]), float(unit[0] @ unit[2])
        assert close - far > 0.3, f"{anchor!r}: related {close:.2f}, unrelated {far:.2f}"


def test_base64_embeddings_decode_to_the_float_vectors(client: openai.OpenAI) -> None:
    texts = [PAIRS[0][0], PAIRS[1][0]]
    floats = _floats(client.embeddings.create(model=EMBED, input=texts, encoding_format="float"))
    raw = client.embeddings.create(model=EMBED, input=texts, encoding_format="base64")
    encoded = [row.embedding for row in raw.data]
    assert all(isinstance(row, str) for row in encoded)
    decoded = np.array([np.frombuffer(base64.b64decode(row), dtype="<f4") for row in encoded])  # type: ignore[arg-type]
    assert np.array_equal(decoded, floats)
    # The SDK asks for base64 by itself when no format is given, and decodes it.
    assert np.array_equal(_floats(client.embeddings.create(model=EMBED, input=texts)), floats)


def test_a_batch_returns_one_vector_per_input_in_order(client: openai.OpenAI) -> None:
    texts = [text for triple in PAIRS for text in triple[:2]]
    batch = client.embeddings.create(model=EMBED, input=texts, encoding_format="float")
    assert [row.index for row in batch.data] == list(range(len(texts)))
    vectors = _floats(batch)
    for i, text in enumerate(texts):
        single = _floats(client.embeddings.create(model=EMBED, input=text, encoding_format="float"))
        assert np.allclose(vectors[i], single[0], atol=1e-5), f"input {i} is out of place"
    assert batch.usage.prompt_tokens > len(texts)


async def test_eight_concurrent_streaming_clients_all_finish_with_usage(
    gateway: RunningGateway,
) -> None:
    async def one(sdk: openai.AsyncOpenAI, i: int) -> tuple[str | None, int]:
        stream = await sdk.chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": f"Say hello to person {i}."}],
            max_tokens=8, stream=True, stream_options={"include_usage": True},
        )
        finish, usage, pieces = None, None, 0
        async with stream:
            async for chunk in stream:
                if chunk.choices:
                    finish = chunk.choices[0].finish_reason or finish
                    pieces += bool(chunk.choices[0].delta.content)
                usage = chunk.usage or usage
        assert usage is not None, f"client {i} got no usage chunk"
        assert 1 <= usage.completion_tokens <= 8
        assert pieces >= 1
        return finish, usage.completion_tokens

    async with openai.AsyncOpenAI(base_url=gateway.openai_base_url, api_key="unused",
                                  timeout=REQUEST_TIMEOUT_S, max_retries=0) as sdk:
        results = await asyncio.wait_for(asyncio.gather(*(one(sdk, i) for i in range(8))), 90)
    assert len(results) == 8
    for finish, completion_tokens in results:
        assert finish == ("length" if completion_tokens == 8 else "stop")


def test_metrics_report_the_memory_of_the_loaded_local_models(
    client: openai.OpenAI, gateway: RunningGateway
) -> None:
    client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Hi"}],
                                   max_tokens=1)
    client.embeddings.create(model=EMBED, input="hello")
    text = httpx.get(gateway.base_url + "/metrics", timeout=REQUEST_TIMEOUT_S).text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    memory = {sample.labels["model"]: sample.value
              for sample in families["tenantgate_local_model_memory_bytes"].samples}
    assert set(memory) == {CHAT, EMBED}
    # At least the files it read (the chat model adds its KV cache on top).
    assert memory[CHAT] > locate_builtin(SMOLLM2_135M_INSTRUCT).size_bytes
    assert memory[EMBED] >= locate_builtin(MINILM_L6_V2_INT8).size_bytes


def test_each_model_load_is_logged_before_and_after(
    client: openai.OpenAI, gateway: RunningGateway
) -> None:
    client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Hi"}],
                                   max_tokens=1)
    client.embeddings.create(model=EMBED, input="hello")
    lines = [json.loads(line) for line in gateway.logs().splitlines() if line.startswith("{")]
    messages = [line["msg"] for line in lines]
    for kind in ("chat", "embedding"):
        loading = messages.index(f"loading local {kind} model")
        loaded = messages.index(f"local {kind} model loaded")
        assert loading < loaded
        assert lines[loaded]["load_ms"] > 0
        assert lines[loading]["size_bytes"] > 0

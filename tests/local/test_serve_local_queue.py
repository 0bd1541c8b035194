"""The local model's queue through a real ``tenantgate serve``: full, freed by a disconnect, late.

The local chat model decodes one request at a time. A long counting chat stream holds that
slot; it is read over HTTP for a few chunks and then dropped, which is exactly what a client
that goes away does. Every wait here has a deadline, so a queue that hangs fails the test
instead of stalling the suite.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest

from tenantgate.testing.gateway_process import RunningGateway, run_gateway

CHAT = "smollm2-135m-instruct"
REQUEST_TIMEOUT_S = 30.0
QUEUED_S = 0.5  # a request sent this long ago has reached the queue on any loaded machine
# Greedy SmolLM2 counts on until max_tokens (measured), so this holds the slot for seconds.
# It is a chat like the queued ones, so they reuse its cached built-in system prompt, as a
# chat model's clients do; the queued request's first token then waits only on the slot.
COUNT = "Count from 1 to 1000, separated by commas."
HOLD = {"model": CHAT, "messages": [{"role": "user", "content": COUNT}], "max_tokens": 200,
        "stream": True}
SHORT = {"model": CHAT, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
DEADLINE_MS = 500


@pytest.fixture(scope="module")
def queue_gateway() -> Iterator[RunningGateway]:
    """A gateway whose local queue holds a single waiting request, its chat model loaded."""
    with run_gateway({"local": {"queue_max": 1}}) as running:
        _short_chat(running)
        yield running


@pytest.fixture(scope="module")
def tight_gateway() -> Iterator[RunningGateway]:
    """A gateway with a short queue deadline and the smallest context window."""
    with run_gateway({"local": {"queue_deadline_ms": DEADLINE_MS, "context_tokens": 256}}) as running:
        yield running


@pytest.fixture
def background() -> Iterator[ThreadPoolExecutor]:
    """Threads for requests that must wait in the queue while the test goes on."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def _sdk(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base_url, api_key="unused",
                         timeout=REQUEST_TIMEOUT_S, max_retries=0)


def _data_events(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    """The next ``count`` SSE data payloads of a stream's lines."""
    events: list[dict[str, Any]] = []
    for line in lines:
        if line.startswith("data: "):
            events.append(json.loads(line.removeprefix("data: ")))
            if len(events) == count:
                break
    return events


@contextlib.contextmanager
def _holding_the_slot(gateway: RunningGateway) -> Iterator[None]:
    """Hold the model's only slot with a streamed chat; leaving drops the connection."""
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http, http.stream(
        "POST", gateway.openai_base_url + "/chat/completions", json=HOLD
    ) as response:
        assert response.status_code == 200
        # Keep the one line iterator alive: a dropped httpx iterator closes the connection.
        lines = response.iter_lines()
        assert len(_data_events(lines, 3)) == 3  # generating: the slot is taken
        yield
        assert len(_data_events(lines, 1)) == 1  # still generating until the disconnect


def _post(gateway: RunningGateway, path: str, body: dict[str, Any]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = httpx.post(gateway.openai_base_url + path, json=body, timeout=REQUEST_TIMEOUT_S)
    return response, time.perf_counter() - started


def _assert_openai_error(response: httpx.Response, status: int, error_type: str, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == error_type
    assert error["code"] == code
    assert error["message"]


def _retry_after_s(response: httpx.Response) -> int:
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 60
    return seconds


def _first_token_at(gateway: RunningGateway) -> tuple[float, int]:
    """Stream a short chat; when its first text arrived, and its completion tokens."""
    first_at, completion_tokens = 0.0, -1
    with _sdk(gateway) as sdk, sdk.chat.completions.create(
        **{**SHORT, "max_tokens": 8}, stream=True, stream_options={"include_usage": True},
    ) as stream:
        for chunk in stream:
            if not first_at and chunk.choices and chunk.choices[0].delta.content:
                first_at = time.perf_counter()
            if chunk.usage is not None:
                completion_tokens = chunk.usage.completion_tokens
    return first_at, completion_tokens


def _short_chat(gateway: RunningGateway) -> str | None:
    with _sdk(gateway) as sdk:
        reply = sdk.chat.completions.create(**SHORT)
    return reply.choices[0].finish_reason


def test_a_full_queue_answers_429_with_retry_after_at_once(
    queue_gateway: RunningGateway, background: ThreadPoolExecutor
) -> None:
    queued: Future[str | None]
    with _holding_the_slot(queue_gateway):
        queued = background.submit(_short_chat, queue_gateway)
        time.sleep(QUEUED_S)
        refused, waited_s = _post(queue_gateway, "/chat/completions", SHORT)
        _assert_openai_error(refused, 429, "rate_limit_error", "local_queue_full")
        _retry_after_s(refused)
        assert waited_s < 1.0, f"the refusal took {waited_s:.2f} s"
        streamed, waited_s = _post(queue_gateway, "/chat/completions", {**SHORT, "stream": True})
        _assert_openai_error(streamed, 429, "rate_limit_error", "local_queue_full")
        assert waited_s < 1.0
        with _sdk(queue_gateway) as sdk, pytest.raises(openai.RateLimitError) as caught:
            sdk.chat.completions.create(**SHORT)
        assert caught.value.code == "local_queue_full"
        assert int(caught.value.response.headers["retry-after"]) >= 1
        assert not queued.done()  # still waiting behind the held slot
    assert queued.result(timeout=REQUEST_TIMEOUT_S) in {"stop", "length"}


def test_a_client_that_disconnects_frees_the_slot_for_the_queued_request_within_a_second(
    queue_gateway: RunningGateway, background: ThreadPoolExecutor
) -> None:
    with _holding_the_slot(queue_gateway):
        queued = background.submit(_first_token_at, queue_gateway)
        time.sleep(QUEUED_S)
        refused, _ = _post(queue_gateway, "/chat/completions", SHORT)
        assert refused.status_code == 429  # the queued request is the one waiting
        disconnected_at = time.perf_counter()
    first_at, completion_tokens = queued.result(timeout=REQUEST_TIMEOUT_S)
    waited_s = first_at - disconnected_at
    assert 0 < waited_s < 1.0, f"first token {waited_s:.3f} s after the disconnect"
    assert 1 <= completion_tokens <= 8


@pytest.mark.parametrize("stream", [False, True])
def test_waiting_past_the_queue_deadline_answers_503_with_retry_after(
    tight_gateway: RunningGateway, stream: bool
) -> None:
    with _holding_the_slot(tight_gateway):
        late, waited_s = _post(tight_gateway, "/chat/completions", {**SHORT, "stream": stream})
    _assert_openai_error(late, 503, "server_error", "local_queue_deadline_exceeded")
    _retry_after_s(late)
    assert DEADLINE_MS / 1000 * 0.9 < waited_s < DEADLINE_MS / 1000 + 2.0


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_longer_than_the_context_window_is_a_400_via_the_sdk(
    tight_gateway: RunningGateway, stream: bool
) -> None:
    with _sdk(tight_gateway) as sdk, pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": "word " * 400}], stream=stream
        )
    error = caught.value
    assert error.status_code == 400
    assert error.code == "context_length_exceeded"
    assert error.type == "invalid_request_error"
    assert error.param == "messages"
    assert isinstance(error.body, dict)
    assert set(error.body) == {"message", "type", "param", "code"}
    assert str(error.body["message"]).startswith(
        "This model's maximum context length is 256 tokens. However, your messages resulted in "
    )


def test_a_legacy_prompt_longer_than_the_context_window_is_a_400_naming_the_prompt(
    tight_gateway: RunningGateway,
) -> None:
    with _sdk(tight_gateway) as sdk, pytest.raises(openai.BadRequestError) as caught:
        sdk.completions.create(model=CHAT, prompt="word " * 400, max_tokens=4)
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.param == "prompt"

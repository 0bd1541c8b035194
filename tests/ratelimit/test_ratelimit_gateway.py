"""Rate limits end to end on one gateway process (in-process counters), with the real SDK.

Requests per minute count down in OpenAI's headers and end in a ``RateLimitError`` the SDK
raises with those headers; tokens per minute are charged an estimate and corrected to the
usage; a concurrency slot comes back when its call ends, fails or loses its client; every
inference response carries the headers, errors and streams included.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from ratelimit_gateways import ENV, gateway_config, key_id

from tenantgate.ratelimit.estimate import token_estimate
from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, run_gateway

RPM_KEY, TPM_KEY, SLOT_KEY, WIDE_KEY = "sk-rpm", "sk-tpm", "sk-slot", "sk-wide"
TPM = 1000
HI = [{"role": "user", "content": "one two three four five six"}]
DURATION = re.compile(r"^(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    rules = [
        {"scope": "key", "match": key_id(RPM_KEY), "requests_per_minute": 5},
        {"scope": "key", "match": key_id(TPM_KEY), "tokens_per_minute": TPM},
        {"scope": "key", "match": key_id(SLOT_KEY), "concurrent_requests": 1},
        {"scope": "key", "match": key_id(WIDE_KEY), "requests_per_minute": 1000, "tokens_per_minute": 10**6},
    ]
    config = gateway_config(upstream, [RPM_KEY, TPM_KEY, SLOT_KEY, WIDE_KEY], rules)
    with run_gateway(config, env=ENV, workdir=tmp_path_factory.mktemp("gateway")) as running:
        yield running


def sdk(gateway: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0, timeout=15)


def post(gateway: RunningGateway, key: str, **body) -> httpx.Response:
    return httpx.post(f"{gateway.base_url}/v1/chat/completions", timeout=15,
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": "chat", "messages": HI, "max_tokens": 5, **body})


def chat_calls(fake: FakeUpstream) -> int:
    return len([r for r in fake.received if r.path.endswith("/chat/completions")])


def test_requests_count_down_in_headers_then_the_sdk_raises_rate_limit_error_with_them(
    gateway: RunningGateway, fake: FakeUpstream,
):
    with sdk(gateway, RPM_KEY) as client:
        remaining = []
        for _ in range(5):
            raw = client.chat.completions.with_raw_response.create(model="chat", messages=HI, max_tokens=5)
            assert raw.headers["x-ratelimit-limit-requests"] == "5"
            assert DURATION.match(raw.headers["x-ratelimit-reset-requests"])
            remaining.append(int(raw.headers["x-ratelimit-remaining-requests"]))
            assert "x-ratelimit-limit-tokens" not in raw.headers  # this key has no token limit
        assert remaining == [4, 3, 2, 1, 0]
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model="chat", messages=HI, max_tokens=5)
    error = refused.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert error.type == "rate_limit_error"
    assert "requests per minute" in error.message
    headers = error.response.headers
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert 1 <= int(headers["retry-after"]) <= 60
    assert 0 < int(headers["retry-after-ms"]) <= 60_000
    assert chat_calls(fake) == 5  # the refused call never reached the upstream


def test_tokens_are_charged_an_estimate_and_corrected_to_the_usage_at_the_end(
    gateway: RunningGateway, fake: FakeUpstream,
):
    body = {"model": "chat", "messages": HI, "max_tokens": 5}
    estimate = token_estimate("chat", body, ["gpt-4o-mini"], cap=None, default=4096)
    first = post(gateway, TPM_KEY)
    assert first.status_code == 200, first.text
    used_first = first.json()["usage"]["total_tokens"]
    assert used_first < estimate
    assert first.headers["x-ratelimit-limit-tokens"] == str(TPM)
    assert int(first.headers["x-ratelimit-remaining-tokens"]) == TPM - estimate
    assert "x-ratelimit-limit-requests" not in first.headers
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", timeout=15,
                      headers={"authorization": f"Bearer {TPM_KEY}"},
                      json={**body, "stream": True, "stream_options": {"include_usage": True}}) as streamed:
        assert int(streamed.headers["x-ratelimit-remaining-tokens"]) == TPM - used_first - estimate
        text = streamed.read().decode()
    assert text.endswith("data: [DONE]\n\n")
    used_stream = int(re.findall(r'"total_tokens":\s*(\d+)', text)[-1])
    third = post(gateway, TPM_KEY)
    assert int(third.headers["x-ratelimit-remaining-tokens"]) == TPM - used_first - used_stream - estimate
    too_large = post(gateway, TPM_KEY, max_tokens=2 * TPM)
    assert too_large.status_code == 429
    assert too_large.json()["error"]["code"] == "rate_limit_exceeded"
    assert "Request too large" in too_large.json()["error"]["message"]
    assert chat_calls(fake) == 3


def _in_background(work) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _eventually_admitted(gateway: RunningGateway, within_s: float = 2.0) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while True:
        answer = post(gateway, SLOT_KEY)
        if answer.status_code != 429 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_a_concurrency_slot_is_released_when_its_call_completes(gateway: RunningGateway):
    started = time.monotonic()
    slow = _in_background(lambda: post(gateway, SLOT_KEY, model="slow"))  # ~1 s to its first token
    time.sleep(0.3)
    refused = post(gateway, SLOT_KEY)
    assert refused.status_code == 429, refused.text
    assert refused.headers["retry-after"] == "1"
    assert "concurrent requests" in refused.json()["error"]["message"]
    slow.join(timeout=10)
    assert post(gateway, SLOT_KEY).status_code == 200
    assert time.monotonic() - started < 5


def test_a_concurrency_slot_is_released_when_the_client_disconnects(gateway: RunningGateway):
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", timeout=15,
                      headers={"authorization": f"Bearer {SLOT_KEY}"},
                      json={"model": "stalls-mid-stream", "messages": HI, "stream": True}) as response:
        assert response.status_code == 200
        lines = response.iter_lines()  # kept: a dropped iterator closes the response
        assert next(lines).startswith("data: ")  # the first chunk, then the upstream stalls for 5 s
        assert post(gateway, SLOT_KEY).status_code == 429
    # the connection is closed here, long before the stall ends
    answer = _eventually_admitted(gateway, within_s=2.0)
    assert answer.status_code == 200, answer.text


def test_a_concurrency_slot_is_released_when_the_call_fails(gateway: RunningGateway):
    failed = post(gateway, SLOT_KEY, model="broken")
    assert failed.status_code >= 500
    assert post(gateway, SLOT_KEY).status_code == 200


def test_every_inference_response_carries_the_headers_errors_and_streams_included(gateway: RunningGateway):
    answers = {
        "json": post(gateway, WIDE_KEY),
        "upstream error": post(gateway, WIDE_KEY, model="broken"),
        "upstream rejects": post(gateway, WIDE_KEY, model="rejects"),
    }
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", timeout=15,
                      headers={"authorization": f"Bearer {WIDE_KEY}"},
                      json={"model": "chat", "messages": HI, "stream": True}) as streamed:
        streamed.read()
        answers["stream"] = streamed
    counts = []
    statuses = [a.status_code for a in answers.values()]
    assert (statuses[0], statuses[2], statuses[3]) == (200, 400, 200)
    assert statuses[1] in (502, 503)  # 503 once the deployment's breaker opened
    for name, answer in answers.items():
        assert answer.headers["x-ratelimit-limit-requests"] == "1000", name
        assert answer.headers["x-ratelimit-limit-tokens"] == str(10**6), name
        counts.append(int(answer.headers["x-ratelimit-remaining-requests"]))
    assert counts == sorted(counts, reverse=True)
    assert len(set(counts)) == len(counts)

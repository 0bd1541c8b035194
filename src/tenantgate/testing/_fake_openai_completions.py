"""OpenAI's legacy ``/completions`` on the wire (``CreateCompletionResponse``).

Like OpenAI, ``max_tokens`` defaults to 16; a list of prompts gives ``n`` choices per prompt,
indexed ``prompt_index * n + j``; streaming ends with a finish chunk, the optional usage chunk
and ``data: [DONE]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tenantgate.testing._fake_openai_chat import FINGERPRINT, usage_object
from tenantgate.testing._fake_outcome import (
    SSE_DONE,
    FakeRequestError,
    JsonOutcome,
    Outcome,
    StreamOutcome,
    encode_json,
    sse_event,
)
from tenantgate.testing._fake_reply import Reply, Responder, count_words, plan_text_reply

LEGACY_DEFAULT_MAX_TOKENS = 16


def _prompts(body: Mapping[str, Any]) -> list[str]:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, int) for p in prompt):
            return [" ".join(str(p) for p in prompt)]
        return [p if isinstance(p, str) else " ".join(str(t) for t in p) for p in prompt]
    raise FakeRequestError("'prompt' is a required property", param="prompt")


def _logprobs(reply: Reply, top: int) -> dict[str, Any]:
    offsets, position = [], 0
    for piece in reply.pieces:
        offsets.append(position)
        position += len(piece)
    return {
        "tokens": list(reply.pieces),
        "token_logprobs": [-0.1] * len(reply.pieces),
        "top_logprobs": [{p: -0.1} for p in reply.pieces] if top else None,
        "text_offset": offsets,
    }


def completion(
    body: Mapping[str, Any], *, model: str, responder: Responder, rid: str, created: int
) -> Outcome:
    """The response to one legacy completion request, streamed or not."""
    prompts = _prompts(body)
    n = int(body.get("n") or 1)
    max_tokens = body.get("max_tokens", LEGACY_DEFAULT_MAX_TOKENS)
    stop = body.get("stop")
    stops = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
    replies = [
        plan_text_reply(responder(p), max_tokens=max_tokens, stop=stops, json_mode=False)
        for p in prompts
        for _ in range(n)
    ]
    prompt_tokens = sum(count_words(p) for p in prompts)
    usage = usage_object(prompt_tokens, sum(r.completion_tokens for r in replies))
    logprobs = body.get("logprobs")
    base: dict[str, Any] = {
        "id": f"cmpl-{rid}",
        "object": "text_completion",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
    }
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return _stream(base, replies, usage if include_usage else None)
    choices = [
        {
            "text": reply.text,
            "index": i,
            "logprobs": _logprobs(reply, int(logprobs)) if logprobs is not None else None,
            "finish_reason": reply.finish_reason,
        }
        for i, reply in enumerate(replies)
    ]
    return JsonOutcome(encode_json({**base, "choices": choices, "usage": usage}))


def _stream(
    base: dict[str, Any], replies: list[Reply], usage: dict[str, Any] | None
) -> StreamOutcome:
    head = {**base, "usage": None} if usage is not None else base
    events: list[bytes] = []
    for index, reply in enumerate(replies):
        events += [
            sse_event(
                {
                    **head,
                    "choices": [
                        {"text": p, "index": index, "logprobs": None, "finish_reason": None}
                    ],
                }
            )
            for p in reply.pieces
        ]
        events.append(
            sse_event(
                {
                    **head,
                    "choices": [
                        {
                            "text": "",
                            "index": index,
                            "logprobs": None,
                            "finish_reason": reply.finish_reason,
                        }
                    ],
                }
            )
        )
    usage_at = None
    if usage is not None:
        usage_at = len(events)
        events.append(sse_event({**base, "choices": [], "usage": usage}))
    events.append(SSE_DONE)
    return StreamOutcome(events, usage_at=usage_at, done_at=len(events) - 1)

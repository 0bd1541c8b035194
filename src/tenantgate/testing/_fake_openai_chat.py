"""OpenAI ``/chat/completions`` on the wire: request reading and response/chunk building.

Shapes follow ``CreateChatCompletionResponse`` and ``CreateChatCompletionStreamResponse`` in
the OpenAI OpenAPI spec.  Streaming mirrors OpenAI exactly: a first chunk per choice with
``role: assistant`` and empty content, one chunk per word, a chunk with ``delta: {}`` and the
finish reason, then (with ``stream_options.include_usage``) a ``choices: []`` chunk carrying the
usage, every earlier chunk having ``"usage": null``, and finally ``data: [DONE]``.  Tool calls
stream in OpenAI's delta form: id, type and name first, then the arguments in pieces.

Azure adds ``prompt_filter_results``; with ``azure=True`` a non-streamed body carries it and a
stream opens with Azure's empty-choices chunk that carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tenantgate.testing._fake_outcome import (
    SSE_DONE,
    FakeRequestError,
    JsonOutcome,
    Outcome,
    StreamOutcome,
    encode_json,
    sse_event,
)
from tenantgate.testing._fake_reply import (
    Reply,
    Responder,
    choose_tool,
    count_words,
    plan_text_reply,
    plan_tool_reply,
)

FINGERPRINT = "fp_fake"
_AZURE_FILTERS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
_AZURE_PROMPT_FILTERS = [{"prompt_index": 0, "content_filter_results": _AZURE_FILTERS}]


def message_text(content: Any) -> str:
    """Text of an OpenAI message ``content``: a string or a list of parts (text parts only)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "") for part in content if isinstance(part, dict) and "text" in part
        )
    return ""


def read_messages(body: Mapping[str, Any]) -> tuple[str, int]:
    """The last user message's text and the prompt's token count."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise FakeRequestError("'messages' is a required property", param="messages")
    prompt_tokens = 0
    last_user = ""
    for message in messages:
        if not isinstance(message, dict):
            raise FakeRequestError("Invalid type for 'messages[]'", param="messages")
        text = message_text(message.get("content"))
        prompt_tokens += count_words(text)
        if message.get("role") == "user":
            last_user = text
    return last_user, prompt_tokens


def _stop_list(stop: Any) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else [str(s) for s in stop]


def _plan_replies(
    body: Mapping[str, Any], user_text: str, responder: Responder, rid: str
) -> list[Reply]:
    n = int(body.get("n") or 1)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    tools = [
        (t["function"]["name"], t["function"].get("parameters"))
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    tool_choice = body.get("tool_choice")
    if tools and tool_choice != "none":
        forced = tool_choice["function"]["name"] if isinstance(tool_choice, dict) else None
        chosen = choose_tool(tools, forced)
        if chosen is None:
            raise FakeRequestError(f"Tool '{forced}' not found in tools", param="tool_choice")
        return [
            plan_tool_reply(chosen[0], chosen[1], f"call_{rid}_{i}", max_tokens) for i in range(n)
        ]
    response_format = body.get("response_format") or {}
    json_mode = response_format.get("type") in ("json_object", "json_schema")
    reply = plan_text_reply(
        responder(user_text),
        max_tokens=max_tokens,
        stop=_stop_list(body.get("stop")),
        json_mode=json_mode,
    )
    return [reply] * n


def token_logprob(token: str, top: int) -> dict[str, Any]:
    """An OpenAI ``ChatCompletionTokenLogprob`` for one token, with ``top`` alternatives."""
    alternatives = [{"token": token, "logprob": -0.1, "bytes": list(token.encode())}]
    alternatives += [
        {"token": f"alt{i}", "logprob": -2.0 - i, "bytes": list(f"alt{i}".encode())}
        for i in range(1, top)
    ]
    return {
        "token": token,
        "logprob": -0.1,
        "bytes": list(token.encode()),
        "top_logprobs": alternatives[:top],
    }


def usage_object(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """OpenAI's ``CompletionUsage`` with the detail objects the real API includes."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _choice_message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if reply.tool_call is None:
        message["content"] = reply.text
    else:
        call = reply.tool_call
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
        ]
    message["annotations"] = []
    return message


def chat_completion(
    body: Mapping[str, Any],
    *,
    model: str,
    responder: Responder,
    rid: str,
    created: int,
    azure: bool,
) -> Outcome:
    """The response to one chat completion request, streamed or not."""
    user_text, prompt_tokens = read_messages(body)
    replies = _plan_replies(body, user_text, responder, rid)
    top = int(body.get("top_logprobs") or 1) if body.get("logprobs") else 0
    completion_tokens = sum(reply.completion_tokens for reply in replies)
    base: dict[str, Any] = {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion.chunk" if body.get("stream") else "chat.completion",
        "created": created,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        usage = usage_object(prompt_tokens, completion_tokens) if include_usage else None
        return _stream(base, replies, top, usage, azure)
    choices = [
        {
            "index": i,
            "message": _choice_message(reply),
            "logprobs": {"content": [token_logprob(p, top) for p in reply.pieces], "refusal": None}
            if top
            else None,
            "finish_reason": reply.finish_reason,
        }
        for i, reply in enumerate(replies)
    ]
    response = {**base, "choices": choices, "usage": usage_object(prompt_tokens, completion_tokens)}
    if azure:
        response["prompt_filter_results"] = _AZURE_PROMPT_FILTERS
    return JsonOutcome(encode_json(response))


def _choice_deltas(reply: Reply, index: int, top: int) -> list[dict[str, Any]]:
    """The ``choices[0]`` objects of every chunk for one choice, in order."""
    empty_lp: dict[str, Any] | None = {"content": [], "refusal": None} if top else None
    call = reply.tool_call
    first: dict[str, Any]
    deltas: list[dict[str, Any]]
    if call is None:
        first = {"role": "assistant", "content": "", "refusal": None}
        deltas = [{"content": piece} for piece in reply.pieces]
        lps = [
            {"content": [token_logprob(p, top)], "refusal": None} if top else None
            for p in reply.pieces
        ]
    else:
        first = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "index": 0,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
            ],
            "refusal": None,
        }
        deltas = [
            {"tool_calls": [{"index": 0, "function": {"arguments": p}}]}
            for p in call.argument_pieces
        ]
        lps = [None] * len(deltas)
    chunks = [{"index": index, "delta": first, "logprobs": empty_lp, "finish_reason": None}]
    chunks += [
        {"index": index, "delta": delta, "logprobs": lp, "finish_reason": None}
        for delta, lp in zip(deltas, lps, strict=True)
    ]
    chunks.append(
        {"index": index, "delta": {}, "logprobs": None, "finish_reason": reply.finish_reason}
    )
    return chunks


def _stream(
    base: dict[str, Any], replies: list[Reply], top: int, usage: dict[str, Any] | None, azure: bool
) -> StreamOutcome:
    events: list[bytes] = []
    if azure:
        events.append(
            sse_event(
                {
                    "choices": [],
                    "created": 0,
                    "id": "",
                    "model": "",
                    "object": "",
                    "prompt_filter_results": _AZURE_PROMPT_FILTERS,
                }
            )
        )
    head = {**base, "usage": None} if usage is not None else base
    for index, reply in enumerate(replies):
        events += [
            sse_event({**head, "choices": [choice]}) for choice in _choice_deltas(reply, index, top)
        ]
    usage_at = None
    if usage is not None:
        usage_at = len(events)
        events.append(sse_event({**base, "choices": [], "usage": usage}))
    events.append(SSE_DONE)
    return StreamOutcome(events, usage_at=usage_at, done_at=len(events) - 1)

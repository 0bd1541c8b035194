"""OCI native ``ChatResult`` replies as OpenAI ``chat.completion`` objects.

Wire names follow the ``oci`` SDK models ``ChatResult`` (modelId, chatResponse),
``GenericChatResponse`` (timeCreated, choices, usage), ``ChatChoice`` (index, message,
finishReason), ``AssistantMessage`` (content, toolCalls), ``FunctionCall`` (id, name,
arguments), ``CohereChatResponse`` (text, finishReason, toolCalls), ``CohereToolCall``
(name, parameters) and ``Usage`` (promptTokens, completionTokens, promptTokensDetails).
The structs here are also the stream decoder's views: OCI streams the same objects, partial.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import msgspec

from tenantgate.errors import UpstreamBadResponse
from tenantgate.providers.base import Usage


class PromptTokensDetails(msgspec.Struct, rename="camel"):
    cached_tokens: int | None = None


class OciUsage(msgspec.Struct, rename="camel"):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None


class Content(msgspec.Struct):
    type: str = "TEXT"
    text: str | None = None


class ToolCall(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: str | None = None
    index: int | None = None


class Message(msgspec.Struct, rename="camel"):
    role: str | None = None
    content: list[Content] | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(msgspec.Struct, rename="camel"):
    index: int = 0
    message: Message | None = None
    finish_reason: str | None = None


class CohereToolCall(msgspec.Struct):
    name: str = ""
    parameters: dict[str, Any] | None = None


class ChatResponse(msgspec.Struct, rename="camel"):
    api_format: str | None = None
    time_created: str | None = None
    choices: list[Choice] | None = None
    text: str | None = None
    finish_reason: str | None = None
    tool_calls: list[CohereToolCall] | None = None
    usage: OciUsage | None = None


class ChatResult(msgspec.Struct, rename="camel"):
    model_id: str | None = None
    chat_response: ChatResponse | None = None


_result_decoder = msgspec.json.Decoder(ChatResult)
_encode = msgspec.json.Encoder().encode

# OCI's finish reasons, upper-cased: COHERE sends COMPLETE/MAX_TOKENS/ERROR_TOXIC/...
# (CohereChatResponse.FINISH_REASON_*), GENERIC models send OpenAI-style lower-case values.
_FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP": "stop",
    "END_TURN": "stop",
    "MAX_TOKENS": "length",
    "LENGTH": "length",
    "ERROR_LIMIT": "length",
    "TOOL_CALL": "tool_calls",
    "TOOL_CALLS": "tool_calls",
    "ERROR_TOXIC": "content_filter",
    "CONTENT_FILTER": "content_filter",
    "CONTENT_FILTERED": "content_filter",
}


def finish_reason(raw: str, *, has_tool_calls: bool) -> str:
    """OpenAI's finish reason for an OCI one (unknown values, ERROR and USER_CANCEL -> stop)."""
    mapped = _FINISH_REASONS.get(raw.upper(), "stop")
    if has_tool_calls and mapped == "stop":
        return "tool_calls"  # COHERE reports COMPLETE when it stops to call tools
    return mapped


def usage_of(view: OciUsage | None) -> Usage | None:
    """Our Usage for OCI's usage object."""
    if view is None or view.prompt_tokens is None:
        return None
    completion = view.completion_tokens
    if completion is None and view.total_tokens is not None:
        completion = view.total_tokens - view.prompt_tokens
    cached = view.prompt_tokens_details.cached_tokens if view.prompt_tokens_details else None
    return Usage(
        prompt_tokens=view.prompt_tokens,
        completion_tokens=completion or 0,
        cached_tokens=cached or 0,
    )


def text_of(content: list[Content] | None) -> str | None:
    """The text parts of a message joined; None when there are none."""
    texts = [part.text for part in content or [] if part.type == "TEXT" and part.text is not None]
    return "".join(texts) if texts else None


def cohere_call_id(position: int, name: str, arguments: str) -> str:
    """A stable id for a COHERE tool call, which has none: equal calls get equal ids."""
    digest = hashlib.sha256(f"{position}|{name}|{arguments}".encode()).hexdigest()[:24]
    return f"call_{digest}"


def openai_tool_calls_from_cohere(calls: list[CohereToolCall]) -> list[dict[str, Any]]:
    """COHERE ``toolCalls`` (parameters as an object) as OpenAI tool calls (arguments as JSON)."""
    out = []
    for position, call in enumerate(calls):
        arguments = json.dumps(call.parameters or {}, separators=(",", ":"))
        out.append(
            {
                "id": cohere_call_id(position, call.name, arguments),
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
        )
    return out


def openai_tool_call(call: ToolCall, position: int) -> dict[str, Any]:
    """A GENERIC ``FunctionCall`` as an OpenAI tool call."""
    arguments = call.arguments or ""
    name = call.name or ""
    return {
        "id": call.id or cohere_call_id(position, name, arguments),
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def created_s(time_created: str | None, fallback_s: int) -> int:
    """``timeCreated`` (RFC 3339) as epoch seconds; the fallback when absent or unreadable."""
    if not time_created:
        return fallback_s
    try:
        return int(datetime.fromisoformat(time_created.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return fallback_s


def _generic_choices(response: ChatResponse) -> list[dict[str, Any]]:
    choices = []
    for choice in response.choices or []:
        message = choice.message or Message()
        calls = [openai_tool_call(c, i) for i, c in enumerate(message.tool_calls or [])]
        out_message: dict[str, Any] = {
            "role": "assistant",
            "content": text_of(message.content),
            "refusal": None,  # required by OpenAI's ChatCompletionResponseMessage; OCI has none
        }
        if calls:
            out_message["tool_calls"] = calls
        choices.append(
            {
                "index": choice.index,
                "message": out_message,
                "logprobs": None,
                "finish_reason": finish_reason(
                    choice.finish_reason or "stop", has_tool_calls=bool(calls)
                ),
            }
        )
    return choices


def _cohere_choices(response: ChatResponse) -> list[dict[str, Any]]:
    calls = openai_tool_calls_from_cohere(response.tool_calls or [])
    message: dict[str, Any] = {"role": "assistant", "content": response.text or None, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    reason = finish_reason(response.finish_reason or "COMPLETE", has_tool_calls=bool(calls))
    return [{"index": 0, "message": message, "logprobs": None, "finish_reason": reason}]


def chat_completion(
    body: bytes, *, completion_id: str, now_s: int, fallback_model: str
) -> tuple[bytes, Usage | None]:
    """The OpenAI ``chat.completion`` for an OCI ``ChatResult`` body, and its usage."""
    try:
        result = _result_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise UpstreamBadResponse(f"OCI returned an unreadable chat result: {exc}") from exc
    response = result.chat_response
    if response is None:
        raise UpstreamBadResponse("OCI's chat result has no chatResponse.")
    if response.api_format == "COHERE" or response.choices is None:
        choices = _cohere_choices(response)
    else:
        choices = _generic_choices(response)
    usage = usage_of(response.usage)
    completion: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created_s(response.time_created, now_s),
        "model": result.model_id or fallback_model,
        "choices": choices,
    }
    if usage is not None:
        completion["usage"] = usage.to_openai()
    return _encode(completion), usage

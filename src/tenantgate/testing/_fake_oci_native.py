"""OCI Generative AI's native inference API (``/20231130/actions/chat`` and ``embedText``).

Field names are the ``attribute_map`` values of the ``oci`` SDK's models, which are the
ground truth for the wire format: ``ChatDetails`` (compartmentId, servingMode, chatRequest),
``OnDemandServingMode`` (servingType ON_DEMAND, modelId), ``DedicatedServingMode``
(servingType DEDICATED, endpointId), ``GenericChatRequest`` (apiFormat GENERIC, messages,
isStream, streamOptions.isIncludeUsage, numGenerations, maxTokens, maxCompletionTokens, stop,
responseFormat, tools, toolChoice, logProbs), ``CohereChatRequest`` (apiFormat COHERE,
message, chatHistory, preambleOverride, maxTokens, stopSequences, tools), ``ChatResult``
(modelId, modelVersion, chatResponse), ``GenericChatResponse`` (apiFormat, timeCreated,
choices, usage), ``ChatChoice`` (index, message, finishReason, logprobs), ``FunctionCall``
(id, type FUNCTION, name, arguments), ``CohereChatResponse`` (text, chatHistory,
finishReason, toolCalls, usage), ``Usage`` (promptTokens, completionTokens, totalTokens),
``EmbedTextDetails`` / ``EmbedTextResult``.

Streaming has no SDK model; the event shapes follow LiteLLM's OCI stream parser
(``litellm/llms/oci/chat/generic.py`` and ``litellm/types/llms/oci.py``: ``OCIStreamChunk``
= index, message{role, content[{type: TEXT, text}], toolCalls}, finishReason, pad;
``CohereStreamChunk`` = apiFormat, text, chatHistory, finishReason, toolCalls, pad) and its
note that Cohere's terminal event repeats the whole text.  So: GENERIC sends one event per
word, then ``{"index", "message": {"role": "ASSISTANT"}, "finishReason"}`` per choice; COHERE
sends ``{"apiFormat": "COHERE", "text": <word>}`` per word, then a terminal event with the full
text, ``chatHistory`` and ``finishReason``.  With ``streamOptions.isIncludeUsage`` a final
``{"usage": {...}}`` event follows (an assumption: no source shows where OCI puts it).  There
is no ``[DONE]`` sentinel; ``missing_done`` drops the (last) finish event instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tenantgate.testing._fake_embeddings import DEFAULT_DIMENSIONS, embedding_vector, input_tokens
from tenantgate.testing._fake_outcome import (
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

MODEL_VERSION = "1.0"
_PAD = "aaaaaaaa"
_COHERE_FINISH = {"stop": "COMPLETE", "length": "MAX_TOKENS", "tool_calls": "COMPLETE"}
_COHERE_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}


def _invalid(message: str) -> FakeRequestError:
    return FakeRequestError(message, status=400, code="InvalidParameter")


def serving_model(body: Mapping[str, Any]) -> str:
    """The modelId (ON_DEMAND) or endpointId (DEDICATED) a request targets."""
    if not body.get("compartmentId"):
        raise _invalid("compartmentId is required")
    mode = body.get("servingMode")
    if not isinstance(mode, dict):
        raise _invalid("servingMode is required")
    key = {"ON_DEMAND": "modelId", "DEDICATED": "endpointId"}.get(mode.get("servingType", ""))
    if key is None or not mode.get(key):
        raise _invalid("servingMode must be ON_DEMAND with modelId or DEDICATED with endpointId")
    return str(mode[key])


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "promptTokens": prompt_tokens,
        "completionTokens": completion_tokens,
        "totalTokens": prompt_tokens + completion_tokens,
    }


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(
        p.get("text", "") for p in content or [] if isinstance(p, dict) and p.get("type") == "TEXT"
    )


def _generic_replies(
    request: Mapping[str, Any], user_text: str, responder: Responder, rid: str
) -> list[Reply]:
    n = int(request.get("numGenerations") or 1)
    max_tokens = request.get("maxCompletionTokens", request.get("maxTokens"))
    tools = [(t["name"], t.get("parameters")) for t in request.get("tools") or [] if t.get("name")]
    choice = request.get("toolChoice") or {}
    if tools and choice.get("type") != "NONE":
        forced = choice.get("name") if choice.get("type") == "FUNCTION" else None
        chosen = choose_tool(tools, forced)
        if chosen is None:
            raise _invalid(f"toolChoice names an unknown tool: {forced}")
        return [
            plan_tool_reply(chosen[0], chosen[1], f"call_{rid}_{i}", max_tokens) for i in range(n)
        ]
    json_mode = (request.get("responseFormat") or {}).get("type") in ("JSON_OBJECT", "JSON_SCHEMA")
    reply = plan_text_reply(
        responder(user_text),
        max_tokens=max_tokens,
        stop=request.get("stop") or [],
        json_mode=json_mode,
    )
    return [reply] * n


def _generic_message(reply: Reply) -> dict[str, Any]:
    if reply.tool_call is None:
        return {"role": "ASSISTANT", "content": [{"type": "TEXT", "text": reply.text}]}
    call = reply.tool_call
    return {
        "role": "ASSISTANT",
        "toolCalls": [
            {"id": call.id, "type": "FUNCTION", "name": call.name, "arguments": call.arguments}
        ],
    }


def _logprobs(reply: Reply) -> dict[str, Any]:
    offsets = [sum(len(p) for p in reply.pieces[:i]) for i in range(len(reply.pieces))]
    return {
        "textOffset": offsets,
        "tokenLogprobs": [-0.1] * len(reply.pieces),
        "tokens": list(reply.pieces),
        "topLogprobs": [{p: "-0.1"} for p in reply.pieces],
    }


def _generic_chat(
    request: Mapping[str, Any], responder: Responder, rid: str
) -> tuple[list[Reply], int]:
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("chatRequest.messages is required for apiFormat GENERIC")
    prompt_tokens, user_text = 0, ""
    for message in messages:
        text = _text(message.get("content"))
        prompt_tokens += count_words(text)
        if message.get("role") == "USER":
            user_text = text
    return _generic_replies(request, user_text, responder, rid), prompt_tokens


def oci_chat(
    body: Mapping[str, Any], *, responder: Responder, rid: str, time_created: str
) -> Outcome:
    """The response to one ``POST /20231130/actions/chat``."""
    model = serving_model(body)
    request = body.get("chatRequest")
    if not isinstance(request, dict):
        raise _invalid("chatRequest is required")
    api_format = request.get("apiFormat")
    if api_format == "GENERIC":
        replies, prompt_tokens = _generic_chat(request, responder, rid)
    elif api_format == "COHERE":
        return _cohere_chat(request, model, responder, rid)
    else:
        raise _invalid(f"Unsupported apiFormat: {api_format}")
    usage = _usage(prompt_tokens, sum(r.completion_tokens for r in replies))
    headers = {"opc-request-id": rid}
    if request.get("isStream"):
        return _finish_stream(_generic_events(replies), request, usage, headers)
    log_probs = request.get("logProbs")
    choices = [
        {
            "index": i,
            "message": _generic_message(r),
            "finishReason": r.finish_reason,
            **({"logprobs": _logprobs(r)} if log_probs else {}),
        }
        for i, r in enumerate(replies)
    ]
    result = {
        "modelId": model,
        "modelVersion": MODEL_VERSION,
        "chatResponse": {
            "apiFormat": "GENERIC",
            "timeCreated": time_created,
            "choices": choices,
            "usage": usage,
        },
    }
    return JsonOutcome(encode_json(result), headers=headers)


def _generic_events(replies: list[Reply]) -> list[bytes]:
    """GENERIC stream events: one per word (or one per tool call), then the finish event."""
    events: list[bytes] = []
    for index, reply in enumerate(replies):
        if reply.tool_call is None:
            events += [
                sse_event(
                    {
                        "index": index,
                        "message": {"role": "ASSISTANT", "content": [{"type": "TEXT", "text": p}]},
                        "pad": _PAD,
                    }
                )
                for p in reply.pieces
            ]
        else:
            message = _generic_message(reply)
            events.append(sse_event({"index": index, "message": message, "pad": _PAD}))
        finish = {"role": "ASSISTANT"}
        events.append(
            sse_event(
                {
                    "index": index,
                    "message": finish,
                    "finishReason": reply.finish_reason,
                    "pad": _PAD,
                }
            )
        )
    return events


def _finish_stream(
    events: list[bytes],
    request: Mapping[str, Any],
    usage: dict[str, int],
    headers: dict[str, str],
    api_format: str | None = None,
) -> StreamOutcome:
    done_at = len(events) - 1
    usage_at = None
    if (request.get("streamOptions") or {}).get("isIncludeUsage"):
        usage_at = len(events)
        event: dict[str, Any] = {"apiFormat": api_format} if api_format else {}
        events.append(sse_event({**event, "usage": usage}))
    return StreamOutcome(events, usage_at=usage_at, done_at=done_at, headers=headers)


def _cohere_tools(request: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any] | None]]:
    tools: list[tuple[str, Mapping[str, Any] | None]] = []
    for tool in request.get("tools") or []:
        definitions = tool.get("parameterDefinitions") or {}
        schema = {
            "properties": {
                k: {"type": _COHERE_TYPES.get(v.get("type", "str"), "string")}
                for k, v in definitions.items()
            },
            "required": [k for k, v in definitions.items() if v.get("isRequired")],
        }
        tools.append((tool["name"], schema))
    return tools


def _cohere_chat(request: Mapping[str, Any], model: str, responder: Responder, rid: str) -> Outcome:
    message = request.get("message")
    if not isinstance(message, str):
        raise _invalid("chatRequest.message is required for apiFormat COHERE")
    history = list(request.get("chatHistory") or [])
    prompt_tokens = count_words(message) + count_words(request.get("preambleOverride") or "")
    prompt_tokens += sum(count_words(m.get("message") or "") for m in history)
    tools = _cohere_tools(request)
    max_tokens = request.get("maxTokens")
    if tools:
        reply = plan_tool_reply(tools[0][0], tools[0][1], f"call_{rid}_0", max_tokens)
    else:
        json_mode = (request.get("responseFormat") or {}).get("type") == "JSON_OBJECT"
        reply = plan_text_reply(
            responder(message),
            max_tokens=max_tokens,
            stop=request.get("stopSequences") or [],
            json_mode=json_mode,
        )
    finish = _COHERE_FINISH[reply.finish_reason]
    history += [{"role": "USER", "message": message}, {"role": "CHATBOT", "message": reply.text}]
    usage = _usage(prompt_tokens, reply.completion_tokens)
    tool_calls = []
    if reply.tool_call is not None:
        tool_calls = [
            {"name": reply.tool_call.name, "parameters": json.loads(reply.tool_call.arguments)}
        ]
    final: dict[str, Any] = {
        "apiFormat": "COHERE",
        "text": reply.text,
        "chatHistory": history,
        "finishReason": finish,
        **({"toolCalls": tool_calls} if tool_calls else {}),
    }
    headers = {"opc-request-id": rid}
    if request.get("isStream"):
        events = [sse_event({"apiFormat": "COHERE", "text": p, "pad": _PAD}) for p in reply.pieces]
        events.append(sse_event({**final, "pad": _PAD}))
        return _finish_stream(events, request, usage, headers, api_format="COHERE")
    result = {
        "modelId": model,
        "modelVersion": MODEL_VERSION,
        "chatResponse": {**final, "usage": usage},
    }
    return JsonOutcome(encode_json(result), headers=headers)


def oci_embed(body: Mapping[str, Any], *, rid: str) -> Outcome:
    """The response to one ``POST /20231130/actions/embedText``."""
    model = serving_model(body)
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        raise _invalid("inputs must be a non-empty list of strings")
    dimensions = int(body.get("outputDimensions") or DEFAULT_DIMENSIONS)
    tokens = sum(input_tokens(text) for text in inputs)
    result: dict[str, Any] = {
        "id": rid,
        "embeddings": [embedding_vector(text, dimensions) for text in inputs],
        "modelId": model,
        "modelVersion": MODEL_VERSION,
        "usage": {"promptTokens": tokens, "totalTokens": tokens},
    }
    if body.get("isEcho"):
        result["inputs"] = inputs
    return JsonOutcome(encode_json(result), headers={"opc-request-id": rid})

"""OpenAI chat bodies as OCI native ``chatRequest`` objects (GENERIC and COHERE formats).

Field names are the wire names (``attribute_map``) of the ``oci`` SDK models in
``oci.generative_ai_inference.models``: ``GenericChatRequest``, ``CohereChatRequest``,
``UserMessage``/``SystemMessage``/``AssistantMessage``/``ToolMessage``, ``TextContent``,
``ImageContent``/``ImageUrl``, ``FunctionDefinition``, ``ToolChoiceAuto``/``None``/
``Required``/``Function``, ``FunctionCall``, ``StreamOptions``, the ``*ResponseFormat``
classes, and for COHERE ``CohereUserMessage``/``CohereChatBotMessage``/``CohereToolMessage``,
``CohereTool``/``CohereParameterDefinition``, ``CohereToolCall``/``CohereToolResult``
(API reference: https://docs.oracle.com/en-us/iaas/api/#/en/generative-ai-inference/20231130/).
"""

from __future__ import annotations

import json
from typing import Any

from tenantgate.errors import InvalidParameterValue, UnsupportedParameter

_GENERIC_ROLES = {
    "system": "SYSTEM",
    "developer": "SYSTEM",
    "user": "USER",
    "assistant": "ASSISTANT",
    "tool": "TOOL",
}
# Sampling fields shared by both formats: OpenAI name -> OCI name.
_SAMPLING = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("seed", "seed"),
    ("frequency_penalty", "frequencyPenalty"),
    ("presence_penalty", "presencePenalty"),
)
# CohereParameterDefinition.type takes Python type names, not JSON Schema ones.
_COHERE_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "TEXT", "text": text}


def _stop_list(body: dict[str, Any]) -> list[str] | None:
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop]
    return list(stop) if stop else None


def _stream_fields(stream: bool) -> dict[str, Any]:
    # Usage is always requested so streams can be metered; the pipeline strips it again.
    if not stream:
        return {"isStream": False}
    return {"isStream": True, "streamOptions": {"isIncludeUsage": True}}


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    return {oci: body[openai] for openai, oci in _SAMPLING if body.get(openai) is not None}


# --- GENERIC -------------------------------------------------------------------------------


def _generic_content(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_part(content)]
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append(_text_part(str(part.get("text", ""))))
        elif kind == "image_url":
            image = part.get("image_url")
            image = image if isinstance(image, dict) else {"url": image}
            url: dict[str, Any] = {"url": image.get("url")}
            if image.get("detail"):
                url["detail"] = str(image["detail"]).upper()  # ImageUrl.detail: AUTO|HIGH|LOW
            parts.append({"type": "IMAGE", "imageUrl": url})
        else:
            raise UnsupportedParameter(
                f"OCI Generative AI does not accept {kind!r} message content.", param="messages"
            )
    return parts


def _generic_tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "id": call.get("id"),
        "type": "FUNCTION",
        "name": function.get("name"),
        "arguments": function.get("arguments") or "{}",
    }


def _generic_message(message: dict[str, Any]) -> dict[str, Any]:
    role = str(message.get("role"))
    out: dict[str, Any] = {"role": _GENERIC_ROLES.get(role, role.upper())}
    content = _generic_content(message.get("content"))
    if content or role != "assistant":
        out["content"] = content
    if role == "assistant" and message.get("tool_calls"):
        out["toolCalls"] = [_generic_tool_call(call) for call in message["tool_calls"]]
    if role == "tool":
        out["toolCallId"] = message.get("tool_call_id")
    if message.get("name") and role in ("system", "developer", "user", "assistant"):
        out["name"] = message["name"]
    return out


def _generic_tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice in ("none", "auto", "required"):
        return {"type": str(choice).upper()}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if name:
            return {"type": "FUNCTION", "name": name}
    return None


def _generic_response_format(fmt: Any) -> dict[str, Any] | None:
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = fmt.get("json_schema") or {}
        out: dict[str, Any] = {"name": schema.get("name"), "schema": schema.get("schema")}
        if schema.get("description") is not None:
            out["description"] = schema["description"]
        if schema.get("strict") is not None:
            out["isStrict"] = schema["strict"]
        return {"type": "JSON_SCHEMA", "jsonSchema": out}
    return {"type": "JSON_OBJECT" if kind == "json_object" else "TEXT"}


def generic_chat_request(body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """A ``GenericChatRequest`` (Meta Llama, xAI Grok, Google Gemini, OpenAI gpt-oss on OCI)."""
    request: dict[str, Any] = {
        "apiFormat": "GENERIC",
        "messages": [_generic_message(m) for m in body["messages"]],
        **_stream_fields(stream),
        **_sampling(body),
    }
    optional = {
        "maxTokens": body.get("max_tokens"),
        "maxCompletionTokens": body.get("max_completion_tokens"),
        "numGenerations": body.get("n"),
        "stop": _stop_list(body),
        "logitBias": body.get("logit_bias"),
        "isParallelToolCalls": body.get("parallel_tool_calls"),
        "responseFormat": _generic_response_format(body.get("response_format")),
        "toolChoice": _generic_tool_choice(body.get("tool_choice")),
    }
    request.update({key: value for key, value in optional.items() if value is not None})
    if body.get("tools"):
        request["tools"] = [
            {
                "type": "FUNCTION",
                "name": tool["function"]["name"],
                "description": tool["function"].get("description") or "",
                "parameters": tool["function"].get("parameters")
                or {"type": "object", "properties": {}},
            }
            for tool in body["tools"]
        ]
    return request


# --- COHERE --------------------------------------------------------------------------------


def _plain_text(content: Any, *, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if part.get("type") != "text":
            raise UnsupportedParameter(
                f"OCI's COHERE format accepts text only, not {part.get('type')!r} content.",
                param=where,
            )
        texts.append(str(part.get("text", "")))
    return "\n".join(texts)


def _cohere_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        parameters = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError as exc:
        raise InvalidParameterValue(
            "A tool call's arguments are not valid JSON.", param="messages"
        ) from exc
    return {"name": function.get("name"), "parameters": parameters}


def _cohere_tool_result(
    message: dict[str, Any], calls: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    call_id = str(message.get("tool_call_id") or "")
    call = calls.get(call_id)
    if call is None:
        raise InvalidParameterValue(
            f"The tool message answers an unknown tool_call_id {call_id!r}.", param="messages"
        )
    return {
        "call": call,
        "outputs": [{"output": _plain_text(message.get("content"), where="messages")}],
    }


def _cohere_history(
    messages: list[dict[str, Any]], calls: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "user":
            history.append(
                {"role": "USER", "message": _plain_text(message.get("content"), where="messages")}
            )
        elif role == "assistant":
            entry: dict[str, Any] = {
                "role": "CHATBOT",
                "message": _plain_text(message.get("content"), where="messages"),
            }
            if message.get("tool_calls"):
                entry["toolCalls"] = [calls[str(c.get("id"))] for c in message["tool_calls"]]
            history.append(entry)
        elif role == "tool":
            result = _cohere_tool_result(message, calls)
            if history and history[-1]["role"] == "TOOL":  # one TOOL turn per assistant turn
                history[-1]["toolResults"].append(result)
            else:
                history.append({"role": "TOOL", "toolResults": [result]})
    return history


def _cohere_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    schema = function.get("parameters") or {}
    required = set(schema.get("required") or [])
    definitions = {}
    for name, prop in (schema.get("properties") or {}).items():
        definition: dict[str, Any] = {
            "type": _COHERE_TYPES.get(str(prop.get("type", "string")), "str"),
            "isRequired": name in required,
        }
        if prop.get("description"):
            definition["description"] = prop["description"]
        definitions[name] = definition
    return {
        "name": function["name"],
        "description": function.get("description") or "",
        "parameterDefinitions": definitions,
    }


def cohere_chat_request(body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """A ``CohereChatRequest`` (Cohere Command models).

    Cohere's v1 chat takes the newest user turn as ``message`` and the rest as
    ``chatHistory``; system turns become ``preambleOverride``. When the conversation ends
    with tool results they go in ``toolResults`` with an empty ``message``
    (https://docs.cohere.com/v1/docs/tool-use).
    """
    if (body.get("n") or 1) > 1:
        raise UnsupportedParameter("OCI's COHERE format generates one choice only.", param="n")
    messages = [m for m in body["messages"] if m.get("role") not in ("system", "developer")]
    system = [m for m in body["messages"] if m.get("role") in ("system", "developer")]
    calls = {
        str(call.get("id")): _cohere_call(call)
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or []
    }
    trailing = 0
    while trailing < len(messages) and messages[-1 - trailing].get("role") == "tool":
        trailing += 1
    request: dict[str, Any] = {"apiFormat": "COHERE"}
    if trailing:
        request["message"] = ""
        request["toolResults"] = [_cohere_tool_result(m, calls) for m in messages[-trailing:]]
        earlier = messages[:-trailing]
    else:
        last_user = max(
            (i for i, m in enumerate(messages) if m.get("role") == "user"), default=None
        )
        if last_user is None:
            raise InvalidParameterValue(
                "OCI's COHERE format needs a user message.", param="messages"
            )
        request["message"] = _plain_text(messages[last_user].get("content"), where="messages")
        earlier = messages[:last_user] + messages[last_user + 1 :]
    history = _cohere_history(earlier, calls)
    if history:
        request["chatHistory"] = history
    if system:
        request["preambleOverride"] = "\n\n".join(
            _plain_text(m.get("content"), where="messages") for m in system
        )
    request.update(_stream_fields(stream))
    request.update(_sampling(body))
    _cohere_options(body, request)
    return request


def _cohere_options(body: dict[str, Any], request: dict[str, Any]) -> None:
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None:
        request["maxTokens"] = max_tokens
    stop = _stop_list(body)
    if stop:
        request["stopSequences"] = stop
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        request["responseFormat"] = {"type": "JSON_OBJECT"}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        request["responseFormat"] = {"type": "JSON_OBJECT", "schema": schema}
    choice = body.get("tool_choice")
    if body.get("tools") and choice != "none":
        if choice not in (None, "auto"):
            raise UnsupportedParameter(
                "OCI's COHERE format cannot force a tool call.", param="tool_choice"
            )
        request["tools"] = [_cohere_tool(tool) for tool in body["tools"]]

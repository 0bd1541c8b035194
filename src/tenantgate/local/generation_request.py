"""An OpenAI chat or completions body, reduced to what the local engine can honour.

The API layer has already checked types and ranges; this module decides which parameters
the embedded engine supports, and rejects the rest by name (``UnsupportedParameter`` with
``param``) instead of silently ignoring them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenantgate.errors import InvalidParameterValue, UnsupportedParameter
from tenantgate.providers.base import Operation

_CHAT_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}

# (parameter, the value that means "not used"); anything else is rejected by name.
_CHAT_UNSUPPORTED: tuple[tuple[str, object], ...] = (
    ("tools", None),
    ("functions", None),
    ("function_call", None),
    ("logprobs", False),
    ("top_logprobs", None),
    ("logit_bias", None),
    ("audio", None),
    ("prediction", None),
)
_COMPLETION_UNSUPPORTED: tuple[tuple[str, object], ...] = (
    ("logprobs", None),
    ("echo", False),
    ("suffix", None),
    ("logit_bias", None),
)


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampling settings; ``temperature == 0`` means greedy decoding."""

    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0


@dataclass(frozen=True, slots=True)
class GenerationDefaults:
    """What a deployment assumes when a request leaves it out, as an Ollama Modelfile does.

    Small local models answer far better with a short system prompt and cooler sampling
    than with OpenAI's defaults (temperature 1, no system message); operators tune both per
    deployment, and a request's own values always win.
    """

    system_prompt: str | None = None
    temperature: float = 1.0
    top_p: float = 1.0


OPENAI_DEFAULTS = GenerationDefaults()


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One local generation: a chat transcript or a raw prompt, limits and sampling."""

    operation: Operation
    messages: tuple[tuple[str, str], ...] = ()
    prompt: str | tuple[int, ...] = ""
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None
    sampling: Sampling = Sampling()

    @property
    def prompt_noun(self) -> str:
        """How OpenAI's errors name the input: 'messages' for chat, 'prompt' for completions."""
        return "messages" if self.operation is Operation.CHAT else "prompt"


def parse_generation_request(
    operation: Operation, body: dict[str, Any], defaults: GenerationDefaults = OPENAI_DEFAULTS
) -> GenerationRequest:
    """Validate what the local engine supports and build its request."""
    chat = operation is Operation.CHAT
    _reject_unsupported(body, _CHAT_UNSUPPORTED if chat else _COMPLETION_UNSUPPORTED)
    n = body.get("n")
    if n is not None and n != 1:
        raise UnsupportedParameter("Local models support only n=1.", param="n")
    sampling = Sampling(
        temperature=_number(body, "temperature", defaults.temperature),
        top_p=_number(body, "top_p", defaults.top_p),
        seed=body.get("seed"),
        presence_penalty=_number(body, "presence_penalty", 0.0),
        frequency_penalty=_number(body, "frequency_penalty", 0.0),
    )
    stop = _stops(body.get("stop"))
    if operation is Operation.CHAT:
        _check_chat_extras(body)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        return GenerationRequest(
            operation,
            messages=_with_system_prompt(_messages(body.get("messages") or []),
                                         defaults.system_prompt),
            stop=stop,
            max_tokens=max_tokens, sampling=sampling,
        )
    best_of = body.get("best_of")
    if best_of is not None and best_of != 1:
        raise UnsupportedParameter("Local models support only best_of=1.", param="best_of")
    return GenerationRequest(
        operation, prompt=_prompt(body.get("prompt", "")), stop=stop,
        max_tokens=body.get("max_tokens"), sampling=sampling,
    )


def _reject_unsupported(body: dict[str, Any], table: tuple[tuple[str, object], ...]) -> None:
    for name, unused in table:
        value = body.get(name)
        if value is not None and value != unused and value != []:
            raise UnsupportedParameter(
                f"The local model does not support '{name}'.", param=name
            )


def _check_chat_extras(body: dict[str, Any]) -> None:
    tool_choice = body.get("tool_choice")
    if tool_choice not in (None, "none"):
        raise UnsupportedParameter(
            "The local model does not support 'tool_choice'.", param="tool_choice"
        )
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type", "text") != "text":
        raise UnsupportedParameter(
            "The local model supports only response_format type 'text'.", param="response_format"
        )
    modalities = body.get("modalities")
    if modalities not in (None, ["text"]):
        raise UnsupportedParameter("The local model produces text only.", param="modalities")


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name)
    return default if value is None else float(value)


def _stops(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise InvalidParameterValue("'stop' must be a string or a list of strings.", param="stop")


def _messages(raw: list[Any]) -> tuple[tuple[str, str], ...]:
    messages: list[tuple[str, str]] = []
    for index, message in enumerate(raw):
        role = _CHAT_ROLES.get(message.get("role", ""))
        if role is None:
            raise UnsupportedParameter(
                f"The local model does not support messages with role {message.get('role')!r}.",
                param=f"messages[{index}].role",
            )
        messages.append((role, _content_text(message.get("content"), index)))
    return tuple(messages)


def _with_system_prompt(
    messages: tuple[tuple[str, str], ...], system_prompt: str | None
) -> tuple[tuple[str, str], ...]:
    """Prepend the deployment's system prompt unless the caller gave a system message."""
    if system_prompt is None or any(role == "system" for role, _ in messages):
        return messages
    return (("system", system_prompt), *messages)


def _content_text(content: object, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise UnsupportedParameter(
                "The local model accepts only text content parts.",
                param=f"messages[{index}].content",
            )
        parts.append(str(part.get("text", "")))
    return "".join(parts)


def _prompt(value: object) -> str | tuple[int, ...]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    if isinstance(value, list) and value and all(isinstance(t, int) for t in value):
        return tuple(value)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        return tuple(int(t) for t in value[0])
    raise UnsupportedParameter(
        "Local models take one prompt per request (a string or one list of token ids).",
        param="prompt",
    )

"""The fake's deterministic "model": what it answers and how many tokens that costs.

Every wire format shares these rules so tests can assert exact values:

* the reply text is ``responder(last user text)``; the default is ``"Hello! You said: <text>"``;
* a *token* is a whitespace-separated word; a streamed chunk is one word plus the whitespace
  after it;
* ``prompt_tokens`` is the number of words across all message texts, with no per-message
  overhead; ``completion_tokens`` is the number of words emitted (summed over choices);
* ``stop`` strings cut the reply before their first occurrence (finish reason ``stop``);
  ``max_tokens`` keeps that many words (finish reason ``length``);
* JSON mode wraps the reply as ``{"answer": "<reply>"}`` before it is split and truncated;
* a tool call names the chosen tool and fills its schema's required properties with
  placeholders; its JSON arguments are split into word pieces the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

Responder = Callable[[str], str]
FinishReason = Literal["stop", "length", "tool_calls"]

_PIECE = re.compile(r"\S+\s*")
_PLACEHOLDERS: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}


def default_responder(prompt: str) -> str:
    """Echo the prompt, so a test can see which message the upstream treated as the last."""
    return f"Hello! You said: {prompt}"


def split_pieces(text: str) -> list[str]:
    """Split text into stream pieces: each word with the whitespace that follows it."""
    pieces = _PIECE.findall(text)
    if pieces and text[: len(text) - len(text.lstrip())]:
        pieces[0] = text[: len(text) - len(text.lstrip())] + pieces[0]
    return pieces


def count_words(text: str) -> int:
    """Token count of a text under the fake's one-word-one-token rule."""
    return len(text.split())


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A planned tool call: a stable id, the tool's name and its arguments as pieces."""

    id: str
    name: str
    argument_pieces: tuple[str, ...]

    @property
    def arguments(self) -> str:
        """The full JSON arguments string."""
        return "".join(self.argument_pieces)


@dataclass(frozen=True, slots=True)
class Reply:
    """One choice's answer: text pieces or a tool call, and why generation stopped."""

    pieces: tuple[str, ...]
    finish_reason: FinishReason
    tool_call: ToolCall | None = None

    @property
    def text(self) -> str:
        """The whole reply text (empty for a tool call)."""
        return "".join(self.pieces)

    @property
    def completion_tokens(self) -> int:
        """Tokens this choice costs: its words, or its argument pieces for a tool call."""
        if self.tool_call is not None:
            return len(self.tool_call.argument_pieces)
        return len(self.pieces)


def plan_text_reply(
    text: str, *, max_tokens: int | None, stop: Sequence[str], json_mode: bool
) -> Reply:
    """Apply JSON mode, stop strings and the token limit to a reply text."""
    if json_mode:
        text = msgspec.json.encode({"answer": text}).decode()
    for marker in stop:
        if marker and marker in text:
            text = text[: text.index(marker)]
    pieces = split_pieces(text)
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces = pieces[: max(max_tokens, 0)]
        if pieces:
            pieces[-1] = pieces[-1].rstrip()
        return Reply(tuple(pieces), "length")
    return Reply(tuple(pieces), "stop")


def placeholder_arguments(parameters: Mapping[str, Any] | None) -> str:
    """JSON arguments filling a JSON Schema's required properties with placeholder values."""
    parameters = parameters or {}
    properties: Mapping[str, Any] = parameters.get("properties") or {}
    arguments: dict[str, Any] = {}
    for name in parameters.get("required") or []:
        schema = properties.get(name) or {}
        if schema.get("enum"):
            arguments[name] = schema["enum"][0]
        else:
            kind = schema.get("type", "string")
            kind = kind[0] if isinstance(kind, list) and kind else kind
            arguments[name] = _PLACEHOLDERS.get(kind, "example") if isinstance(kind, str) else None
    return json.dumps(arguments)


def plan_tool_reply(
    name: str, parameters: Mapping[str, Any] | None, call_id: str, max_tokens: int | None
) -> Reply:
    """A reply that calls ``name``; the token limit applies to the argument pieces."""
    pieces = split_pieces(placeholder_arguments(parameters))
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces = pieces[: max(max_tokens, 0)]
        return Reply((), "length", ToolCall(call_id, name, tuple(pieces)))
    return Reply((), "tool_calls", ToolCall(call_id, name, tuple(pieces)))


def choose_tool(
    tools: Sequence[tuple[str, Mapping[str, Any] | None]], forced_name: str | None
) -> tuple[str, Mapping[str, Any] | None] | None:
    """The (name, parameters) of the forced tool, else of the first tool; None if not found."""
    if forced_name is None:
        return tools[0] if tools else None
    for tool in tools:
        if tool[0] == forced_name:
            return tool
    return None

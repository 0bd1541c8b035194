"""Request bodies and types shared by the local-engine tests."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from tenantgate.local.chat_backend import LocalChatBackend
from tenantgate.providers.base import Operation, StreamPiece

ChatFactory = Callable[..., Awaitable[LocalChatBackend]]
"""The ``make_chat`` fixture: builds a loaded chat backend from LocalSettings overrides."""

FRANCE = "What is the capital of France? Answer in one sentence."


def chat_body(content: str = FRANCE, **extra: Any) -> dict[str, Any]:
    """A chat request body with greedy decoding and a short answer."""
    body: dict[str, Any] = {
        "model": "smollm2-135m-instruct",
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "max_tokens": 24,
    }
    body.update(extra)
    return body


def streamed_text(pieces: list[StreamPiece]) -> str:
    """The concatenated content deltas of a chat stream."""
    text = ""
    for piece in pieces:
        for choice in json.loads(piece.data)["choices"]:
            text += choice.get("delta", {}).get("content") or choice.get("text", "")
    return text


__all__ = ["FRANCE", "Operation", "chat_body", "streamed_text"]

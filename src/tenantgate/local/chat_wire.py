"""OpenAI's JSON for local answers: ``chat.completion``, ``text_completion`` and their chunks.

The shapes follow OpenAI's API reference: a chat stream opens with a ``role: assistant``
delta, carries content deltas, closes with an empty delta holding ``finish_reason``, and is
always followed by a usage-only chunk (``choices: []``) that the pipeline drops unless the
client asked for ``stream_options.include_usage``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from tenantgate.providers.base import Operation, Usage

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class AnswerHead:
    """What every object of one answer shares: id, creation time, model name and kind."""

    id: str
    created: int
    model: str
    operation: Operation

    @classmethod
    def new(cls, operation: Operation, model: str) -> AnswerHead:
        prefix = "chatcmpl-" if operation is Operation.CHAT else "cmpl-"
        return cls(prefix + secrets.token_hex(12), int(time.time()), model, operation)

    def _object(self, *, chunk: bool) -> dict[str, Any]:
        if self.operation is Operation.CHAT:
            kind = "chat.completion.chunk" if chunk else "chat.completion"
        else:
            kind = "text_completion"
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                "system_fingerprint": None}


def full_answer(head: AnswerHead, text: str, finish_reason: str, usage: Usage) -> bytes:
    """The non-streaming answer."""
    body = head._object(chunk=False)
    if head.operation is Operation.CHAT:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "logprobs": None,
            "finish_reason": finish_reason,
        }
    else:
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
    body["choices"] = [choice]
    body["usage"] = usage.to_openai()
    return _encode(body)


def opening_chunk(head: AnswerHead) -> bytes | None:
    """The chat stream's first chunk (``role: assistant``); legacy completions have none."""
    if head.operation is not Operation.CHAT:
        return None
    return _chunk(head, {"role": "assistant", "content": ""}, None)


def content_chunk(head: AnswerHead, text: str) -> bytes:
    """One content delta."""
    return _chunk(head, {"content": text} if head.operation is Operation.CHAT else text, None)


def closing_chunk(head: AnswerHead, finish_reason: str) -> bytes:
    """The chunk that carries ``finish_reason``."""
    return _chunk(head, {} if head.operation is Operation.CHAT else "", finish_reason)


def usage_chunk(head: AnswerHead, usage: Usage) -> bytes:
    """The usage-only chunk that ends every stream."""
    body = head._object(chunk=True)
    body["choices"] = []
    body["usage"] = usage.to_openai()
    return _encode(body)


def _chunk(head: AnswerHead, delta: dict[str, Any] | str, finish_reason: str | None) -> bytes:
    body = head._object(chunk=True)
    if isinstance(delta, dict):
        choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None,
                                  "finish_reason": finish_reason}
    else:
        choice = {"text": delta, "index": 0, "logprobs": None, "finish_reason": finish_reason}
    body["choices"] = [choice]
    return _encode(body)

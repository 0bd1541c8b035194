"""OCI native chat streams as OpenAI ``chat.completion.chunk`` pieces.

OCI documents no stream schema; the shapes below are those read by OCI's integrations
(LiteLLM ``litellm/llms/oci/chat/generic.py`` and ``cohere.py``, Google ADK's OCI model):

- GENERIC: ``{"index": 0, "message": {"role": "ASSISTANT", "content": [{"type": "TEXT",
  "text": "..."}], "toolCalls": [...]}, "pad": "..."}`` per delta, then an event with
  ``finishReason`` per choice. Tool calls may arrive whole or with ``arguments`` split over
  several events (``id``/``name`` first).
- COHERE: ``{"apiFormat": "COHERE", "text": "..."}`` per delta; the terminal event repeats
  the whole ``text`` with ``chatHistory``, ``finishReason`` and any ``toolCalls``.
- With ``streamOptions.isIncludeUsage`` a last event carries ``usage``.

OCI ends the body without ``[DONE]`` (one is honoured if sent), so the usage event, or each
choice's finish, is what tells the backend the answer is complete.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tenantgate.errors import UpstreamBadResponse, UpstreamStreamInterrupted
from tenantgate.providers._oci_chat_reply import (
    CohereToolCall,
    Message,
    OciUsage,
    ToolCall,
    cohere_call_id,
    finish_reason,
    openai_tool_calls_from_cohere,
    text_of,
    usage_of,
)
from tenantgate.providers.base import DecodedEvents, StreamPiece


class _StreamEvent(msgspec.Struct, rename="camel"):
    api_format: str | None = None
    index: int | None = None
    message: Message | str | None = None  # a str only in an error event
    finish_reason: str | None = None
    text: str | None = None
    tool_calls: list[CohereToolCall] | None = None
    usage: OciUsage | None = None
    code: str | None = None


_event_decoder = msgspec.json.Decoder(_StreamEvent)
_encode = msgspec.json.Encoder().encode


class OciChatStreamDecoder:
    """Per-stream state: which choices got their role, tool-call numbering, COHERE's echo."""

    __slots__ = ("_cohere", "_head", "_role_sent", "_text_sent", "_tool_ids", "_tools_sent")

    def __init__(self, *, completion_id: str, created_s: int, model: str, cohere: bool) -> None:
        self._head: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created_s,
            "model": model,
        }
        self._cohere = cohere
        self._role_sent: set[int] = set()
        self._tool_ids: dict[int, list[str]] = {}
        self._text_sent = False
        self._tools_sent = False

    def feed(self, event: bytes) -> DecodedEvents:
        if event.strip() == b"[DONE]":
            return DecodedEvents(done=True)
        try:
            view = _event_decoder.decode(event)
        except msgspec.DecodeError as exc:
            raise UpstreamBadResponse(f"OCI sent a malformed stream event: {exc}") from exc
        if isinstance(view.message, str) or (view.code is not None and view.finish_reason is None):
            detail = view.message if isinstance(view.message, str) else view.code
            raise UpstreamStreamInterrupted(f"OCI reported an error mid-stream: {detail}")
        pieces: list[StreamPiece] = []
        if self._cohere or view.api_format == "COHERE":
            choice = self._cohere_choice(view)
        else:
            choice = self._generic_choice(view)
        if choice is not None:
            finished = 1 if choice["finish_reason"] is not None else 0
            pieces.append(StreamPiece(data=self._chunk([choice]), finished_choices=finished))
        usage = usage_of(view.usage)
        if usage is None:
            return DecodedEvents(pieces=pieces)
        data = _encode({**self._head, "choices": [], "usage": usage.to_openai()})
        pieces.append(StreamPiece(data=data, usage=usage, usage_only=True))
        return DecodedEvents(pieces=pieces, done=True)  # usage is OCI's last event

    def _chunk(self, choices: list[dict[str, Any]]) -> bytes:
        return _encode({**self._head, "choices": choices})

    def _choice(
        self, index: int, delta: dict[str, Any], reason: str | None
    ) -> dict[str, Any] | None:
        if not delta and reason is None:
            return None
        if index not in self._role_sent:
            self._role_sent.add(index)
            delta = {"role": "assistant", **delta}
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": reason}

    def _generic_choice(self, view: _StreamEvent) -> dict[str, Any] | None:
        index = view.index or 0
        message = view.message if isinstance(view.message, Message) else None
        delta: dict[str, Any] = {}
        text = text_of(message.content) if message else None
        if text:
            delta["content"] = text
        if message and message.tool_calls:
            delta["tool_calls"] = self._tool_call_deltas(index, message.tool_calls)
        reason = None
        if view.finish_reason is not None:
            has_calls = bool(self._tool_ids.get(index))
            reason = finish_reason(view.finish_reason, has_tool_calls=has_calls)
        return self._choice(index, delta, reason)

    def _tool_call_deltas(self, choice: int, calls: list[ToolCall]) -> list[dict[str, Any]]:
        """OpenAI tool-call deltas: id, type and name on a call's first delta, then arguments."""
        ids = self._tool_ids.setdefault(choice, [])
        deltas = []
        for call in calls:
            arguments = call.arguments or ""
            if call.id and call.id in ids:
                deltas.append({"index": ids.index(call.id), "function": {"arguments": arguments}})
            elif call.id or not ids:
                name = call.name or ""
                ids.append(call.id or cohere_call_id(len(ids), name, arguments))
                deltas.append(
                    {
                        "index": len(ids) - 1,
                        "id": ids[-1],
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                )
            else:  # a continuation without an id: OCI's index, else the latest call
                position = call.index if call.index is not None and call.index < len(ids) else -1
                index = position if position >= 0 else len(ids) - 1
                deltas.append({"index": index, "function": {"arguments": arguments}})
        return deltas

    def _cohere_choice(self, view: _StreamEvent) -> dict[str, Any] | None:
        terminal = view.finish_reason is not None
        delta: dict[str, Any] = {}
        # The terminal event repeats the whole text: send it only if nothing was streamed.
        if view.text and not (terminal and self._text_sent):
            delta["content"] = view.text
            self._text_sent = True
        if view.tool_calls and not (terminal and self._tools_sent):
            calls = openai_tool_calls_from_cohere(view.tool_calls)
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(calls)]
            self._tools_sent = True
        reason = None
        if view.finish_reason is not None:
            reason = finish_reason(view.finish_reason, has_tool_calls=self._tools_sent)
        return self._choice(0, delta, reason)

"""Incremental Server-Sent Events parser: bytes as they arrive in, event payloads out.

Upstreams split events across TCP reads arbitrarily, so the parser buffers until a blank
line ends an event (WHATWG rules: ``\\n``, ``\\r\\n`` or ``\\r`` line ends; several ``data:``
lines join with ``\\n``; comment lines starting with ``:`` are ignored).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One complete event: its ``data`` payload and its ``event`` name, if any."""

    data: bytes
    event: str | None = None


class SseParser:
    """Feed it chunks of the response body; it returns the events completed so far."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consume ``chunk`` and return every event it completed."""
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SseEvent] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            event = _parse_block(buffer[start:end])
            if event is not None:
                events.append(event)
            start = end + 2
        self._buffer = buffer[start:]
        return events

    @property
    def pending(self) -> bytes:
        """Bytes of an event not yet terminated (an upstream that ends without a blank line)."""
        return self._buffer

    def flush(self) -> list[SseEvent]:
        """Parse whatever is left when the body ends without a final blank line."""
        if not self._buffer.strip():
            return []
        event = _parse_block(self._buffer.rstrip(b"\n"))
        self._buffer = b""
        return [event] if event is not None else []


def _parse_block(block: bytes) -> SseEvent | None:
    if block.startswith(b"data: ") and b"\n" not in block:
        return SseEvent(block[6:])  # the common case, one data line
    data_lines: list[bytes] = []
    event_name: str | None = None
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data_lines.append(value)
        elif name == b"event":
            event_name = value.decode("utf-8", "replace")
    if not data_lines:
        return None
    return SseEvent(b"\n".join(data_lines), event_name)

"""What a wire-format builder hands the transport: a JSON body, an SSE event list, or an error.

Builders are pure (request body in, outcome out) so the transport alone decides how faults
bend the bytes on the way out.  A stream outcome marks which event carries the usage and
which one terminates the stream, so ``missing_usage`` and ``missing_done`` can drop them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode

JSON_CONTENT_TYPE = "application/json"
SSE_CONTENT_TYPE = "text/event-stream"


def encode_json(value: Any) -> bytes:
    """Compact JSON, as the real services send it."""
    return _encode(value)


def sse_event(value: Any) -> bytes:
    """One SSE event carrying a JSON payload: ``data: <json>\\n\\n``."""
    return b"data: " + _encode(value) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
SSE_MALFORMED = b"data: {not json\n\n"


@dataclass(frozen=True, slots=True)
class JsonOutcome:
    """A complete JSON response."""

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    """A streamed response: every SSE event in order, with the usage and terminator marked."""

    events: list[bytes]
    usage_at: int | None = None
    done_at: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def without(self, *, usage: bool, done: bool) -> list[bytes]:
        """The events left after dropping the usage event and/or the terminator."""
        dropped = {i for i, drop in ((self.usage_at, usage), (self.done_at, done)) if drop}
        return [event for i, event in enumerate(self.events) if i not in dropped]


Outcome = JsonOutcome | StreamOutcome


class FakeRequestError(Exception):
    """A request the real service would reject; each flavour renders it in its own error shape."""

    def __init__(
        self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code

"""Stop sequences over streamed text: emit what is safe, hold back what may begin a stop.

Text is released token by token, so a stop string can arrive split over several tokens.
The scanner holds back the longest tail of the text that is a prefix of some stop string;
everything before it can never be part of a stop and is released at once. A stop string
itself is never emitted (OpenAI semantics).
"""

from __future__ import annotations


class StopScanner:
    """Feeds decoded text in, gets releasable text out; ``stopped`` once a stop string appears."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Add text; return what may be sent now (nothing more once stopped)."""
        if self.stopped:
            return ""
        if not self._stops:
            return text
        buffer = self._pending + text
        cut = _first_stop(buffer, self._stops)
        if cut is not None:
            self.stopped = True
            self._pending = ""
            return buffer[:cut]
        hold = _held_tail_length(buffer, self._stops)
        self._pending = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        """The held-back tail, released when generation ends without a stop string."""
        if self.stopped:
            return ""
        tail, self._pending = self._pending, ""
        return tail


def _first_stop(buffer: str, stops: tuple[str, ...]) -> int | None:
    positions = [i for i in (buffer.find(s) for s in stops) if i >= 0]
    return min(positions) if positions else None


def _held_tail_length(buffer: str, stops: tuple[str, ...]) -> int:
    longest = max(len(s) for s in stops) - 1
    for length in range(min(longest, len(buffer)), 0, -1):
        tail = buffer[len(buffer) - length :]
        if any(s.startswith(tail) for s in stops):
            return length
    return 0

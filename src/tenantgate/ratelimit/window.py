"""The limit arithmetic, pure: a weighted sliding-window log and a set of leased slots.

Why a sliding log and not a token bucket (GCRA): a bucket of N refilled at N a minute admits
a burst of N and then one more every 60/N s, so how many of a burst get through depends on
how fast the burst arrives, and a fresh bucket admits nearly 2N in its first minute. The log
admits a call only if what was charged in the 60 s before it, plus the call, fits the
limit: never more than N in *any* 60-second window, exactly N of a burst however it is
spread, and ``remaining`` counts down one per admitted request. It costs one entry per
admitted call in the window (a few bytes here, a sorted-set member in Redis), which is what
the exactness is worth. The Redis store's Lua script (``_redis_scripts.py``) is this same
arithmetic; ``tests/ratelimit`` runs both against one model.

Times are integer milliseconds; an entry charged at ``t`` counts while ``now < t + window``.
"""

from __future__ import annotations

from collections import deque

WINDOW_MS = 60_000
"""Every rate is per minute, as OpenAI's are."""


class SlidingWindow:
    """What was charged in the last ``window_ms``, entry by entry, and its total.

    Entries are ``(at_ms, id)`` tuples and a ``{id: weight}`` dict: plain atoms that the
    garbage collector stops tracking, so a busy window (tens of thousands of entries) costs
    no collection time.
    """

    __slots__ = ("_entries", "_weights", "total", "window_ms")

    def __init__(self, window_ms: int = WINDOW_MS) -> None:
        self.window_ms = window_ms
        self._entries: deque[tuple[int, str]] = deque()
        self._weights: dict[str, int] = {}
        self.total = 0

    def __len__(self) -> int:
        return len(self._entries)

    def expire(self, now_ms: int) -> None:
        """Forget what was charged ``window_ms`` or longer ago."""
        entries, cutoff = self._entries, now_ms - self.window_ms
        while entries and entries[0][0] <= cutoff:
            self.total -= self._weights.pop(entries.popleft()[1])

    def fits(self, cost: int, limit: int) -> bool:
        return self.total + cost <= limit

    def wait_ms(self, cost: int, limit: int, now_ms: int) -> int:
        """How long until ``cost`` fits (0: now). A cost above the limit never fits: a whole window."""
        need = self.total + cost - limit
        if need <= 0:
            return 0
        if cost > limit:
            return self.window_ms
        freed = 0
        for at_ms, entry_id in self._entries:
            freed += self._weights[entry_id]
            if freed >= need:
                return at_ms + self.window_ms - now_ms
        return self.window_ms  # only if corrections left the total above the entries' sum

    def reset_ms(self, now_ms: int) -> int:
        """When the oldest entry leaves the window, so ``remaining`` grows (0: nothing counted)."""
        if not self._entries:
            return 0
        return self._entries[0][0] + self.window_ms - now_ms

    def charge(self, entry_id: str, cost: int, now_ms: int) -> None:
        self._entries.append((now_ms, entry_id))
        self._weights[entry_id] = cost
        self.total += cost

    def correct(self, entry_id: str, actual: int) -> None:
        """Replace an entry's charge by what the call really used; an expired entry is left alone."""
        charged = self._weights.get(entry_id)
        if charged is not None:
            self.total += actual - charged
            self._weights[entry_id] = actual


class Slots:
    """Calls in progress, each holding a slot until it is released or its lease ends."""

    __slots__ = ("_expiry_ms",)

    def __init__(self) -> None:
        self._expiry_ms: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._expiry_ms)

    def expire(self, now_ms: int) -> None:
        """Take back slots whose lease ended (a call that was never released)."""
        for slot in [slot for slot, until in self._expiry_ms.items() if until <= now_ms]:
            del self._expiry_ms[slot]

    def take(self, slot: str, expiry_ms: int) -> None:
        self._expiry_ms[slot] = expiry_ms

    def release(self, slot: str) -> None:
        self._expiry_ms.pop(slot, None)

"""Where counters live: the store contract, its verdict, and the in-process store.

A store checks *and* charges every limit of a call at once, all or nothing, so a call
refused by one limit uses up none of the others. ``finish`` gives back what the call held
(its concurrency slots) and corrects its token charge to what it used; it never raises and
never blocks the caller (the Redis store sends it in the background).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tenantgate.ratelimit.rules import Limit, LimitKind
from tenantgate.ratelimit.window import WINDOW_MS, SlidingWindow, Slots

CONCURRENCY_RETRY_MS = 1000
"""A slot frees when some call ends, which nobody can foresee: come back in a second."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Admitted or not, how long to wait if not, and each limit's remaining and reset (ms)."""

    admitted: bool
    retry_after_ms: int
    remaining: tuple[int, ...]
    reset_ms: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Correction:
    """A token charge to replace: the estimate charged on admission by the tokens really used."""

    counter: str
    estimate: int
    actual: int


class StoreUnavailable(Exception):
    """The store could not answer (Redis down or too slow); ``on_store_error`` decides what happens."""


class LimitStore(Protocol):
    """Counters shared by whoever uses the same store: one process, or every replica."""

    async def admit(self, admission_id: str, limits: Sequence[Limit], costs: Sequence[int]) -> Verdict:
        """Charge ``costs`` against ``limits`` if every one fits, else nothing; raise StoreUnavailable."""
        ...

    def finish(self, admission_id: str, corrections: Sequence[Correction], slots: Sequence[str]) -> None:
        """Release the admission's slots and correct its token charges (best effort, never raises)."""
        ...

    async def flush(self) -> None:
        """Wait until every ``finish`` so far has reached the counters."""
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class LocalStore:
    """Counters in this process's memory: a dict lookup and a deque append per limit."""

    def __init__(self, *, clock_ms: Callable[[], int], slot_max_ms: int, window_ms: int = WINDOW_MS) -> None:
        self._clock_ms = clock_ms
        self._slot_max_ms = slot_max_ms
        self._window_ms = window_ms
        self._windows: dict[str, SlidingWindow] = {}
        self._slots: dict[str, Slots] = {}
        self._swept_at_ms = clock_ms()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def admit(self, admission_id: str, limits: Sequence[Limit], costs: Sequence[int]) -> Verdict:
        return self.admit_now(admission_id, limits, costs)

    def admit_now(self, admission_id: str, limits: Sequence[Limit], costs: Sequence[int]) -> Verdict:
        """The whole admission, synchronously (nothing here waits)."""
        now = self._clock_ms()
        if now - self._swept_at_ms >= self._window_ms:
            self._sweep(now)
        counters: list[SlidingWindow | Slots] = []
        wait = 0
        for limit, cost in zip(limits, costs):  # noqa: B905 (same length by construction)
            if limit.kind is LimitKind.CONCURRENT:
                slots = self._slots.get(limit.counter) or self._slots.setdefault(limit.counter, Slots())
                slots.expire(now)
                if len(slots) >= limit.limit:
                    wait = max(wait, CONCURRENCY_RETRY_MS)
                counters.append(slots)
            else:
                window = self._windows.get(limit.counter) or self._windows.setdefault(
                    limit.counter, SlidingWindow(self._window_ms))
                window.expire(now)
                if window.total + cost > limit.limit:
                    wait = max(wait, window.wait_ms(cost, limit.limit, now))
                counters.append(window)
        remaining: list[int] = []
        reset: list[int] = []
        for limit, cost, counter in zip(limits, costs, counters):  # noqa: B905
            if isinstance(counter, Slots):
                if not wait:
                    counter.take(admission_id, now + self._slot_max_ms)
                remaining.append(limit.limit - len(counter))
                reset.append(0)
            else:
                if not wait:
                    counter.charge(admission_id, cost, now)
                remaining.append(limit.limit - counter.total)
                reset.append(counter.reset_ms(now))
        return Verdict(not wait, wait, tuple(remaining), tuple(reset))

    def finish(self, admission_id: str, corrections: Sequence[Correction], slots: Sequence[str]) -> None:
        for correction in corrections:
            window = self._windows.get(correction.counter)
            if window is not None:
                window.correct(admission_id, correction.actual)
        for counter in slots:
            held = self._slots.get(counter)
            if held is not None:
                held.release(admission_id)

    def _sweep(self, now: int) -> None:
        """Drop the counters of subjects that stopped calling, so memory follows active callers."""
        self._swept_at_ms = now
        for name, window in list(self._windows.items()):
            window.expire(now)
            if not len(window):
                del self._windows[name]
        for name, slots in list(self._slots.items()):
            slots.expire(now)
            if not len(slots):
                del self._slots[name]


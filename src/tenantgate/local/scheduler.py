"""A fair, bounded admission queue in front of a local model's decoding slots.

Requests take a slot at once when one is free and nobody is waiting; otherwise they wait in
strict FIFO order. The queue is bounded (``queue_max``): a request that finds it full is
refused at once with :class:`LocalQueueFull` (429), and one that waits past the deadline
gets :class:`LocalQueueDeadlineExceeded` (503). Both carry ``retry_after_s`` estimated from
how long slots have recently been held, so clients back off for about one queue's worth.

A waiter that is cancelled leaves the queue; a slot granted to a waiter at the very moment
it was cancelled is passed on, so no slot is ever lost. All methods run on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable

from tenantgate.errors import LocalQueueDeadlineExceeded, LocalQueueFull

_RETRY_AFTER_MAX_S = 60.0
_HOLD_SMOOTHING = 0.2


class Slot:
    """The right to run one request; release it exactly once when the work has stopped."""

    __slots__ = ("_acquired_at", "_released", "_scheduler")

    def __init__(self, scheduler: Scheduler, acquired_at: float) -> None:
        self._scheduler = scheduler
        self._acquired_at = acquired_at
        self._released = False

    def release(self) -> None:
        """Give the slot to the next waiter (idempotent)."""
        if self._released:
            return
        self._released = True
        self._scheduler._release(self._acquired_at)


class Scheduler:
    """FIFO admission to ``slots`` concurrent runs, with a bounded queue and a wait deadline."""

    def __init__(
        self,
        *,
        slots: int,
        queue_max: int,
        queue_deadline_ms: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = slots
        self._slots = slots
        self._queue_max = queue_max
        self._deadline_s = queue_deadline_ms / 1000
        self._clock = clock
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._hold_s = 1.0

    @property
    def waiting(self) -> int:
        """Requests in the queue now."""
        return sum(1 for w in self._waiters if not w.done())

    @property
    def busy(self) -> int:
        """Slots held now."""
        return self._slots - self._free

    async def acquire(self) -> Slot:
        """Wait for a slot in arrival order; raise if the queue is full or the wait too long."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return Slot(self, self._clock())
        if self.waiting >= self._queue_max:
            raise LocalQueueFull(
                f"The local model is busy and its queue is full ({self._queue_max} waiting). "
                "Retry shortly.",
                retry_after_s=self._retry_after_s(),
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self._deadline_s):
                await waiter
        except TimeoutError:
            if _granted(waiter):
                return Slot(self, self._clock())
            self._discard(waiter)
            raise LocalQueueDeadlineExceeded(
                f"The local model was too busy to start this request within "
                f"{self._deadline_s * 1000:.0f} ms. Retry shortly.",
                retry_after_s=self._retry_after_s(),
            ) from None
        except asyncio.CancelledError:
            if _granted(waiter):
                Slot(self, self._clock()).release()
            else:
                self._discard(waiter)
            raise
        return Slot(self, self._clock())

    def _release(self, acquired_at: float) -> None:
        held_s = max(0.0, self._clock() - acquired_at)
        self._hold_s += _HOLD_SMOOTHING * (held_s - self._hold_s)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def _discard(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _retry_after_s(self) -> float:
        queued = self.waiting + 1
        estimate = self._hold_s * queued / self._slots
        return float(min(_RETRY_AFTER_MAX_S, max(1.0, math.ceil(estimate))))


def _granted(waiter: asyncio.Future[None]) -> bool:
    return waiter.done() and not waiter.cancelled()

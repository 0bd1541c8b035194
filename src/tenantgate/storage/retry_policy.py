"""How often and how long a unit of work waits before re-running after a conflict.

Conflicts are expected under concurrency (SQLite writers queueing past busy_timeout,
PostgreSQL SERIALIZABLE aborts), so the unit of work re-runs the whole transaction a
bounded number of times. Delays use "full jitter" (uniform in [0, capped exponential])
so that writers that collided once do not collide again in lockstep. Sleep and RNG
are injected so tests replay exact schedules.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Sleep = Callable[[float], Awaitable[None]]
"""Awaitable sleep taking seconds, like ``asyncio.sleep``."""

UnitRandom = Callable[[], float]
"""Returns a float uniform in [0, 1), like ``random.random``."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded, jittered retry schedule for transactions that lost a race."""

    max_attempts: int = 10
    base_delay_ms: float = 2.0
    max_delay_ms: float = 250.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    rng: UnitRandom = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_ms < 0 or self.max_delay_ms < self.base_delay_ms:
            raise ValueError("need 0 <= base_delay_ms <= max_delay_ms")

    def delay_ms(self, failed_attempts: int) -> float:
        """Delay before the next attempt, after ``failed_attempts`` (>= 1) failures."""
        ceiling_ms = min(self.max_delay_ms, self.base_delay_ms * 2.0 ** (failed_attempts - 1))
        return self.rng() * ceiling_ms

    async def wait_after(self, failed_attempts: int) -> None:
        """Sleep for ``delay_ms(failed_attempts)`` using the injected sleep."""
        await self.sleep(self.delay_ms(failed_attempts) / 1000)


NO_RETRY = RetryPolicy(max_attempts=1)
"""Policy for callers that handle ``TransactionConflict`` themselves."""

"""A circuit breaker per deployment: failure ratio over a sliding window, cooldown, half-open probes.

Pure: every method takes ``now`` (monotonic seconds) from the caller's injected clock, so
tests drive time by hand. The window is a ring of buckets, so recording an attempt costs a
few integer operations and no allocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from tenantgate.settings import BreakerSettings

_BUCKETS = 10


class BreakerState(IntEnum):
    """Where a breaker stands; the values are the ``/metrics`` gauge's."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and for how long (from ``routing.breaker``)."""

    enabled: bool = True
    window_s: float = 30.0
    min_requests: int = 10
    failure_ratio: float = 0.5
    cooldown_s: float = 10.0
    half_open_probes: int = 1

    @classmethod
    def from_settings(cls, settings: BreakerSettings) -> BreakerPolicy:
        return cls(settings.enabled, settings.window_s, settings.min_requests, settings.failure_ratio,
                   settings.cooldown_s, settings.half_open_probes)


class CircuitBreaker:
    """Opens when the window's failure ratio reaches the threshold; probes after the cooldown."""

    __slots__ = ("_failures", "_opened_at", "_policy", "_probe_streak", "_probes", "_requests", "_slot",
                 "_state", "_total_failures", "_total_requests", "_width_s")

    def __init__(self, policy: BreakerPolicy) -> None:
        self._policy = policy
        self._width_s = policy.window_s / _BUCKETS
        self._requests = [0] * _BUCKETS
        self._failures = [0] * _BUCKETS
        self._total_requests = 0
        self._total_failures = 0
        self._slot = 0
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._probes = 0
        self._probe_streak = 0
        """Active probes' run: +n after n successes in a row, -n after n failures."""

    def state(self, now: float) -> BreakerState:
        """The state at ``now`` (an open breaker turns half-open once its cooldown has passed)."""
        if self._state is BreakerState.OPEN and now - self._opened_at >= self._policy.cooldown_s:
            self._state = BreakerState.HALF_OPEN
            self._probes = 0
        return self._state

    def admits(self, now: float) -> bool:
        """Whether a request may be sent now (closed, or half-open with a probe slot free)."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and self._probes < self._policy.half_open_probes

    def begin(self, now: float) -> bool:
        """Claim the right to send one attempt; False when the breaker refuses it."""
        if not self.admits(now):
            return False
        if self._state is BreakerState.HALF_OPEN:
            self._probes += 1
        return True

    def record(self, ok: bool | None, now: float) -> None:
        """One attempt's result: True healthy, False failed, None neither (e.g. throttled)."""
        if self._state is BreakerState.HALF_OPEN:
            self._probes = max(0, self._probes - 1)
            if ok is True:
                self._close(now)
            elif ok is False:
                self._open(now)
            return
        if ok is None or not self._policy.enabled:
            return
        self._roll(now)
        index = self._slot % _BUCKETS
        self._requests[index] += 1
        self._total_requests += 1
        if not ok:
            self._failures[index] += 1
            self._total_failures += 1
        if self._tripped():
            self._open(now)

    def probed(self, ok: bool, now: float, *, unhealthy_after: int, healthy_after: int) -> None:
        """One active probe's result (``routing.probes``), kept apart from live traffic's window.

        ``unhealthy_after`` failures in a row open a closed breaker before callers meet the
        outage; ``healthy_after`` successes in a row close an open or half-open one without
        spending a caller's request on the half-open probe.
        """
        streak = self._probe_streak
        streak = (streak + 1 if streak > 0 else 1) if ok else streak - 1 if streak < 0 else -1
        self._probe_streak = streak
        if not self._policy.enabled:
            return
        state = self.state(now)
        if ok and state is not BreakerState.CLOSED and streak >= healthy_after:
            self._close(now)
        elif not ok and state is BreakerState.CLOSED and -streak >= unhealthy_after:
            self._open(now)

    @property
    def probe_streak(self) -> int:
        """Consecutive successful (positive) or failed (negative) active probes; 0: none yet."""
        return self._probe_streak

    def reopens_in_s(self, now: float) -> float:
        """Seconds until an open breaker admits a probe (0 when it admits requests already)."""
        if self.state(now) is not BreakerState.OPEN:
            return 0.0
        return self._opened_at + self._policy.cooldown_s - now

    @property
    def failure_ratio(self) -> float:
        """The window's failed share (0 when empty), for views."""
        return self._total_failures / self._total_requests if self._total_requests else 0.0

    def _tripped(self) -> bool:
        policy = self._policy
        return (self._state is BreakerState.CLOSED and self._total_requests >= policy.min_requests
                and self._total_failures >= policy.failure_ratio * self._total_requests)

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now

    def _close(self, now: float) -> None:
        self._state = BreakerState.CLOSED
        self._slot = int(now / self._width_s)
        for index in range(_BUCKETS):
            self._requests[index] = self._failures[index] = 0
        self._total_requests = self._total_failures = 0

    def _roll(self, now: float) -> None:
        """Forget the buckets that slid out of the window since the last record."""
        slot = int(now / self._width_s)
        steps = slot - self._slot
        if steps <= 0:
            return
        for step in range(1, min(steps, _BUCKETS) + 1):
            index = (self._slot + step) % _BUCKETS
            self._total_requests -= self._requests[index]
            self._total_failures -= self._failures[index]
            self._requests[index] = self._failures[index] = 0
        self._slot = slot

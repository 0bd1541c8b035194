"""What routing knows of one deployment right now: breaker, in-flight requests, latency, cooldown.

One instance per deployment, owned by the router and mutated only on the event loop (no
locks). Views (``/metrics``, the admin API) read it as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantgate.providers.base import Backend, DeploymentInfo
from tenantgate.routing.health import BreakerPolicy, BreakerState, CircuitBreaker
from tenantgate.routing.latency import LatencyPolicy, latency_band

if TYPE_CHECKING:
    from tenantgate.routing.capacity import DedicatedCapacity


class DeploymentState:
    """The live routing data of one deployment of one model."""

    __slots__ = ("backend", "breaker", "capacity", "cooling_until", "dedicated", "ewma_ttft_s", "in_flight",
                 "info", "latency_band", "price_key", "rank")

    def __init__(self, backend: Backend, rank: int, breaker: BreakerPolicy) -> None:
        self.backend = backend
        self.info: DeploymentInfo = backend.info
        self.rank = rank
        """Key under the priority strategy: the explicit ``priority``, else the position in the list
        (equal priorities are ties for the next strategy; the list order breaks the last ties)."""
        self.breaker = CircuitBreaker(breaker)
        self.capacity = backend.info.concurrent_requests_max or 1
        self.in_flight = 0
        self.ewma_ttft_s: float | None = None
        self.latency_band = -1
        """``latency_band`` of the average, kept with it so a decision does no arithmetic."""
        self.cooling_until = 0.0
        """Monotonic time until which a 429 keeps this deployment at the back of the order."""
        self.price_key = 0
        """Micro-credits per 1M input + output tokens from the rate card (0: unknown or credits off)."""
        self.dedicated: DedicatedCapacity | None = None
        """Admission to reserved and shared slots, on a dedicated deployment with reservations."""

    def observe_ttft(self, seconds: float, policy: LatencyPolicy) -> None:
        """Fold one time-to-first-token sample into the moving average (and its band)."""
        ewma = self.ewma_ttft_s
        ewma = seconds if ewma is None else ewma + policy.ewma_alpha * (seconds - ewma)
        self.ewma_ttft_s = ewma
        self.latency_band = latency_band(ewma, policy)

    def breaker_state(self, now: float) -> BreakerState:
        """The breaker's state at ``now``."""
        return self.breaker.state(now)

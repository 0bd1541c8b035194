"""The latency average ``least_latency`` routes on, and the bands that make nearly equal averages ties."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tenantgate.settings import LatencySettings


@dataclass(frozen=True, slots=True)
class LatencyPolicy:
    """How the latency average is kept and compared (``routing.latency``)."""

    ewma_alpha: float = 0.3
    tie_ms: float = 20.0
    tie_ratio: float = 0.2
    explore_ratio: float = 0.05

    @classmethod
    def from_settings(cls, settings: LatencySettings) -> LatencyPolicy:
        return cls(settings.ewma_alpha, settings.tie_ms, settings.tie_ratio, settings.explore_ratio)


def latency_band(ewma_s: float | None, policy: LatencyPolicy) -> int:
    """-1 unmeasured (tried first, to measure it); 0 under ``tie_ms``; then bands ``tie_ratio`` wide."""
    if ewma_s is None:
        return -1
    ms = ewma_s * 1000.0
    floor_ms = max(policy.tie_ms, 1e-3)
    if ms <= floor_ms:
        return 0
    if policy.tie_ratio <= 0:
        return 1 + int(ms - floor_ms)
    return 1 + int(math.log(ms / floor_ms) / math.log1p(policy.tie_ratio))

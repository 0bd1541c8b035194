"""Routing strategies as sort keys, combined lexicographically: each later one breaks ties.

``priority`` orders by rank; ``weighted`` draws an exponential variate per deployment with
rate = weight (the order of the draws is a weighted random permutation, so the first
deployment is picked with probability weight / sum of weights: Efraimidis-Spirakis);
``least_latency`` orders by the band of the time-to-first-token average (averages in the
same band are ties, so a tie-breaker decides between equally fast deployments);
``lowest_cost`` by the rate card's price; ``least_busy`` by in-flight requests per unit of
capacity. Ties left by every strategy keep the priority order (the sort is stable).
Randomness comes only from the ``rng`` passed in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from tenantgate.routing.deployment_state import DeploymentState

SortKey = Callable[[DeploymentState], Any]
STRATEGIES = ("priority", "weighted", "least_latency", "lowest_cost", "least_busy")


def _part(name: str, rng: random.Random) -> SortKey:
    if name == "priority":
        return lambda s: s.rank
    if name == "weighted":
        expovariate = rng.expovariate
        return lambda s: expovariate(s.info.weight) if s.info.weight > 0 else math.inf
    if name == "least_latency":
        return lambda s: s.latency_band
    if name == "lowest_cost":
        return lambda s: s.price_key
    if name == "least_busy":
        return lambda s: s.in_flight / s.capacity
    raise ValueError(f"unknown routing strategy {name!r}")


def sort_key(strategies: Sequence[str], rng: random.Random) -> SortKey:
    """One key function for the strategies in order (a scalar for one, a tuple for several)."""
    parts = [_part(name, rng) for name in strategies] or [_part("priority", rng)]
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda s: (first(s), second(s))
    return lambda s: tuple([part(s) for part in parts])

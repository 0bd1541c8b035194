"""Microseconds per routing decision, for each strategy, over 8 deployments of one model.

Run: ``.venv/bin/python bench/routing_bench.py``. Builds a router over one model with 8
deployments (varied weights, regions, residency tags, latency averages, in-flight counts
and prices) and times ``Router.order`` (the decision: residency filter, breaker check,
strategy sort) for each strategy alone and for combinations with a tie-breaker, unconstrained
and for a compartment pinned to ``eu`` (half the deployments eligible), then the
whole per-request bookkeeping of a request answered at the first attempt (decision plus
``Attempts``: plan, attempt id, in-flight, latency sample, breaker record). Prints the
median of many batches.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from tenantgate.catalog import Catalog, ModelEntry
from tenantgate.providers.base import Capabilities, DeploymentInfo, Operation, Reply, StreamPiece
from tenantgate.routing.attempts import Attempts
from tenantgate.routing.router import Router
from tenantgate.settings import ModelRoutingSettings, ResidencyRule, RoutingSettings

DEPLOYMENTS = 8
CHAT = frozenset({Operation.CHAT})
STRATEGIES: dict[str, list[str]] = {
    "priority": ["priority"],
    "weighted": ["weighted"],
    "least_latency": ["least_latency"],
    "lowest_cost": ["lowest_cost"],
    "least_busy": ["least_busy"],
    "least_latency+priority": ["least_latency", "priority"],
    "lowest_cost+least_busy": ["lowest_cost", "least_busy"],
}


class _Backend:
    capabilities = Capabilities(operations=CHAT)

    def __init__(self, info: DeploymentInfo) -> None:
        self.info = info

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Reply:
        raise NotImplementedError

    def stream(self, operation: Operation, body: dict[str, Any]) -> AsyncGenerator[StreamPiece, None]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def build(strategy: list[str], rng: random.Random) -> Router:
    """A router over one model of 8 deployments with live-looking state."""
    backends = [
        _Backend(DeploymentInfo("m", "openai", f"up{i}", f"region-{i % 4}", i, weight=1 + i % 3,
                                residency=frozenset({"eu"} if i % 2 else {"us"})))
        for i in range(DEPLOYMENTS)
    ]
    entry = ModelEntry("m", "bench", 0, list(backends), CHAT, ModelRoutingSettings(strategy=strategy))  # type: ignore[arg-type]
    prices = {f"region-{r}": 1000 + 250 * r for r in range(4)}
    settings = RoutingSettings(compartments=[ResidencyRule(compartment="EU", residency=["eu"])])
    router = Router(Catalog([entry]), settings, clock=time.monotonic, rng=rng,
                    price_of=lambda model, region: prices[region or "region-0"])
    for state in router.route("m").states:
        state.observe_ttft(rng.uniform(0.05, 0.8), router.latency)
        state.in_flight = rng.randrange(0, 20)
    return router


def median_us(work: Callable[[], object], loops: int = 5_000, runs: int = 21) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(loops):
            work()
        samples.append((time.perf_counter() - start) / loops * 1e6)
    return statistics.median(samples)


def measure(strategy: list[str], rng: random.Random) -> tuple[float, float, float]:
    """Median µs of a decision, a decision for a pinned compartment, and a whole first-attempt request."""
    router = build(strategy, rng)
    route = router.route("m")
    backends = [state.backend for state in route.states]
    eu = router.rule_for(("EU", "Team"))

    def one_request() -> None:
        tries = Attempts(router, "req")
        tries.begin_model(route, router.order("m", backends, None))
        attempt = tries.next()
        assert attempt is not None
        tries.start(attempt)
        tries.first_byte(attempt)
        tries.end(attempt, None)

    return (median_us(lambda: router.order("m", backends, None)),
            median_us(lambda: router.order("m", backends, eu)), median_us(one_request))


def main() -> None:
    rng = random.Random(7)
    print(f"deployments={DEPLOYMENTS} (median µs per call)")
    for name, strategy in STRATEGIES.items():
        decision_us, pinned_us, request_us = measure(strategy, rng)
        print(f"{name:<24} decision_us={decision_us:6.2f}  pinned_eu_us={pinned_us:6.2f}  "
              f"decision+attempt_us={request_us:6.2f}")


if __name__ == "__main__":
    main()

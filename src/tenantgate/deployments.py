"""The live deployments as the gateway runs them: the router built from settings, and its views.

The router itself (``routing/``) is pure and takes its clock, random source and prices as
arguments; this module supplies the real ones (monotonic time, a system-seeded RNG, the
rate card when credits are on) and reads the routing state for ``/metrics`` and
``GET /admin/v1/deployments``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from tenantgate.catalog import Catalog
from tenantgate.credits.metering import Metering
from tenantgate.routing.capacity import ReservationUsage
from tenantgate.routing.router import PriceOf, Router
from tenantgate.settings import RoutingSettings, SettingsError


def build_router(catalog: Catalog, settings: RoutingSettings, metering: Metering | None) -> Router:
    """The gateway's router; lowest_cost reads the rate card, and falls back to priority without it."""
    try:
        return Router(catalog, settings, clock=time.monotonic, rng=random.Random(),  # noqa: S311
                      price_of=_rate_card_prices(metering) if metering is not None else None)
    except ValueError as exc:
        raise SettingsError(f"models[].routing: {exc}") from exc


def _rate_card_prices(metering: Metering) -> PriceOf:
    def price_of(model: str, region: str | None) -> int | None:
        try:
            price = metering.rate_card.price(model, datetime.now(UTC), region)
        except LookupError:
            return None
        return price.input + price.output

    return price_of


@dataclass(frozen=True, slots=True)
class DeploymentHealth:
    """One deployment as the views show it."""

    model: str
    deployment: str
    provider: str
    region: str | None
    cloud: str | None
    capacity_class: str
    throughput_tokens_per_min: int | None
    concurrent_requests_max: int | None
    residency: tuple[str, ...]
    weight: int
    rank: int
    breaker: str
    breaker_code: int
    failure_ratio: float
    in_flight: int
    ewma_ttft_ms: float | None
    cooling_down: bool
    reservations: tuple[ReservationUsage, ...] = ()
    probe_streak: int = 0
    """Active probes in a row that succeeded (positive) or failed (negative); 0: none yet."""
    """Utilisation of dedicated capacity per reservation, then of its shared slots (empty: none)."""


def health(router: Router) -> list[DeploymentHealth]:
    """Every deployment's routing data and live health, in catalog order."""
    now = router.clock()
    rows = []
    for route in router.routes():
        for state in route.states:
            info, breaker = state.info, state.breaker_state(now)
            rows.append(DeploymentHealth(
                model=route.name, deployment=info.label, provider=info.provider, region=info.region,
                cloud=info.cloud, capacity_class=info.capacity_class,
                throughput_tokens_per_min=info.throughput_tokens_per_min,
                concurrent_requests_max=info.concurrent_requests_max,
                residency=tuple(sorted(info.residency)), weight=info.weight, rank=state.rank,
                breaker=breaker.name.lower(), breaker_code=int(breaker),
                failure_ratio=round(state.breaker.failure_ratio, 4), in_flight=state.in_flight,
                ewma_ttft_ms=None if state.ewma_ttft_s is None else round(state.ewma_ttft_s * 1000, 3),
                cooling_down=state.cooling_until > now,
                reservations=tuple(state.dedicated.usage()) if state.dedicated is not None else (),
                probe_streak=state.breaker.probe_streak,
            ))
    return rows


SHARED_LABEL = "(shared)"
"""The ``compartment`` label of a dedicated deployment's shared slots in ``/metrics``."""


def reservation_rows(router: Router) -> list[tuple[str, str, str, int, int, int, float | None]]:
    """Every reservation's (model, deployment, compartment, slots, in use, queued, p99 wait s)."""
    rows = []
    for row in health(router):
        for usage in row.reservations:
            p99_s = None if usage.wait_p99_ms is None else usage.wait_p99_ms / 1000
            compartment = SHARED_LABEL if usage.compartment is None else usage.compartment
            rows.append((row.model, row.deployment, compartment, usage.slots, usage.in_use, usage.queued,
                         p99_s))
    return rows

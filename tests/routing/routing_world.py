"""Building blocks of the routing tests: a hand-driven clock and catalogs of inert backends."""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any

from tenantgate.catalog import Catalog, ModelEntry
from tenantgate.providers.base import Capabilities, DeploymentInfo, Operation, Reply, StreamPiece
from tenantgate.routing.latency import LatencyPolicy
from tenantgate.routing.router import PriceOf, Router
from tenantgate.settings import ModelRoutingSettings, RoutingSettings

CHAT = frozenset({Operation.CHAT})


class ManualClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class InertBackend:
    """A deployment the router can order; the pure tests never call it."""

    capabilities = Capabilities(operations=CHAT)

    def __init__(self, info: DeploymentInfo) -> None:
        self.info = info

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Reply:
        raise AssertionError("routing tests do not call upstreams")

    def stream(self, operation: Operation, body: dict[str, Any]) -> AsyncGenerator[StreamPiece, None]:
        raise AssertionError("routing tests do not call upstreams")

    async def aclose(self) -> None:
        return None


def deployment(model: str, index: int, **fields: Any) -> InertBackend:
    """A backend of ``model`` at ``index`` with routing fields (region, residency, weight, ...)."""
    fields.setdefault("region", f"region-{index}")
    residency = frozenset(fields.pop("residency", ()))
    return InertBackend(DeploymentInfo(model, "openai", f"{model}-up{index}", index=index,
                                       residency=residency, **fields))


def model(name: str, deployments: list[dict[str, Any]], **routing: Any) -> ModelEntry:
    """A catalog entry whose deployments carry the given routing fields."""
    backends = [deployment(name, i, **fields) for i, fields in enumerate(deployments)]
    return ModelEntry(name, "test", 0, list(backends), CHAT, ModelRoutingSettings(**routing))


def router(
    *entries: ModelEntry, settings: dict[str, Any] | None = None, seed: int = 7,
    clock: ManualClock | None = None, price_of: PriceOf | None = None,
) -> Router:
    """A router over these entries with a seeded RNG and a manual clock."""
    return Router(Catalog(list(entries)), RoutingSettings(**(settings or {})), clock=clock or ManualClock(),
                  rng=random.Random(seed), price_of=price_of)


def labels(router_: Router, name: str, rule: Any = None) -> list[int]:
    """The indexes of ``name``'s deployments in the order the router would try them."""
    decision = router_.order(name, [s.backend for s in router_.route(name).states], rule)
    return [state.info.index for state in decision.states]


def exact(router_: Router) -> LatencyPolicy:
    """The router's latency policy with alpha 1: the next sample becomes the average."""
    return replace(router_.latency, ewma_alpha=1.0)

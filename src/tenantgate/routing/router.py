"""The router: per model, orders the eligible deployments and keeps their live health.

``order`` is the routing decision of one request: drop deployments the compartment's
residency rule excludes, skip those whose breaker is open, move those cooling down after a
429 to the back, sort the rest by the model's strategies, and put first the deployments
where the compartment owns reserved capacity. It takes the clock and the
random source it was built with (both injected), so a decision is reproducible in tests.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tenantgate.routing.capacity import capacity_of
from tenantgate.routing.deployment_state import DeploymentState
from tenantgate.routing.health import BreakerPolicy
from tenantgate.routing.latency import LatencyPolicy
from tenantgate.routing.residency import CompartmentRule, ResidencyRules
from tenantgate.routing.retry import RetryBudget, RetryPolicy
from tenantgate.routing.strategies import SortKey, sort_key
from tenantgate.settings import RoutingSettings

if TYPE_CHECKING:
    from tenantgate.providers.base import Backend
    from tenantgate.settings import ModelRoutingSettings


class RoutedModel(Protocol):
    """What the router needs of a catalog entry (``catalog.ModelEntry`` is one)."""

    name: str
    backends: list[Backend]
    routing: ModelRoutingSettings


class ModelSource(Protocol):
    """What the router needs of the catalog: its entries (``catalog.Catalog`` is one)."""

    def entries(self) -> Sequence[RoutedModel]:
        """Every model, in catalog order."""
        ...

PriceOf = Callable[[str, str | None], int | None]
"""Micro-credits per 1M input + output tokens of a model in a region, or None when unpriced."""

PRICE_REFRESH_S = 60.0


@dataclass(slots=True)
class ModelRoute:
    """One model's routing: its deployments' states (in catalog order), strategies and budgets."""

    name: str
    states: list[DeploymentState]
    strategies: tuple[str, ...]
    key: SortKey
    policy: RetryPolicy
    budget: RetryBudget
    fallbacks: tuple[str, ...]
    explore: bool
    priced_at: float | None = None
    reserved: bool = False
    """Whether some deployment has reservations (their owners are sent there first)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A routing decision: the deployments to try in order, and why some were left out."""

    states: list[DeploymentState]
    rule: CompartmentRule | None
    excluded_by_residency: int
    open_breakers: int
    reopens_in_s: float | None = None
    """When some breakers are open: seconds until the first of them admits a probe."""


class Router:
    """Routing decisions and health for every model of a catalog (event-loop confined)."""

    def __init__(
        self, catalog: ModelSource, settings: RoutingSettings, *, clock: Callable[[], float],
        rng: random.Random, price_of: PriceOf | None = None,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.settings = settings
        self.latency = LatencyPolicy.from_settings(settings.latency)
        self.residency = ResidencyRules(settings.compartments)
        self._price_of = price_of
        breaker = BreakerPolicy.from_settings(settings.breaker)
        self._routes = {entry.name: self._route(entry, breaker) for entry in catalog.entries()}
        for route in self._routes.values():
            unknown = [name for name in route.fallbacks if name not in self._routes]
            if unknown:
                raise ValueError(f"model {route.name!r} falls back to unknown models: {', '.join(unknown)}")

    def _route(self, entry: RoutedModel, breaker: BreakerPolicy) -> ModelRoute:
        states = [DeploymentState(b, i if b.info.priority is None else b.info.priority, breaker)
                  for i, b in enumerate(entry.backends)]
        for state in states:
            state.dedicated = capacity_of(state.info, self.clock)
        reserved = any(state.dedicated is not None for state in states)
        strategies = tuple(entry.routing.strategy) or ("priority",)
        return ModelRoute(
            name=entry.name, states=states, strategies=strategies,
            key=sort_key(strategies, self.rng),
            policy=RetryPolicy.from_settings(self.settings.retry, entry.routing),
            budget=RetryBudget.from_settings(self.settings.retry, self.clock()),
            fallbacks=tuple(entry.routing.fallbacks), explore="least_latency" in strategies,
            reserved=reserved,
        )

    def route(self, model: str) -> ModelRoute:
        """The routing of a catalog model (KeyError for a name not in the catalog)."""
        return self._routes[model]

    def routes(self) -> list[ModelRoute]:
        """Every model's routing, for views."""
        return list(self._routes.values())

    def rule_for(self, compartment_path: tuple[str, ...] | None) -> CompartmentRule | None:
        """The residency rule of a compartment (None: unconstrained)."""
        return self.residency.rule_for(compartment_path) if self.residency else None

    def order(
        self, model: str, backends: Sequence[Backend], rule: CompartmentRule | None,
        path: tuple[str, ...] | None = None,
    ) -> Decision:
        """The deployments of ``backends`` (a subset of the model's) in the order to try them.

        ``path`` is the caller's compartment: deployments where it owns a reservation come first.
        """
        route = self._routes[model]
        now = self.clock()
        if route.priced_at is None or now - route.priced_at > PRICE_REFRESH_S:
            self._reprice(route, now)
        ready: list[DeploymentState] = []
        cooling: list[DeploymentState] = []
        excluded = opened = 0
        reopens_in_s: float | None = None
        states = route.states
        for backend in backends:
            state = states[backend.info.index]
            if rule is not None and not rule.admits(state.info.residency):
                excluded += 1
            elif not state.breaker.admits(now):
                opened += 1
                wait_s = state.breaker.reopens_in_s(now)
                reopens_in_s = wait_s if reopens_in_s is None else min(reopens_in_s, wait_s)
            elif state.cooling_until > now:
                cooling.append(state)
            else:
                ready.append(state)
        if len(ready) > 1:
            ready.sort(key=route.key)
            if route.explore and self.rng.random() < self.latency.explore_ratio:
                ready.insert(0, ready.pop(self.rng.randrange(1, len(ready))))
        if route.reserved and len(ready) > 1:
            ready.sort(key=lambda state: state.dedicated is None or state.dedicated.owner(path) is None)
        if cooling:
            cooling.sort(key=_cooling_until)
            ready += cooling
        return Decision(ready, rule, excluded, opened, reopens_in_s)

    def _reprice(self, route: ModelRoute, now: float) -> None:
        route.priced_at = now
        if self._price_of is None or "lowest_cost" not in route.strategies:
            return
        for state in route.states:
            price = self._price_of(route.name, state.info.region)
            state.price_key = price if price is not None else 0


def _cooling_until(state: DeploymentState) -> float:
    return state.cooling_until

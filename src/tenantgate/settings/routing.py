"""How requests are routed: strategies, breaker, retries, latency averaging, residency rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tenantgate.settings._section import _Section

StrategyName = Literal["priority", "weighted", "least_latency", "lowest_cost", "least_busy"]


class BreakerSettings(_Section):
    """The circuit breaker kept per deployment from live traffic (docs/routing.md)."""

    enabled: bool = Field(True, description="Skip deployments whose recent attempts mostly failed.")
    window_s: float = Field(30.0, gt=0, description="Sliding window over which the failure ratio is taken.")
    min_requests: int = Field(
        10, ge=1, description="Attempts in the window before the breaker may open."
    )
    failure_ratio: float = Field(
        0.5, gt=0, le=1, description="Failed share of the window's attempts that opens the breaker."
    )
    cooldown_s: float = Field(
        10.0, gt=0, description="How long an open breaker skips the deployment before a half-open probe."
    )
    half_open_probes: int = Field(
        1, ge=1, description="Probe requests let through at once while half-open; one success closes it."
    )


class ProbeSettings(_Section):
    """Active health probes: a one-token request to every remote deployment, off the request path.

    They find a deployment that went down before a caller's request does, and bring one back
    without spending a caller's request on it (docs/routing.md, "Active probes").
    """

    enabled: bool = Field(False, description="Probe every remote deployment on a schedule.")
    interval_s: float = Field(30.0, gt=0, description="Seconds between two probes of one deployment.")
    timeout_s: float = Field(10.0, gt=0, description="How long a probe may take before it counts as failed.")
    unhealthy_after: int = Field(
        2, ge=1, description="Consecutive failed probes that open a closed breaker."
    )
    healthy_after: int = Field(
        2, ge=1, description="Consecutive successful probes that close an open or half-open breaker."
    )


class RetrySettings(_Section):
    """How one request retries and fails over, and the budget that bounds retries overall."""

    attempts_max: int = Field(
        3, ge=1, le=20, description="Upstream attempts per request, all deployments and fallbacks together."
    )
    same_deployment_retries: int = Field(
        0, ge=0, le=5,
        description="Retries of a deployment once every other candidate was tried (0: failover only).",
    )
    backoff_base_ms: int = Field(
        100, ge=0, description="First retry's backoff before jitter; doubles each retry."
    )
    backoff_max_ms: int = Field(2_000, ge=0, description="Largest backoff before jitter.")
    retry_after_max_s: float = Field(
        5.0, ge=0,
        description=(
            "Longest upstream Retry-After the gateway waits out before retrying the same deployment; "
            "a longer one ends the request with the upstream's 429 and its hint."
        ),
    )
    rate_limit_cooldown_s: float = Field(
        1.0, ge=0,
        description="How long a 429 without Retry-After moves its deployment to the back of the order.",
    )
    rate_limit_cooldown_max_s: float = Field(
        60.0, ge=0,
        description="Longest an upstream's Retry-After keeps its deployment at the back of the order.",
    )
    budget_ratio: float = Field(
        0.2, ge=0, description="Retries earned per request (per model): 0.2 is one retry per five requests."
    )
    budget_burst: float = Field(10.0, ge=0, description="Most retries the budget can save up (per model).")
    budget_refill_per_s: float = Field(
        1.0, ge=0, description="Retries the budget earns per second regardless of traffic (per model)."
    )


class LatencySettings(_Section):
    """The time-to-first-token average that ``least_latency`` routes on."""

    ewma_alpha: float = Field(
        0.3, gt=0, le=1, description="Weight of each new time-to-first-token sample in the moving average."
    )
    tie_ms: float = Field(
        20.0, ge=0, description="Averages both under this many milliseconds count as equally fast."
    )
    tie_ratio: float = Field(
        0.2, ge=0, description="Averages within this ratio of each other (one band) count as equally fast."
    )
    explore_ratio: float = Field(
        0.05, ge=0, le=1,
        description="Share of least_latency decisions sent to a random deployment (to notice recoveries).",
    )


class ResidencyRule(_Section):
    """Where a compartment's requests may be served, and whether they may change model."""

    compartment: str = Field(
        description="Compartment path (`Finance:EU` or `Finance/EU`); the rule covers its descendants too."
    )
    residency: list[str] = Field(
        default_factory=list,
        description="Residency tags a deployment must carry one of (e.g. eu); empty: no constraint.",
    )
    allow_model_fallback: bool = Field(
        True, description="Whether requests may fall back to another model (models[].routing.fallbacks)."
    )


class RoutingSettings(_Section):
    """Deployment health, retries and residency rules shared by every model (docs/routing.md)."""

    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    probes: ProbeSettings = Field(default_factory=ProbeSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    latency: LatencySettings = Field(default_factory=LatencySettings)
    compartments: list[ResidencyRule] = Field(
        default_factory=list,
        description="Residency rules by compartment path; the nearest rule above a compartment applies.",
    )

"""Retry rules as values: the per-request policy, jittered backoff and the per-model retry budget.

The budget is a token bucket: every request earns ``ratio`` retries, time earns
``refill_per_s``, and the bucket holds at most ``burst``. Every attempt after a request's
first spends one token, so when a model's deployments all fail, retries stay a bounded
share of traffic instead of multiplying it (Finagle's and Envoy's retry budgets).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tenantgate.settings import ModelRoutingSettings, RetrySettings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one request of one model retries (``routing.retry`` with the model's overrides)."""

    attempts_max: int = 3
    same_deployment_retries: int = 0
    backoff_base_s: float = 0.1
    backoff_max_s: float = 2.0
    retry_after_max_s: float = 5.0
    rate_limit_cooldown_s: float = 1.0
    rate_limit_cooldown_max_s: float = 60.0

    @classmethod
    def from_settings(cls, retry: RetrySettings, model: ModelRoutingSettings) -> RetryPolicy:
        return cls(
            attempts_max=model.attempts_max or retry.attempts_max,
            same_deployment_retries=(retry.same_deployment_retries if model.same_deployment_retries is None
                                     else model.same_deployment_retries),
            backoff_base_s=retry.backoff_base_ms / 1000, backoff_max_s=retry.backoff_max_ms / 1000,
            retry_after_max_s=retry.retry_after_max_s, rate_limit_cooldown_s=retry.rate_limit_cooldown_s,
            rate_limit_cooldown_max_s=retry.rate_limit_cooldown_max_s,
        )


def backoff_s(retry_round: int, policy: RetryPolicy, rng: random.Random) -> float:
    """The wait before retry round ``retry_round`` (1-based): exponential, "equal jitter".

    Half the exponential step is always waited and the other half is random, so retries of
    many requests spread out without any of them retrying at once.
    """
    step = min(policy.backoff_max_s, policy.backoff_base_s * 2.0 ** (retry_round - 1))
    return step / 2 + rng.random() * step / 2


class RetryBudget:
    """A token bucket of retries shared by all requests of one model (pure: ``now`` is passed in)."""

    __slots__ = ("_burst", "_ratio", "_refill_per_s", "_tokens", "_updated_at")

    def __init__(self, *, ratio: float, burst: float, refill_per_s: float, now: float) -> None:
        self._ratio = ratio
        self._burst = burst
        self._refill_per_s = refill_per_s
        self._tokens = burst
        self._updated_at = now

    @classmethod
    def from_settings(cls, retry: RetrySettings, now: float) -> RetryBudget:
        return cls(ratio=retry.budget_ratio, burst=retry.budget_burst,
                   refill_per_s=retry.budget_refill_per_s, now=now)

    @property
    def tokens(self) -> float:
        """Retries available now (as of the last deposit or withdrawal)."""
        return self._tokens

    def deposit(self, now: float) -> None:
        """A request started: it earns its share of retries."""
        self._refill(now)
        self._tokens = min(self._burst, self._tokens + self._ratio)

    def withdraw(self, now: float) -> bool:
        """Spend one retry; False (nothing spent) when the budget is empty."""
        self._refill(now)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated_at
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._refill_per_s)
            self._updated_at = now

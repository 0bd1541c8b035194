"""The rate limiter the pipeline calls: which limits apply, charge them, refuse or admit.

Admission happens after authorization and before any credit hold, so a refused call holds
no credits and never reaches an upstream. An admitted call's :class:`Admission` is ended
exactly once, however the call ends (answer, error, client gone): its concurrency slots are
released and its tokens/min charge is corrected from the estimate to the usage.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tenantgate.errors import RateLimited, RateLimiterUnavailable
from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.principal import Principal
from tenantgate.providers.base import Usage
from tenantgate.ratelimit.estimate import token_estimate
from tenantgate.ratelimit.headers import Headers, format_duration, rate_limit_headers
from tenantgate.ratelimit.rules import Limit, LimitKind, applicable_limits, facts_of
from tenantgate.ratelimit.store import Correction, LimitStore, LocalStore, StoreUnavailable, Verdict
from tenantgate.settings import RateLimitSettings

logger = logging.getLogger("tenantgate.ratelimit")
_WARN_EVERY_S = 10.0
_MEMO_MAX = 50_000
_PER_MINUTE = {LimitKind.REQUESTS: "requests per minute", LimitKind.TOKENS: "tokens per minute",
               LimitKind.CONCURRENT: "concurrent requests"}


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the rules make of one (key, user, compartment, model): worked out once, then reused."""

    limits: tuple[Limit, ...]
    token_counters: tuple[str, ...]
    slot_counters: tuple[str, ...]


def _plan(limits: list[Limit]) -> _Plan:
    return _Plan(tuple(limits),
                 tuple(limit.counter for limit in limits if limit.kind is LimitKind.TOKENS),
                 tuple(limit.counter for limit in limits if limit.kind is LimitKind.CONCURRENT))


_NO_PLAN = _Plan((), (), ())


class Admission:
    """One call's charge: the headers to send, the refusal if any, and :meth:`end`."""

    __slots__ = ("_estimate", "_id", "_plan", "_store", "headers", "refusal")

    def __init__(
        self, store: LimitStore | None, admission_id: str, plan: _Plan, estimate: int,
        headers: Headers, refusal: RateLimited | None = None,
    ) -> None:
        self._store = store
        self._id = admission_id
        self._plan = plan
        self._estimate = estimate
        self.headers = headers
        self.refusal = refusal

    def raise_if_refused(self) -> None:
        if self.refusal is not None:
            raise self.refusal

    def end(self, usage: Usage | None) -> None:
        """Release slots and correct tokens, once; a call without usage (it failed) used no tokens."""
        store, self._store = self._store, None
        if store is None:
            return
        plan = self._plan
        if plan.token_counters or plan.slot_counters:
            actual = usage.total_tokens if usage is not None else 0
            corrections = [Correction(counter, self._estimate, actual) for counter in plan.token_counters]
            store.finish(self._id, corrections, plan.slot_counters)


NOT_LIMITED = Admission(None, "", _NO_PLAN, 0, [])
"""What a call that no rule applies to gets: no headers, nothing to end."""


class RateLimiter:
    """Applies ``rate_limits.rules`` through one store (in-process or Redis)."""

    def __init__(
        self, settings: RateLimitSettings, store: LimitStore, *, output_caps: Mapping[str, int | None],
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._rules = tuple(settings.rules)
        self.store = store
        self._admit_now = store.admit_now if isinstance(store, LocalStore) else None
        self._memo: dict[tuple[str | None, str | None, CompartmentRecord | None, str], _Plan] = {}
        self._caps = output_caps
        self._clock_s = clock_s
        self._replica = os.urandom(6).hex()
        self._ids = itertools.count()
        self.refused = 0
        """Calls refused with 429 by this process (total)."""
        self.store_errors = 0
        """Store calls that failed (total), whatever ``on_store_error`` did about them."""
        self._warned_at = -math.inf

    async def start(self) -> None:
        await self.store.start()

    async def aclose(self) -> None:
        await self.store.aclose()

    async def admit(
        self, principal: Principal, compartment: CompartmentRecord | None, *, model: str,
        operation: str, body: dict[str, Any], upstream_models: Sequence[str],
    ) -> Admission:
        """Charge the call against every limit that applies; a refusal is returned, not raised."""
        plan = self._plan_for(principal, compartment, model)
        limits = plan.limits
        if not limits:
            return NOT_LIMITED
        estimate = 0
        if plan.token_counters:
            estimate = token_estimate(operation, body, upstream_models, cap=self._caps.get(model),
                                      default=self._settings.default_max_output_tokens)
        costs = [estimate if limit.kind is LimitKind.TOKENS else 1 for limit in limits]
        admission_id = self._replica + str(next(self._ids))
        try:
            if self._admit_now is not None:  # in-process: no coroutine, nothing to wait for
                verdict = self._admit_now(admission_id, limits, costs)
            else:
                verdict = await self.store.admit(admission_id, limits, costs)
        except StoreUnavailable as exc:
            self.store_failed("admit", exc)
            if self._settings.on_store_error == "closed":
                raise RateLimiterUnavailable(retry_after_s=1) from None
            return NOT_LIMITED
        headers = rate_limit_headers(limits, verdict.remaining, verdict.reset_ms)
        if verdict.admitted:
            return Admission(self.store, admission_id, plan, estimate, headers)
        self.refused += 1
        headers.append((b"retry-after-ms", str(verdict.retry_after_ms).encode()))
        refusal = RateLimited(_refusal_message(limits, costs, verdict),
                              retry_after_s=verdict.retry_after_ms / 1000)
        return Admission(None, admission_id, plan, estimate, headers, refusal)

    def _plan_for(self, principal: Principal, compartment: CompartmentRecord | None, model: str) -> _Plan:
        """The rules' verdict for this key, user, compartment and model, remembered (rules are fixed)."""
        facts = facts_of(principal, compartment, model)
        memo_key = (facts.key_id, facts.user_id, compartment, model)
        plan = self._memo.get(memo_key)
        if plan is None:
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            plan = self._memo[memo_key] = _plan(applicable_limits(self._rules, facts))
        return plan

    def store_failed(self, operation: str, error: BaseException) -> None:
        """Count a store failure; log it at most every few seconds (Redis down fails every call)."""
        self.store_errors += 1
        now = self._clock_s()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            logger.warning(
                "rate-limit store unavailable",
                extra={"operation": operation, "error": str(error), "failures_total": self.store_errors,
                       "on_store_error": self._settings.on_store_error},
            )


def _refusal_message(limits: Sequence[Limit], costs: Sequence[int], verdict: Verdict) -> str:
    """OpenAI's wording: which limit, its ceiling, what is used, what was asked, when to retry."""
    for limit, cost, left in zip(limits, costs, verdict.remaining, strict=True):
        if left < cost:
            _kind, scope, subject, model = limit.counter.split("|", 3)
            where = f"{scope} {subject}" + (f" on model {model}" if model else "")
            wait = format_duration(verdict.retry_after_ms)
            if cost > limit.limit:
                return (f"Request too large for {where} on {_PER_MINUTE[limit.kind]}: limit "
                        f"{limit.limit}, requested {cost}. Lower max_tokens or the prompt.")
            return (f"Rate limit reached for {where} on {_PER_MINUTE[limit.kind]}: limit {limit.limit}, "
                    f"used {limit.limit - left}, requested {cost}. Please try again in {wait}.")
    return RateLimited.default_message

"""Rate limits: requests/min, tokens/min and concurrent requests per key, user, compartment, model.

``rules.py`` decides which limits apply to a call (pure), ``window.py`` is the arithmetic (a
sliding-window log, pure), ``store.py`` keeps counters in-process and ``redis_store.py`` in
Redis for exact limits across replicas; ``limiter.py`` is what the pipeline calls, and
``headers.py`` renders OpenAI's ``x-ratelimit-*`` headers. See docs/rate-limits.md.
"""

from __future__ import annotations

import time

from tenantgate.ratelimit.limiter import NOT_LIMITED, Admission, RateLimiter
from tenantgate.ratelimit.rules import Limit, LimitKind
from tenantgate.ratelimit.store import LimitStore, LocalStore, StoreUnavailable, Verdict
from tenantgate.settings import RateLimitSettings

__all__ = [
    "NOT_LIMITED",
    "Admission",
    "Limit",
    "LimitKind",
    "LimitStore",
    "LocalStore",
    "RateLimiter",
    "StoreUnavailable",
    "Verdict",
    "build_rate_limiter",
]


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def build_rate_limiter(settings: RateLimitSettings, output_caps: dict[str, int | None]) -> RateLimiter | None:
    """The limiter for these settings, with a Redis store when ``redis_url`` is set; None without rules."""
    if not settings.rules:
        return None
    slot_max_ms = settings.concurrency_slot_max_s * 1000
    if settings.redis_url is None:
        return RateLimiter(settings, LocalStore(clock_ms=_monotonic_ms, slot_max_ms=slot_max_ms),
                           output_caps=output_caps)
    from tenantgate.ratelimit.redis_store import RedisStore

    limiter: RateLimiter | None = None

    def failed(operation: str, error: BaseException) -> None:
        if limiter is not None:
            limiter.store_failed(operation, error)

    store = RedisStore(settings.redis_url, prefix=settings.redis_key_prefix,
                       timeout_ms=settings.redis_timeout_ms, lease_ms=settings.concurrency_lease_s * 1000,
                       slot_max_ms=slot_max_ms, clock_ms=_monotonic_ms, on_error=failed)
    limiter = RateLimiter(settings, store, output_caps=output_caps)
    return limiter

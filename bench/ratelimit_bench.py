"""Microseconds per rate-limit admission (admit + end), in-process and against a local Redis.

Run: ``.venv/bin/python bench/ratelimit_bench.py [redis://127.0.0.1:6379/0]``. Each call is
charged against three limits of one key (requests/min, tokens/min, concurrent requests),
with limits high enough that every call is admitted, then ended (slot released, tokens
corrected). Prints the best of several batches (the machine is shared): the in-process cost
per call, the token estimate alone, and for Redis the latency of one admission round trip (sequential)
and the cost per call with 32 calls in flight. Keys are written under a throwaway prefix
and removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import redis

from tenantgate.iam.principal import Principal
from tenantgate.providers.base import Usage
from tenantgate.ratelimit import build_rate_limiter
from tenantgate.ratelimit.estimate import token_estimate
from tenantgate.ratelimit.limiter import RateLimiter
from tenantgate.settings import RateLimitRule, RateLimitSettings

KEY = Principal(id="u1", type="user", key_id="k1", governed=True)
BODY = {"model": "m", "messages": [{"role": "user", "content": "Summarise the quarterly report " * 20}],
        "max_tokens": 256}
USAGE = Usage(prompt_tokens=120, completion_tokens=80)
RULES = [RateLimitRule(scope="key", requests_per_minute=10**9, tokens_per_minute=10**12,
                       concurrent_requests=10**6)]


async def _one(limiter: RateLimiter) -> None:
    admission = await limiter.admit(KEY, None, model="m", operation="chat", body=BODY,
                                    upstream_models=["gpt-4o-mini"])
    admission.end(USAGE)


async def _batches(limiter: RateLimiter, calls: int, batches: int, in_flight: int) -> float:
    """µs per call of the least disturbed of ``batches`` runs, ``in_flight`` calls at a time."""
    results = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(calls // in_flight):
            if in_flight == 1:
                await _one(limiter)
            else:
                await asyncio.gather(*(_one(limiter) for _ in range(in_flight)))
        await limiter.store.flush()
        results.append((time.perf_counter() - started) / calls * 1e6)
    return min(results)


def _estimate_us(calls: int = 20_000) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        token_estimate("chat", BODY, ["gpt-4o-mini"], cap=None, default=4096)
    return (time.perf_counter() - started) / calls * 1e6


async def main(redis_url: str) -> None:
    local = build_rate_limiter(RateLimitSettings(rules=RULES), {})
    assert local is not None
    await _batches(local, 2_000, 1, 1)  # warm up
    print(f"in-process admit+end, 3 limits:      {await _batches(local, 5_000, 15, 1):7.2f} µs/call")
    print(f"  of which the token estimate:       {_estimate_us():7.2f} µs/call")
    rpm_only = [RateLimitRule(scope="key", requests_per_minute=10**9)]
    no_tokens = build_rate_limiter(RateLimitSettings(rules=rpm_only), {})
    assert no_tokens is not None
    print(f"in-process admit+end, 1 limit (rpm): {await _batches(no_tokens, 5_000, 15, 1):7.2f} µs/call")
    prefix = f"tgbench:{os.urandom(4).hex()}:"
    try:
        for label, rules in (("3 limits", RULES), ("1 limit", rpm_only)):
            settings = RateLimitSettings(rules=rules, redis_url=redis_url, redis_key_prefix=prefix)
            await _redis_run(label, settings)
    finally:
        with redis.Redis.from_url(redis_url) as client:
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)


async def _redis_run(label: str, settings: RateLimitSettings) -> None:
    remote = build_rate_limiter(settings, {})
    assert remote is not None
    await remote.start()
    try:
        await _batches(remote, 500, 1, 1)
        print(f"Redis admit+end, {label}, sequential:   {await _batches(remote, 2_000, 5, 1):7.1f} µs/call")
        print(f"Redis admit+end, {label}, 32 in flight: {await _batches(remote, 6_400, 5, 32):7.1f} µs/call")
    finally:
        await remote.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0"))

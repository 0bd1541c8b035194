"""Helpers of the store suite: a real Redis at 127.0.0.1:6379 under a unique prefix per test."""

from __future__ import annotations

import os
import time

import redis

from tenantgate.ratelimit import LocalStore
from tenantgate.ratelimit.redis_store import RedisStore

REDIS_URL = "redis://127.0.0.1:6379/0"


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def unique_prefix() -> str:
    return f"tgtest:{os.urandom(6).hex()}:"


def remove_keys(prefix: str) -> None:
    """Delete everything a test wrote under its prefix."""
    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)


def key_count(prefix: str) -> int:
    with redis.Redis.from_url(REDIS_URL) as client:
        return len(list(client.scan_iter(match=prefix + "*", count=1000)))


def redis_store(prefix: str, *, url: str = REDIS_URL, window_ms: int = 60_000, lease_ms: int = 30_000,
                slot_max_ms: int = 1_800_000, errors: list[str] | None = None) -> RedisStore:
    seen = errors if errors is not None else []
    return RedisStore(url, prefix=prefix, timeout_ms=500, lease_ms=lease_ms, slot_max_ms=slot_max_ms,
                      clock_ms=monotonic_ms, window_ms=window_ms,
                      on_error=lambda operation, exc: seen.append(f"{operation}: {exc}"))


def local_store(*, window_ms: int = 60_000, slot_max_ms: int = 1_800_000) -> LocalStore:
    return LocalStore(clock_ms=monotonic_ms, slot_max_ms=slot_max_ms, window_ms=window_ms)

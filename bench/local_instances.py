"""The gain from serving a local chat model with several instances (``local.instances``).

Two gateways in turn, unpinned so each instance can have a core: one with one instance, one
with ``instances`` of them. Both answer the same ``concurrency`` simultaneous streamed
completions (temperature 0, a seed, so every request processes its whole prompt and
generates exactly ``max_tokens``); the figure is generated tokens per second of wall time
across all of them, and the gain is the ratio of the two.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local_bench import PROMPT, gateway_generation
from tenantgate.testing.gateway_process import run_gateway

MAX_TOKENS = 48


def _aggregate_tps(base_url: str, pid: int, concurrency: int) -> float:
    gateway_generation(base_url, PROMPT, 4, pid)  # loads the first instance
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        runs = list(pool.map(lambda _i: gateway_generation(base_url, PROMPT, MAX_TOKENS, pid),
                             range(concurrency)))
    elapsed = time.perf_counter() - started
    return sum(run.completion_tokens for run in runs) / elapsed


@contextlib.contextmanager
def _every_core() -> Iterator[None]:
    """Let children use every core: the benchmark pins itself to the load core, and a gateway
    started from it would inherit that single core, leaving a second instance nowhere to run."""
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def run_instances(*, instances: int = 2, concurrency: int = 2) -> dict[str, Any]:
    """Aggregate tokens/s with 1 and with ``instances`` instances, and their ratio."""
    figures: dict[int, float] = {}
    for count in (1, instances):
        config = {"local": {"instances": count, "load": "startup"},
                  "logging": {"access_log": False}}
        with _every_core(), run_gateway(config) as gateway:
            figures[count] = _aggregate_tps(gateway.base_url, gateway.process.pid, concurrency)
    return {"instances": instances, "concurrency": concurrency, "max_tokens": MAX_TOKENS,
            "tokens_per_s": {str(k): round(v, 1) for k, v in figures.items()},
            "gain": round(figures[instances] / figures[1], 2) if figures[1] else 0.0}

"""Drive HTTP load at one URL with wrk, or with the Python fallback in its own process.

Every run is bounded: wrk by ``-d`` (and a subprocess timeout on top), the fallback by its
duration and a request cap. The load generator is pinned to ``cpu`` with taskset, so it never
competes with the gateway's core.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import stack

BENCH_DIR = Path(__file__).resolve().parent
WRK_INSTALL = "apt-get install -y wrk"
REQUEST_TIMEOUT_S = 5
DEFAULT_BEARER = stack.UPSTREAM_KEY
"""What every request carries as its bearer token unless a run names another: the fake
upstream's key (the gateway's shipped defaults ask for none)."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one load run measured; latencies are microseconds, as wrk reports them."""

    tool: str
    connections: int
    requests: int
    duration_us: int
    errors_connect: int
    errors_read: int
    errors_write: int
    errors_status: int
    errors_timeout: int
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float

    @property
    def requests_per_s(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def errors(self) -> int:
        """Socket errors plus non-2xx/3xx answers."""
        return (self.errors_connect + self.errors_read + self.errors_write
                + self.errors_status + self.errors_timeout)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "requests_per_s": round(self.requests_per_s, 1), "errors": self.errors}


def have_wrk() -> bool:
    """True when the wrk binary is on PATH."""
    return shutil.which("wrk") is not None


def drive(url: str, body_path: Path, *, connections: int, duration_s: float, cpu: int,
          use_wrk: bool, bearer: str = DEFAULT_BEARER) -> LoadResult:
    """POST ``body_path`` to ``url`` from ``connections`` keep-alive connections for a while."""
    if use_wrk:
        return _drive_wrk(url, body_path, connections, duration_s, cpu, bearer)
    return _drive_python(url, body_path, connections, duration_s, cpu, bearer)


def _drive_wrk(url: str, body_path: Path, connections: int, duration_s: float, cpu: int,
               bearer: str) -> LoadResult:
    seconds = max(1, round(duration_s))
    command = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
               "--timeout", f"{REQUEST_TIMEOUT_S}s", "-s", str(BENCH_DIR / "post.lua"), url]
    env = {**os.environ, "BODY_FILE": str(body_path), "BEARER": bearer}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 30,
                          check=False)
    return _parse("wrk", connections, done)


def _drive_python(url: str, body_path: Path, connections: int, duration_s: float, cpu: int,
                  bearer: str) -> LoadResult:
    command = ["taskset", "-c", str(cpu), sys.executable, str(BENCH_DIR / "pyload.py"), url,
               "--body", str(body_path), "--connections", str(connections),
               "--duration-s", str(duration_s), "--timeout-s", str(REQUEST_TIMEOUT_S),
               "--bearer", bearer]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 30, check=False)
    return _parse("python", connections, done)


def _parse(tool: str, connections: int, done: subprocess.CompletedProcess[str]) -> LoadResult:
    lines = [line for line in done.stdout.splitlines() if line.startswith("JSON ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{tool} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(lines[-1][5:])
    return LoadResult(tool=tool, connections=connections, **figures)

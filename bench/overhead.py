"""Gateway overhead: the fake upstream called directly vs through the gateway, in one run.

Two phases, each for a non-streaming and a streaming request (bench/payloads.py):

* latency: few connections (default 1), so the added latency is the gateway's own work and
  its extra loopback hop, not queueing behind other requests;
* saturation: many connections (default 32), so the gateway's core is busy all the time and
  requests/s through it is its maximum on one core.

Direct and gateway runs use the same body, connections and duration, back to back
(direct first, then gateway) with a short unmeasured warm-up before each. The gateway's CPU
time per request comes from /proc over its whole process tree (granian's server, its worker,
their threads), divided by the requests the run served; each core's busy share is recorded,
so a reader can see whether the gateway's core (0) was the bottleneck. Rows name the
gateway's configuration (``profile``: the shipped defaults, or the governed one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cpu_time
import load

PATH = "/chat/completions"


@dataclass(frozen=True, slots=True)
class Placement:
    """Which cores the processes use: the gateway alone on one, load and fake on the other."""

    gateway_cpu: int
    load_cpu: int


@dataclass(frozen=True, slots=True)
class Measured:
    """One load run and the CPU spent meanwhile."""

    result: load.LoadResult
    gateway_cpu_s: float
    fake_cpu_s: float
    core_busy: list[float]

    def as_dict(self) -> dict[str, Any]:
        served = max(self.result.requests, 1)
        return {**self.result.as_dict(),
                "gateway_cpu_ms_per_request": round(self.gateway_cpu_s * 1000 / served, 4),
                "fake_cpu_ms_per_request": round(self.fake_cpu_s * 1000 / served, 4),
                "core_busy": [round(share, 3) for share in self.core_busy]}


def measure(url: str, body: Path, *, connections: int, duration_s: float, warmup_s: float,
            placement: Placement, use_wrk: bool, gateway_pid: int, fake_pid: int,
            bearer: str = load.DEFAULT_BEARER) -> Measured:
    """Warm up, then one bounded load run with CPU readings of both servers around it."""
    if warmup_s > 0:
        load.drive(url, body, connections=connections, duration_s=warmup_s,
                   cpu=placement.load_cpu, use_wrk=use_wrk, bearer=bearer)
    gateway0, fake0 = cpu_time.tree_cpu_s(gateway_pid), cpu_time.tree_cpu_s(fake_pid)
    cores0 = cpu_time.core_times()
    result = load.drive(url, body, connections=connections, duration_s=duration_s,
                        cpu=placement.load_cpu, use_wrk=use_wrk, bearer=bearer)
    cores1 = cpu_time.core_times()
    gateway1, fake1 = cpu_time.tree_cpu_s(gateway_pid), cpu_time.tree_cpu_s(fake_pid)
    return Measured(result, gateway1 - gateway0, fake1 - fake0,
                    cpu_time.core_utilisation(cores0, cores1))


def compare(direct: Measured, via: Measured) -> dict[str, Any]:
    """The figures the table prints: rps ratio, added latency, the gateway's CPU per request."""
    d, g = direct.result, via.result
    return {
        "rps_ratio": round(g.requests_per_s / d.requests_per_s, 3) if d.requests_per_s else 0.0,
        "added_p50_ms": round((g.p50_us - d.p50_us) / 1000, 3),
        "added_p90_ms": round((g.p90_us - d.p90_us) / 1000, 3),
        "added_p99_ms": round((g.p99_us - d.p99_us) / 1000, 3),
        "gateway_cpu_ms_per_request": via.as_dict()["gateway_cpu_ms_per_request"],
        "errors": d.errors + g.errors,
    }


def run_overhead(*, direct_url: str, gateway_url: str, bodies: dict[str, Path],
                 phases: dict[str, int], duration_s: float, warmup_s: float,
                 placement: Placement, use_wrk: bool, gateway_pid: int,
                 fake_pid: int, profile: str = "shipped",
                 gateway_bearer: str = load.DEFAULT_BEARER) -> list[dict[str, Any]]:
    """Every (phase, body) pair: direct then gateway. Returns one row per pair.

    ``profile`` names the gateway's configuration in the rows; ``gateway_bearer`` is the
    token its requests carry (the direct ones carry the fake's own key).
    """
    rows: list[dict[str, Any]] = []
    for phase, connections in phases.items():
        for kind, body in bodies.items():
            runs = {}
            for side, base, bearer in (("direct", direct_url, load.DEFAULT_BEARER),
                                       ("gateway", gateway_url, gateway_bearer)):
                runs[side] = measure(base + PATH, body, connections=connections,
                                     duration_s=duration_s, warmup_s=warmup_s,
                                     placement=placement, use_wrk=use_wrk,
                                     gateway_pid=gateway_pid, fake_pid=fake_pid, bearer=bearer)
            rows.append({"profile": profile, "phase": phase, "kind": kind, "connections": connections,
                         "direct": runs["direct"].as_dict(), "gateway": runs["gateway"].as_dict(),
                         **compare(runs["direct"], runs["gateway"])})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table: one line per side, then the comparison line of each pair."""
    head = (f"{'profile':<8} {'phase':<10} {'request':<7} {'conns':>5} {'side':<8} {'rps':>8} {'p50 ms':>8} "
            f"{'p90 ms':>8} {'p99 ms':>8} {'gw CPU ms/req':>13} {'core0/core1 busy':>16}")
    lines = [head, "-" * len(head)]
    for row in rows:
        for side in ("direct", "gateway"):
            figures = row[side]
            cpu = f"{figures['gateway_cpu_ms_per_request']:.3f}" if side == "gateway" else "-"
            busy = "/".join(f"{share:.0%}" for share in figures["core_busy"][:2])
            lines.append(
                f"{row['profile']:<8} {row['phase']:<10} {row['kind']:<7} "
                f"{row['connections']:>5} {side:<8} "
                f"{figures['requests_per_s']:>8.0f} {figures['p50_us'] / 1000:>8.2f} "
                f"{figures['p90_us'] / 1000:>8.2f} {figures['p99_us'] / 1000:>8.2f} {cpu:>13} "
                f"{busy:>16}")
        lines.append(
            f"{'':<8} {'':<10} {'':<7} {'':>5} {'=> ratio':<8} {row['rps_ratio']:>8.2f} "
            f"{row['added_p50_ms']:>+8.2f} {row['added_p90_ms']:>+8.2f} "
            f"{row['added_p99_ms']:>+8.2f}   (gateway rps / direct rps; added ms)"
            + (f"  ERRORS: {row['errors']}" if row["errors"] else ""))
    return "\n".join(lines)

"""`make bench`: Tenantgate's overhead over a fake upstream, and its local models' throughput.

What runs where (2 cores; the gateway must own a core for "CPU per request" and "max rps on
one core" to mean anything):

* core 0: the gateway (``tenantgate serve``, production defaults: JSON access log on, auth
  as shipped, local models lazily loaded, ``local.threads`` = 1) and, for the local
  benchmark, the directly driven engines (one after the other, never concurrently);
* core 1: the load generator (wrk, or bench/pyload.py) and the fake upstream.

The fake upstream shares core 1 with the load generator, chosen by measurement
(``--placement-probe`` repeats it): on core 0 it competes with the gateway and the figures
measure both servers at once; unpinned, the scheduler moves it onto the gateway's core
whenever core 1 is busy, which makes the gateway's CPU per request and its latency noisy.
On core 1 the direct run is "load + fake" on one core and the gateway run adds a core that
runs only the gateway; the saturation phase records each core's busy share, and core 1
below 100% while core 0 is at ~100% shows the gateway, not the fake, was the bottleneck.

The plain-request phases then run again on a governed gateway (bench/governed.py: API key,
group policy, rate limit, credits held and settled, usage records), with their own fake and
direct runs, so the targets are checked with every hot-path step on as well as on the
shipped defaults.

Every figure is a ratio within one run (the machine is shared and absolute numbers drift):
gateway rps / direct rps, added latency (gateway minus direct percentiles), the gateway's
CPU time per request, and tokens/s through the gateway / tokens/s of the engine itself.
Each load run is bounded in time (and the fallback also in requests); only 127.0.0.1 is
used; every child process is stopped in a ``finally``, on Ctrl-C and SIGTERM too. Results
go to bench/results/ as JSON (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import governed  # noqa: E402  (bench/ is a folder of scripts, not a package)
import load  # noqa: E402
import overhead  # noqa: E402
import payloads  # noqa: E402
import stack  # noqa: E402
from tenantgate.testing.gateway_process import run_gateway  # noqa: E402

RESULTS_DIR = BENCH_DIR / "results"
PORTKEY_RPS = 940.0
GOAL_RPS = 2 * PORTKEY_RPS
GOAL_CPU_MS = 0.5
GOAL_ADDED_P50_MS = 0.5
GOAL_ADDED_P99_MS = 2.0
GOAL_LOCAL_RATIO = 0.95


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measured load run")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    parser.add_argument("--latency-connections", type=int, default=1)
    parser.add_argument("--saturation-connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating local-model rounds")
    parser.add_argument("--python-load", action="store_true", help="use pyload.py even if wrk exists")
    parser.add_argument("--no-local", action="store_true", help="skip the local-model benchmark")
    parser.add_argument("--no-embeddings", action="store_true", help="skip embeddings/s")
    parser.add_argument("--no-governed", action="store_true",
                        help="skip the governed profile (API key, policy, rate limit, credits)")
    parser.add_argument("--governed-database", default=None, metavar="URL",
                        help="an empty database for the governed profile, e.g. "
                        "postgresql+asyncpg://postgres@127.0.0.1:5432/tg_bench (default: a new SQLite file)")
    parser.add_argument("--fake-cpus", default=None,
                        help="taskset cores for the fake upstream (default: the load core)")
    parser.add_argument("--placement-probe", action="store_true",
                        help="only compare fake-upstream placements (core 1, unpinned, core 0)")
    return parser.parse_args(argv)


def _terminate_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops its child processes."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _placement() -> overhead.Placement:
    """Gateway on core 0, load (and this process) on core 1; one core: everything on 0."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        print("WARNING: one core only; gateway and load share it, CPU figures still hold")
        return overhead.Placement(cores[0], cores[0])
    placement = overhead.Placement(cores[0], cores[1])
    os.sched_setaffinity(0, {placement.load_cpu})
    return placement


def _overhead(args: argparse.Namespace, workdir: Path, placement: overhead.Placement,
              use_wrk: bool, fake_cpus: str | None, phases: dict[str, int],
              local: bool) -> dict[str, Any]:
    """Start fake + gateway, run the overhead phases (and the local benchmark on the same
    gateway), always stopping both."""
    bodies = {"plain": payloads.write_body(workdir, stack.REMOTE_MODEL, stream=False),
              "stream": payloads.write_body(workdir, stack.REMOTE_MODEL, stream=True)}
    with stack.fake_upstream(fake_cpus) as fake, run_gateway(
        stack.gateway_config(fake), env=stack.gateway_env(), cpu=placement.gateway_cpu,
        workdir=workdir,
    ) as gateway:
        started = time.perf_counter()
        rows = overhead.run_overhead(
            direct_url=fake.openai_base_url, gateway_url=gateway.openai_base_url, bodies=bodies,
            phases=phases, duration_s=args.duration, warmup_s=args.warmup, placement=placement,
            use_wrk=use_wrk, gateway_pid=gateway.process.pid, fake_pid=fake.process.pid)
        result: dict[str, Any] = {"rows": rows, "seconds": round(time.perf_counter() - started, 1)}
        if local:
            import local_bench

            started = time.perf_counter()
            result["local"] = local_bench.run_local(
                gateway.base_url, pid=gateway.process.pid, cpus=str(placement.gateway_cpu),
                rounds=args.rounds,
                embeddings=not args.no_embeddings)
            result["local"]["seconds"] = round(time.perf_counter() - started, 1)
    if local:
        import local_instances

        result["local"]["instances"] = local_instances.run_instances()
    return result


def _governed(args: argparse.Namespace, workdir: Path, placement: overhead.Placement,
              use_wrk: bool, fake_cpus: str | None, phases: dict[str, int]) -> list[dict[str, Any]]:
    """The plain-request phases again on a gateway with every hot-path step on (governed.py):
    its own fake and database, its direct runs measured beside it."""
    body = {"plain": payloads.write_body(workdir, stack.REMOTE_MODEL, stream=False)}
    database_url = args.governed_database or governed.sqlite_url(workdir)
    token = governed.seed(database_url)
    with stack.fake_upstream(fake_cpus) as fake, run_gateway(
        governed.config(fake, database_url), env=stack.gateway_env(), cpu=placement.gateway_cpu,
        workdir=workdir,
    ) as gateway:
        return overhead.run_overhead(
            direct_url=fake.openai_base_url, gateway_url=gateway.openai_base_url, bodies=body,
            phases=phases, duration_s=args.duration, warmup_s=args.warmup, placement=placement,
            use_wrk=use_wrk, gateway_pid=gateway.process.pid, fake_pid=fake.process.pid,
            profile="governed", gateway_bearer=token)


def _row(rows: list[dict[str, Any]], phase: str, kind: str, profile: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["phase"] == phase and r["kind"] == kind
                 and r["profile"] == profile), None)


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def goals(rows: list[dict[str, Any]], profile: str = "shipped") -> dict[str, Any]:
    """The gateway's figures against Portkey's and against the goal (non-streaming requests)."""
    latency = _row(rows, "latency", "plain", profile)
    saturated = _row(rows, "saturation", "plain", profile)
    if latency is None or saturated is None:
        return {}
    cpu_ms = saturated["gateway_cpu_ms_per_request"]
    return {
        "profile": profile,
        "max_rps_one_core": saturated["gateway"]["requests_per_s"],
        "rps_per_core_from_cpu": round(1000 / cpu_ms, 0) if cpu_ms else 0.0,
        "cpu_ms_per_request": cpu_ms,
        "added_p50_ms": latency["added_p50_ms"],
        "added_p99_ms": latency["added_p99_ms"],
        "core0_busy_saturated": saturated["gateway"]["core_busy"][0],
    }


def goals_line(figures: dict[str, Any]) -> str:
    """One line: measured vs Portkey (~940 rps, 1.1 ms CPU, +2.2 ms p50) and vs the goal."""
    if not figures:
        return ""
    rps, cpu = figures["max_rps_one_core"], figures["cpu_ms_per_request"]
    p50, p99 = figures["added_p50_ms"], figures["added_p99_ms"]
    return (
        f"vs targets ({figures['profile']}): max {rps:.0f} rps on one core = "
        f"{rps / PORTKEY_RPS:.2f}x Portkey's ~940 "
        f"(goal >= 2x: {_mark(rps >= GOAL_RPS)}; core 0 busy {figures['core0_busy_saturated']:.0%}, "
        f"1/CPU = {figures['rps_per_core_from_cpu']:.0f} rps) | CPU {cpu:.3f} ms/request "
        f"(Portkey ~1.1, goal <= {GOAL_CPU_MS}: {_mark(cpu <= GOAL_CPU_MS)}) | added p50 "
        f"{p50:+.2f} ms (Portkey +2.2, goal <= +{GOAL_ADDED_P50_MS}: {_mark(p50 <= GOAL_ADDED_P50_MS)})"
        f" | added p99 {p99:+.2f} ms (goal <= +{GOAL_ADDED_P99_MS}: "
        f"{_mark(p99 <= GOAL_ADDED_P99_MS)})"
    )


def local_summary(local: dict[str, Any]) -> str:
    """The local benchmark's medians and ratios, a few lines."""
    prompt_tokens = local["prompt_tokens"]["gateway"][0]
    lines = [f"local SmolLM2-135M (threads={local['threads']}, {prompt_tokens} prompt tokens, "
             f"{local['max_tokens']} generated, median of {local['rounds']} alternating rounds"
             + ("" if local["same_tokens"] else "; WARNING: token counts differ") + "):"]
    for key, label in (("generation_tps", "generation tokens/s"), ("prompt_tps", "prompt tokens/s"),
                       ("tokens_per_cpu_s", "tokens per CPU-second"),
                       ("embeddings_per_s", "embeddings/s (MiniLM)")):
        if key in local:
            figure = local[key]
            lines.append(f"  {label:<22} gateway {figure['gateway']:>8.1f}  direct "
                         f"{figure['direct']:>8.1f}  ratio {figure['ratio']:.3f} "
                         f"(goal >= {GOAL_LOCAL_RATIO}: {_mark(figure['ratio'] >= GOAL_LOCAL_RATIO)})")
    if "instances" in local:
        figure = local["instances"]
        tps = figure["tokens_per_s"]
        lines.append(f"  {figure['concurrency']} concurrent streams, unpinned: 1 instance "
                     f"{tps['1']:.1f} tokens/s, {figure['instances']} instances "
                     f"{tps[str(figure['instances'])]:.1f} tokens/s: {figure['gain']:.2f}x "
                     "(local.instances)")
    return "\n".join(lines)


def placement_probe(args: argparse.Namespace, placement: overhead.Placement, use_wrk: bool) -> None:
    """Plain requests, both phases, with the fake upstream on each candidate placement."""
    phases = {"latency": args.latency_connections, "saturation": args.saturation_connections}
    for label, cpus in ((f"core {placement.load_cpu} (with the load)", str(placement.load_cpu)),
                        ("unpinned", None),
                        (f"core {placement.gateway_cpu} (with the gateway)",
                         str(placement.gateway_cpu))):
        with tempfile.TemporaryDirectory(prefix="tenantgate-bench-") as workdir:
            result = _overhead(args, Path(workdir), placement, use_wrk, cpus, phases, local=False)
        rows = [r for r in result["rows"] if r["kind"] == "plain"]
        print(f"\nfake upstream on {label}:\n{overhead.table(rows)}")


def main(argv: list[str] | None = None) -> int:
    """Run everything, print the summary, write the JSON."""
    args = _parse(argv)
    _terminate_on_sigterm()
    placement = _placement()
    use_wrk = load.have_wrk() and not args.python_load
    tool = ("wrk" if use_wrk else
            "Python fallback bench/pyload.py ("
            + ("--python-load; wrk" if load.have_wrk() else f"wrk not found; `{load.WRK_INSTALL}`")
            + " gives better numbers: the fallback costs more CPU per request, so absolute rps "
            "are lower)")
    print(f"load generator: {tool}; gateway on core {placement.gateway_cpu}, load on core "
          f"{placement.load_cpu}", flush=True)
    if args.placement_probe:
        placement_probe(args, placement, use_wrk)
        return 0
    fake_cpus = args.fake_cpus or str(placement.load_cpu)
    phases = {"latency": args.latency_connections, "saturation": args.saturation_connections}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tenantgate-bench-") as workdir:
        result = _overhead(args, Path(workdir), placement, use_wrk, fake_cpus, phases,
                           local=not args.no_local)
        if not args.no_governed:
            result["rows"] += _governed(args, Path(workdir), placement, use_wrk, fake_cpus, phases)
    figures = {profile: found for profile in ("shipped", "governed")
               if (found := goals(result["rows"], profile))}
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_generator": "wrk" if use_wrk else "python",
        "placement": {"gateway_cpu": placement.gateway_cpu, "load_cpu": placement.load_cpu,
                      "fake_cpus": fake_cpus},
        "duration_s": args.duration, "warmup_s": args.warmup, "phases": phases,
        "load_avg_at_end": os.getloadavg(), **result, "goals": figures,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    print()
    print(f"gateway overhead ({'wrk' if use_wrk else 'PYTHON FALLBACK load generator'}, "
          f"{args.duration:g} s per run, /v1/chat/completions, ~1.1 KB body):")
    print(overhead.table(result["rows"]))
    for profile_figures in figures.values():
        print(goals_line(profile_figures))
    if "local" in result:
        print()
        print(local_summary(result["local"]))
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nload average at end {report['load_avg_at_end'][0]:.2f} (other work on this machine "
          f"adds noise; compare ratios); {report['total_seconds']:.0f} s; results: "
          f"{path.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        raise SystemExit(130) from None

"""Throughput with universal credits on vs off: one run, same fake upstream, same load.

Run: ``.venv/bin/python bench/metering_bench.py [--duration 4] [--rounds 2]``. The gateway
(pinned to core 0, production defaults) serves one model from the fake upstream; the load
(wrk, else the Python fallback) runs 32 connections of non-streaming chat from core 1. Each
round measures the gateway with ``credits.enabled: false`` and then with it on (a rate card,
one commitment seeded in the gateway's database, every request held and settled through
group-committed ledger batches), alternating so drift hits both alike. The figure that
matters is the ratio of requests/s metered / unmetered (the credits issue asks for >= 0.75).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import governed  # noqa: E402
import load  # noqa: E402
import overhead  # noqa: E402
import payloads  # noqa: E402
import stack  # noqa: E402
from run import _placement  # noqa: E402
from tenantgate.credits.store import CreditStore  # noqa: E402
from tenantgate.storage import Database, upgrade_to_head  # noqa: E402
from tenantgate.testing.gateway_process import run_gateway  # noqa: E402


async def seed_commitment(url: str) -> None:
    """Migrate the bench database and give it a commitment no run can exhaust."""
    await upgrade_to_head(url)
    db = Database.open(url, pool_size=1)
    try:
        await governed.fund(CreditStore(db, clock=lambda: datetime.now(UTC)))
    finally:
        await db.dispose()


def config(fake: stack.FakeProcess, workdir: Path, metered: bool) -> dict[str, Any]:
    settings = stack.gateway_config(fake)
    settings["storage"] = {"url": f"sqlite+aiosqlite:///{workdir / 'tenantgate.db'}"}
    if metered:
        settings["credits"] = governed.CREDITS_ON
    return settings


def measure(fake: stack.FakeProcess, workdir: Path, body: Path, metered: bool, args: argparse.Namespace,
            placement: overhead.Placement, use_wrk: bool) -> tuple[float, float]:
    with run_gateway(config(fake, workdir, metered), env=stack.gateway_env(), cpu=placement.gateway_cpu,
                     workdir=workdir) as gateway:
        measured = overhead.measure(
            gateway.openai_base_url + overhead.PATH, body, connections=args.connections,
            duration_s=args.duration, warmup_s=args.warmup, placement=placement, use_wrk=use_wrk,
            gateway_pid=gateway.process.pid, fake_pid=fake.process.pid)
    if measured.result.errors:
        raise RuntimeError(f"{measured.result.errors} errors with metering {'on' if metered else 'off'}")
    cpu_us = measured.gateway_cpu_s * 1e6 / max(measured.result.requests, 1)
    return measured.result.requests_per_s, cpu_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    placement = _placement()
    use_wrk = load.have_wrk()
    rps: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="tenantgate-metering-") as tmp, \
            stack.fake_upstream(str(placement.load_cpu)) as fake:
        workdir = Path(tmp)
        asyncio.run(seed_commitment(f"sqlite+aiosqlite:///{workdir / 'tenantgate.db'}"))
        body = payloads.write_body(workdir, stack.REMOTE_MODEL, stream=False)
        for _ in range(args.rounds):
            for metered in (False, True):
                served, cpu_us = measure(fake, workdir, body, metered, args, placement, use_wrk)
                rps[metered].append(served)
                cpu[metered].append(cpu_us)
    off, on = statistics.median(rps[False]), statistics.median(rps[True])
    print(f"load: {'wrk' if use_wrk else 'Python fallback'}, {args.connections} connections, "
          f"{args.duration:g} s x {args.rounds} rounds")
    print(f"metering off: {off:.0f} rps  (runs: {', '.join(f'{v:.0f}' for v in rps[False])})")
    print(f"metering on:  {on:.0f} rps  (runs: {', '.join(f'{v:.0f}' for v in rps[True])})")
    print(f"ratio on/off: {on / off:.2f}  (goal >= 0.75)")
    cpu_off, cpu_on = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(f"gateway CPU per request: off {cpu_off:.0f} us, on {cpu_on:.0f} us "
          f"(metering adds {cpu_on - cpu_off:.0f} us; CPU ratio off/on {cpu_off / cpu_on:.2f})")


if __name__ == "__main__":
    main()

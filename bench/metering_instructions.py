"""Instructions per request with credits off vs on, counted by callgrind: a figure noise cannot move.

Run: ``.venv/bin/python bench/metering_instructions.py [--requests 2000]`` (valgrind must be on
the PATH; each mode takes about a minute). The gateway runs under ``valgrind --tool=callgrind``
with counting off; after a warm-up, counting is switched on for exactly ``--requests`` chat
requests (32 in flight, from a Python client on the other core) and off again, so start-up
and shutdown are not counted. Every thread of the gateway's worker counts: the event loop,
the HTTP server's and the SQLite driver's.

Under callgrind the gateway runs ~20x slower, so work done per unit of time (credit-lease
rolls every 0.25 s) would be charged to far fewer requests than at full speed; ``--roll-s``
(default 5 s) stretches the roll interval by that factor to keep rolls per request as they
are. ``bench/metering_bench.py`` measures requests/s; on a shared machine its ratio moves by
±0.1 from run to run, while these counts repeat within 1 %.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import metering_bench  # noqa: E402
import overhead  # noqa: E402
import payloads  # noqa: E402
import stack  # noqa: E402
from run import _placement  # noqa: E402
from tenantgate.testing.gateway_process import free_port  # noqa: E402

IN_FLIGHT = 32


async def drive(url: str, body: bytes, requests: int, *, distinct: bool = False) -> int:
    """Send ``requests`` chat requests, ``IN_FLIGHT`` at a time; return how many failed.

    ``distinct`` makes every message of every request a text the gateway has not seen (a
    number in front), so no prompt count can be remembered.
    """
    gate = asyncio.Semaphore(IN_FLIGHT)
    failed = 0
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        async def one(index: int) -> None:
            nonlocal failed
            content = body.replace(b'"content":"', b'"content":"%d ' % index) if distinct else body
            async with gate:
                answer = await client.post(url, content=content, headers={"content-type": "application/json"})
                failed += answer.status_code != 200

        await asyncio.gather(*(one(index) for index in range(requests)))
    return failed


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 900
    while True:
        try:
            if httpx.get(base_url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start under callgrind:\n" + log.read_text()[-3000:])
        time.sleep(1)


def _instructions(out_files: list[Path]) -> int:
    """The summed event totals of callgrind's output files (one per thread)."""
    total = 0
    for path in out_files:  # a dump's header may say "summary: 0"; its "totals:" line has the count
        counts = [int(line.split()[1]) for line in path.read_text().splitlines()
                  if line.startswith(("summary:", "totals:"))]
        total += max(counts, default=0)
    return total


def count(
    fake: stack.FakeProcess, workdir: Path, body: bytes, metered: bool, args: argparse.Namespace,
    placement: overhead.Placement,
) -> float:
    """Instructions per request of the gateway with credits ``metered``."""
    settings: dict[str, Any] = metering_bench.config(fake, workdir, metered)
    if metered:
        settings["credits"].update({"lease_roll_interval_s": args.roll_s, "lease_idle_s": args.roll_s * 8})
    config = workdir / f"callgrind-{metered}.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    port = free_port()
    out_dir = workdir / f"callgrind-{metered}"
    out_dir.mkdir()
    log = workdir / f"callgrind-{metered}.log"
    command = ["taskset", "-c", str(placement.gateway_cpu), "valgrind", "--tool=callgrind",
               "--instr-atstart=no", "--trace-children=yes", "--separate-threads=yes",
               f"--callgrind-out-file={out_dir}/cg.%p", sys.executable, "-m", "tenantgate", "serve",
               "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env={**os.environ, **stack.gateway_env()}, cwd=workdir)
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url, process, log)
        url = base_url + "/v1" + overhead.PATH
        if asyncio.run(drive(url, body, 300)):
            raise RuntimeError("warm-up requests failed")
        pids = subprocess.run(["pgrep", "-f", str(config)], capture_output=True, text=True).stdout.split()
        for pid in pids:
            subprocess.run(["callgrind_control", "-i", "on", pid], capture_output=True, check=False)
        failed = asyncio.run(drive(url, body, args.requests, distinct=args.distinct_prompts))
        for pid in pids:  # stop counting, then write the counts out (the exit dump then adds nothing)
            subprocess.run(["callgrind_control", "-i", "off", pid], capture_output=True, check=False)
            subprocess.run(["callgrind_control", "-d", pid], capture_output=True, check=False)
        if failed:
            raise RuntimeError(f"{failed} measured requests failed")
    finally:
        process.terminate()
        process.wait(300)
    return _instructions(sorted(out_dir.glob("cg.*"))) / args.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--roll-s", type=float, default=5.0)
    parser.add_argument("--distinct-prompts", action="store_true",
                        help="a prompt never seen before on every request (no remembered counts)")
    args = parser.parse_args()
    placement = _placement()  # once: it pins this process to the load core
    with tempfile.TemporaryDirectory(prefix="tenantgate-callgrind-") as tmp, \
            stack.fake_upstream(str(placement.load_cpu)) as fake:
        workdir = Path(tmp)
        asyncio.run(metering_bench.seed_commitment(f"sqlite+aiosqlite:///{workdir / 'tenantgate.db'}"))
        body = payloads.write_body(workdir, stack.REMOTE_MODEL, stream=False).read_bytes()
        off = count(fake, workdir, body, False, args, placement)
        on = count(fake, workdir, body, True, args, placement)
    print(f"instructions per request: credits off {off / 1e3:.0f} k, on {on / 1e3:.0f} k "
          f"(metering adds {(on - off) / 1e3:.0f} k); ratio off/on {off / on:.3f} "
          "(the throughput goal: >= 0.75)")


if __name__ == "__main__":
    main()

"""CPU per request of the metering path alone, in-process: price, hold, settle, usage record, rolls.

Run: ``.venv/bin/python bench/metering_path.py [--requests 20000]``. One SQLite database with a
commitment, 32 requests in flight at a time, each held and settled through ``Metering`` as the
gateway does, then everything booked (``Metering.flush``). Prints CPU time (all threads, the
SQLite driver's included) and wall time per request. No HTTP, no upstream: what
``bench/metering_bench.py`` measures end to end minus everything else a request costs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import payloads
from tenantgate.credits.commitments import CommitmentKind
from tenantgate.credits.metering import Candidate, Metering, Payer
from tenantgate.credits.store import CreditStore
from tenantgate.settings import CreditsSettings
from tenantgate.storage import Database, upgrade_to_head

MODEL = "gpt-4o-mini"
IN_FLIGHT = 32


def _now() -> datetime:
    return datetime.now(UTC)


async def run(requests: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tenantgate-metering-path-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'tenantgate.db'}"
        await upgrade_to_head(url)
        db = Database.open(url, pool_size=1)
        store = CreditStore(db, clock=_now)
        await store.ensure_system_accounts()
        await store.add_commitment(name="bench", kind=CommitmentKind.ANNUAL, amount=10**15,
                                   starts_at=_now() - timedelta(days=1), ends_at=_now() + timedelta(days=30))
        settings = CreditsSettings(enabled=True, rate_card=[
            {"model": MODEL, "input_per_1m": "0.15", "output_per_1m": "0.60"}])
        metering = Metering(settings, store, output_caps={MODEL: None}, clock=_now)
        await metering.start()
        body = payloads.chat_request(MODEL, stream=False)
        payer = Payer(None, None, ())
        candidates = [Candidate(MODEL, None, "on_demand")]

        async def one(i: int) -> None:
            hold = await metering.hold(model=MODEL, operation="chat", body=body, request_id=f"req_{i}",
                                       candidates=candidates, payer=payer)
            await asyncio.sleep(0)
            metering.settle(hold, prompt_tokens=150, completion_tokens=40, cached_tokens=0, region=None,
                            estimated=False, deployment="bench")

        for i in range(IN_FLIGHT * 8):  # warm up: tokenizer, leases, statement caches
            await one(i)
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in range(requests // IN_FLIGHT):
            await asyncio.gather(*(one(batch * IN_FLIGHT + j) for j in range(IN_FLIGHT)))
        await metering.flush()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        done = requests // IN_FLIGHT * IN_FLIGHT
        print(f"metering path: {cpu / done * 1e6:.1f} us CPU, {wall / done * 1e6:.1f} us wall per request "
              f"({done} requests, {IN_FLIGHT} in flight)")
        await metering.aclose()
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    asyncio.run(run(parser.parse_args().requests))


if __name__ == "__main__":
    main()

"""A small HTTP/1.1 load generator, the fallback when wrk is not installed.

Run as its own process (bench/load.py pins it to a core): N keep-alive connections each POST
the same body in a closed loop until the duration or the request cap is reached, then print
one ``JSON {...}`` line with the same fields as bench/post.lua. It reads Content-Length and
chunked bodies (SSE streams). It is several times more expensive per request than wrk, so
absolute requests/s are lower; the benchmark labels runs made with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_REQUESTS = 2_000_000


@dataclass(slots=True)
class Tally:
    """Counters shared by all connections of one run."""

    deadline: float
    max_requests: int
    latencies_us: list[int] = field(default_factory=list)
    errors: dict[str, int] = field(
        default_factory=lambda: {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    )

    def more(self) -> bool:
        return time.perf_counter() < self.deadline and len(self.latencies_us) < self.max_requests


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";", 1)[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return
    await reader.readexactly(int(headers.get("content-length", "0")))


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    await _read_body(reader, headers)
    return int(status_line.split()[1])


async def _connection(host: str, port: int, request: bytes, tally: Tally, timeout_s: float) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        tally.errors["connect"] += 1
        return
    try:
        while tally.more():
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout_s):
                    status = await _one(reader, writer, request)
            except TimeoutError:
                tally.errors["timeout"] += 1
                return
            except (OSError, asyncio.IncompleteReadError, ValueError):
                tally.errors["read"] += 1
                return
            tally.latencies_us.append(int((time.perf_counter() - started) * 1e6))
            if status >= 400:
                tally.errors["status"] += 1
    finally:
        writer.close()


def _percentile(ordered: list[int], share: float) -> int:
    if not ordered:
        return 0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _run(args: argparse.Namespace) -> dict[str, float]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    with open(args.body, "rb") as file:
        body = file.read()
    request = (
        f"POST {url.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {args.bearer}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1") + body
    started = time.perf_counter()
    tally = Tally(deadline=started + args.duration_s, max_requests=args.max_requests)
    await asyncio.gather(*(
        _connection(host, port, request, tally, args.timeout_s) for _ in range(args.connections)
    ))
    duration_us = int((time.perf_counter() - started) * 1e6)
    ordered = sorted(tally.latencies_us)
    mean = sum(ordered) / len(ordered) if ordered else 0.0
    return {"requests": len(ordered), "duration_us": duration_us,
            **{f"errors_{name}": count for name, count in tally.errors.items()},
            "p50_us": _percentile(ordered, 0.50), "p90_us": _percentile(ordered, 0.90),
            "p99_us": _percentile(ordered, 0.99), "mean_us": round(mean, 1)}


def main() -> None:
    """Parse arguments, run the load, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--body", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration-s", type=float, default=5.0)
    parser.add_argument("--timeout-s", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=MAX_REQUESTS)
    parser.add_argument("--bearer", default="sk-test")
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    print("JSON " + json.dumps(runner(_run(args))), flush=True)


if __name__ == "__main__":
    main()

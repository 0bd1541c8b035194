"""Putting an outcome on the wire, bent by a fault: resets, stalls, cuts and broken chunks.

This is why the fake uses aiohttp.web rather than an ASGI server: a connection reset needs
the raw transport.  A reset sets ``SO_LINGER`` to zero before aborting, so the client sees a
TCP RST ("connection reset by peer") rather than a polite FIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from aiohttp import web

from tenantgate.testing._fake_faults import Fault
from tenantgate.testing._fake_outcome import (
    JSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    SSE_MALFORMED,
    JsonOutcome,
    Outcome,
    StreamOutcome,
)

_LINGER_ZERO = struct.pack("ii", 1, 0)


def abort_connection(request: web.BaseRequest) -> None:
    """Drop the client's TCP connection at once, with a reset rather than a clean close."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    transport.abort()


async def send_outcome(
    request: web.BaseRequest, outcome: Outcome, fault: Fault | None, token_delay_s: float = 0.0
) -> web.StreamResponse:
    """Write a JSON or SSE outcome, applying the fault's effect on the response bytes."""
    if isinstance(outcome, StreamOutcome):
        return await _send_stream(request, outcome, fault, token_delay_s)
    if fault is None or fault.kind not in ("slow_first_token", "cut_stream_after"):
        return web.Response(
            body=outcome.body,
            status=outcome.status,
            headers=outcome.headers,
            content_type=JSON_CONTENT_TYPE,
        )
    return await _send_json_slowly(request, outcome, fault)


async def _send_json_slowly(
    request: web.BaseRequest, outcome: JsonOutcome, fault: Fault
) -> web.StreamResponse:
    """Headers at once, then the body after ``seconds`` (or half the body, then a reset)."""
    response = web.StreamResponse(status=outcome.status, headers=outcome.headers)
    response.content_type = JSON_CONTENT_TYPE
    response.content_length = len(outcome.body)
    await response.prepare(request)
    if fault.kind == "cut_stream_after":
        await response.write(outcome.body[: len(outcome.body) // 2])
        abort_connection(request)
        return response
    await asyncio.sleep(fault.seconds)
    await response.write(outcome.body)
    await response.write_eof()
    return response


async def _send_stream(
    request: web.BaseRequest, outcome: StreamOutcome, fault: Fault | None, token_delay_s: float
) -> web.StreamResponse:
    kind = fault.kind if fault is not None else None
    events = outcome.without(usage=kind == "missing_usage", done=kind == "missing_done")
    response = web.StreamResponse(status=200, headers=outcome.headers)
    response.content_type = SSE_CONTENT_TYPE
    response.headers["Cache-Control"] = "no-cache"
    await response.prepare(request)
    if fault is not None and kind == "slow_first_token":
        await asyncio.sleep(fault.seconds)
    at = fault.after_chunks if fault is not None else -1
    for i, event in enumerate(events):
        if i == at and fault is not None:
            if kind == "cut_stream_after":
                abort_connection(request)
                return response
            if kind == "malformed_chunk":
                await response.write(SSE_MALFORMED)
            elif kind == "stall_after_chunks":
                await asyncio.sleep(fault.seconds)
        await response.write(event)
        if token_delay_s:
            await asyncio.sleep(token_delay_s)
    if kind == "cut_stream_after":
        abort_connection(request)
        return response
    await response.write_eof()
    return response

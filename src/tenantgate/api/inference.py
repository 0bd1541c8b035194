"""Shared flow of the inference endpoints: run the pipeline, shape a unary or streaming response."""

from __future__ import annotations

from tenantgate.api.http import ApiResponse, JsonResponse, StreamResponse
from tenantgate.credits.pricing import format_credits
from tenantgate.pipeline import InferenceCall, Outcome, Pipeline

COST_HEADER = b"x-tenantgate-cost"
"""What a non-streaming call was charged, in credits (``0.001250``), when credits are on."""
SSE_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def run_inference(pipeline: Pipeline, call: InferenceCall, outcome: Outcome) -> ApiResponse:
    """Answer ``call`` as JSON, or as an event stream when it asked for one."""
    if not call.stream:
        reply = await pipeline.complete(call, outcome)
        headers = [] if outcome.cost is None else [(COST_HEADER, format_credits(outcome.cost).encode())]
        return JsonResponse(200, reply.body, headers=headers)
    session = await pipeline.open_stream(call, outcome)
    return StreamResponse(frames=session.frames(), headers=list(SSE_HEADERS), on_close=session.end)

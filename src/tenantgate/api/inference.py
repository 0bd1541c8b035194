"""Shared flow of the inference endpoints: run the pipeline, shape a unary or streaming response."""

from __future__ import annotations

from tenantgate.api.http import ApiResponse, JsonResponse, StreamResponse
from tenantgate.pipeline import InferenceCall, Outcome, Pipeline

SSE_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def run_inference(pipeline: Pipeline, call: InferenceCall, outcome: Outcome) -> ApiResponse:
    """Answer ``call`` as JSON, or as an event stream when it asked for one."""
    if not call.stream:
        reply = await pipeline.complete(call, outcome)
        return JsonResponse(200, reply.body)
    session = await pipeline.open_stream(call, outcome)
    return StreamResponse(frames=session.frames(), headers=list(SSE_HEADERS))

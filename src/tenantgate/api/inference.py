"""Shared flow of the inference endpoints: run the pipeline, shape a unary or streaming response."""

from __future__ import annotations

from tenantgate.api.http import ApiResponse, JsonResponse, StreamResponse
from tenantgate.credits.pricing import format_credits
from tenantgate.pipeline import InferenceCall, Outcome, Pipeline

COST_HEADER = b"x-tenantgate-cost"
"""What a non-streaming call was charged, in credits (``0.001250``), when credits are on."""
BUDGET_HEADER = b"x-tenantgate-budget-remaining"
"""What the caller's own budgets (key, user) have left, in credits, as of the last check."""
SSE_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def run_inference(pipeline: Pipeline, call: InferenceCall, outcome: Outcome) -> ApiResponse:
    """Answer ``call`` as JSON, or as an event stream when it asked for one."""
    if not call.stream:
        reply = await pipeline.complete(call, outcome)
        headers = _budget(outcome)
        if outcome.cost is not None:
            headers.append((COST_HEADER, format_credits(outcome.cost).encode()))
        return JsonResponse(200, reply.body, headers=headers)
    session = await pipeline.open_stream(call, outcome)
    return StreamResponse(frames=session.frames(), headers=[*SSE_HEADERS, *_budget(outcome)],
                          on_close=session.end)


def _budget(outcome: Outcome) -> list[tuple[bytes, bytes]]:
    left = outcome.budget_left
    return [] if left is None else [(BUDGET_HEADER, format_credits(left).encode())]

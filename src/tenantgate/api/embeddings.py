"""`POST /v1/embeddings`."""

from __future__ import annotations

import msgspec

from tenantgate.api.http import ApiRequest, ApiResponse
from tenantgate.api.inference import run_inference
from tenantgate.api.request_validation import parse_json_object, validation_error
from tenantgate.api.schemas.embeddings import decode_embedding
from tenantgate.pipeline import InferenceCall, Outcome, Pipeline
from tenantgate.providers.base import Operation


async def embeddings(pipeline: Pipeline, request: ApiRequest, outcome: Outcome) -> ApiResponse:
    raw = parse_json_object(request.body)
    try:
        parsed = decode_embedding(raw)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    call = InferenceCall(Operation.EMBEDDING, parsed.model, raw, request.request_id, caller=request.caller)
    return await run_inference(pipeline, call, outcome)

"""`POST /v1/completions` (legacy text completions)."""

from __future__ import annotations

import msgspec

from tenantgate.api.http import ApiRequest, ApiResponse
from tenantgate.api.inference import run_inference
from tenantgate.api.request_validation import parse_json_object, validation_error
from tenantgate.api.schemas.completions import decode_completion
from tenantgate.errors import InvalidParameterValue
from tenantgate.pipeline import InferenceCall, Outcome, Pipeline
from tenantgate.providers.base import Operation


async def completions(pipeline: Pipeline, request: ApiRequest, outcome: Outcome) -> ApiResponse:
    raw = parse_json_object(request.body)
    try:
        parsed = decode_completion(raw)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    stream = bool(parsed.stream)
    if parsed.stream_options is not None and not stream:
        raise InvalidParameterValue(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    include_usage = bool(parsed.stream_options and parsed.stream_options.include_usage)
    call = InferenceCall(
        Operation.COMPLETION, parsed.model, raw, request.request_id, stream, include_usage,
        caller=request.caller,
    )
    return await run_inference(pipeline, call, outcome)

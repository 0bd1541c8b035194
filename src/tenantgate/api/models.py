"""`GET /v1/models` and `GET /v1/models/{model}`: what the caller may use."""

from __future__ import annotations

from urllib.parse import unquote

import msgspec

from tenantgate.api.http import ApiRequest, ApiResponse, JsonResponse
from tenantgate.errors import ModelNotFound
from tenantgate.pipeline import Pipeline

MODEL_PATH_PREFIX = "/v1/models/"


async def list_models(pipeline: Pipeline, request: ApiRequest) -> ApiResponse:
    caller = request.caller
    data = [entry.to_openai() for entry in pipeline.catalog.entries() if pipeline.may_use(caller, entry)]
    return JsonResponse(200, msgspec.json.encode({"object": "list", "data": data}))


async def get_model(pipeline: Pipeline, request: ApiRequest) -> ApiResponse:
    """A model the caller may not use is reported exactly like one that does not exist."""
    name = unquote(request.path[len(MODEL_PATH_PREFIX):])
    entry = pipeline.catalog.get(name)
    if entry is None or not pipeline.may_use(request.caller, entry):
        raise ModelNotFound(
            f"The model '{name}' does not exist or you do not have access to it.", param="model"
        )
    return JsonResponse(200, msgspec.json.encode(entry.to_openai()))

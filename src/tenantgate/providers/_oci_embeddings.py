"""OpenAI embedding requests as OCI ``embedText`` calls, and ``EmbedTextResult`` back.

Wire names follow the ``oci`` SDK models ``EmbedTextDetails`` (inputs, servingMode,
compartmentId, truncate, inputType, outputDimensions) and ``EmbedTextResult`` (embeddings,
modelId, usage).
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import msgspec

from tenantgate.errors import UnsupportedParameter, UpstreamBadResponse
from tenantgate.providers._oci_chat_reply import OciUsage, usage_of
from tenantgate.providers.base import Reply, Usage

_encode = msgspec.json.Encoder().encode
_CHARS_PER_TOKEN_ESTIMATE = 4


class _EmbedTextResult(msgspec.Struct, rename="camel"):
    embeddings: list[list[float]]
    model_id: str | None = None
    usage: OciUsage | None = None


_result_decoder = msgspec.json.Decoder(_EmbedTextResult)


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    """The texts to embed; OCI embeds text only, so token-id inputs are refused."""
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise UnsupportedParameter(
        "OCI Generative AI embeds text only; send input as a string or a list of strings.",
        param="input",
    )


def embed_text_details(
    body: dict[str, Any],
    *,
    compartment_id: str,
    serving_mode: dict[str, str],
    truncate: str,
    input_type: str,
) -> dict[str, Any]:
    """The ``EmbedTextDetails`` body for an OpenAI embeddings request."""
    details: dict[str, Any] = {
        "inputs": embedding_inputs(body),
        "servingMode": serving_mode,
        "compartmentId": compartment_id,
        "truncate": truncate,
        "inputType": input_type,
    }
    if body.get("dimensions") is not None:
        details["outputDimensions"] = body["dimensions"]
    return details


def _estimated_usage(inputs: list[str]) -> Usage:
    tokens = sum(math.ceil(len(text) / _CHARS_PER_TOKEN_ESTIMATE) for text in inputs)
    return Usage(prompt_tokens=tokens, completion_tokens=0, estimated=True)


def _base64_float32(vector: list[float]) -> str:
    # OpenAI's base64 encoding is little-endian float32, whatever the platform.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embedding_list(
    body: bytes, *, inputs: list[str], encoding_format: str | None, fallback_model: str
) -> Reply:
    """OpenAI's embedding ``list`` for an ``EmbedTextResult`` body."""
    try:
        result = _result_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise UpstreamBadResponse(f"OCI returned an unreadable embedText result: {exc}") from exc
    as_base64 = encoding_format == "base64"
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _base64_float32(vector) if as_base64 else vector,
        }
        for index, vector in enumerate(result.embeddings)
    ]
    usage = usage_of(result.usage) or _estimated_usage(inputs)
    reply = {
        "object": "list",
        "data": data,
        "model": result.model_id or fallback_model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens},
    }
    usage = Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=0, estimated=usage.estimated)
    return Reply(body=_encode(reply), usage=usage)

"""`POST /v1/embeddings` request fields checked by the gateway."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct


class EmbeddingRequest(Struct, kw_only=True):
    model: Annotated[str, Meta(min_length=1)]
    input: Any
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, Meta(ge=1)] | None = None
    user: str | None = None


def decode_embedding(raw: dict[str, Any]) -> EmbeddingRequest:
    """Validate a decoded body; raises msgspec.ValidationError with a JSON path.

    ``input`` is checked separately because msgspec unions allow one array type at a time.
    """
    request = msgspec.convert(raw, EmbeddingRequest)
    value = request.input
    if isinstance(value, list) and value and isinstance(value[0], str):
        msgspec.convert({"input": value}, _StrListCheck)
    elif isinstance(value, list) and value and isinstance(value[0], list):
        msgspec.convert({"input": value}, _TokenListsCheck)
    elif isinstance(value, list):
        msgspec.convert({"input": value}, _TokenCheck)
    else:
        msgspec.convert({"input": value}, _StrCheck)
    return request


class _StrCheck(Struct):
    input: Annotated[str, Meta(min_length=1)]


class _StrListCheck(Struct):
    input: Annotated[list[Annotated[str, Meta(min_length=1)]], Meta(min_length=1, max_length=2048)]


class _TokenCheck(Struct):
    input: Annotated[list[int], Meta(min_length=1)]


class _TokenListsCheck(Struct):
    input: Annotated[list[Annotated[list[int], Meta(min_length=1)]], Meta(min_length=1, max_length=2048)]

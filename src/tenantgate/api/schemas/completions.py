"""`POST /v1/completions` (legacy) request fields checked by the gateway."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from tenantgate.api.schemas.chat import (
    Penalty,
    PositiveInt,
    Probability,
    StreamOptions,
    Temperature,
)


class CompletionRequest(Struct, kw_only=True):
    model: Annotated[str, Meta(min_length=1)]
    # msgspec allows one array type per union: a list's items are checked for one kind below.
    prompt: str | list[str | int | list[int]]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: Annotated[int, Meta(ge=1, le=128)] | None = None
    max_tokens: Annotated[int, Meta(ge=0)] | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    seed: int | None = None
    stop: str | Annotated[list[str], Meta(max_length=4)] | None = None
    echo: bool | None = None
    logprobs: Annotated[int, Meta(ge=0, le=5)] | None = None
    best_of: PositiveInt | None = None
    suffix: str | None = None
    user: str | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, int] | None = None


def decode_completion(raw: dict[str, Any]) -> CompletionRequest:
    """Validate a decoded body; raises msgspec.ValidationError with a JSON path."""
    request = msgspec.convert(raw, CompletionRequest)
    if isinstance(request.prompt, list) and len({type(item) for item in request.prompt}) > 1:
        raise msgspec.ValidationError(
            "Expected a string, an array of strings, of token ids or of token-id arrays, "
            "not a mix - at `$.prompt`"
        )
    return request

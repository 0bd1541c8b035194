"""Deterministic embeddings: the same input always maps to the same unit vector.

OpenAI inputs may be a string, a list of strings, a list of token ids or a list of token-id
lists; the OpenAI body follows ``CreateEmbeddingResponse``.

A vector is derived from SHA-256 of the input (text, or comma-joined token ids), stretched to
the requested dimension, L2-normalised and rounded to float32, so the float list and the
base64 (little-endian float32) encodings carry exactly the same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from tenantgate.testing._fake_outcome import FakeRequestError, JsonOutcome, Outcome, encode_json

DEFAULT_DIMENSIONS = 8


def embedding_key(item: str | Sequence[int]) -> bytes:
    """The bytes an input is hashed from: UTF-8 text, or token ids joined by commas."""
    if isinstance(item, str):
        return item.encode()
    return ",".join(str(token) for token in item).encode()


def embedding_vector(
    item: str | Sequence[int], dimensions: int = DEFAULT_DIMENSIONS
) -> list[float]:
    """The unit vector for one input, with float32 precision."""
    key = embedding_key(item)
    raw = b""
    counter = 0
    while len(raw) < 4 * dimensions:
        raw += hashlib.sha256(key + counter.to_bytes(4, "little")).digest()
        counter += 1
    ints = struct.unpack(f"<{dimensions}I", raw[: 4 * dimensions])
    values = [value / 2**31 - 1.0 for value in ints]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(value / norm for value in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def encode_base64(vector: Sequence[float]) -> str:
    """OpenAI's ``encoding_format: base64``: little-endian float32 bytes, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def input_tokens(item: str | Sequence[int]) -> int:
    """Tokens an input costs: its words, or its number of token ids."""
    return len(item.split()) if isinstance(item, str) else len(item)


def embedding_inputs(raw: Any) -> list[str | Sequence[int]]:
    """Normalise an OpenAI embeddings ``input`` into a list of texts or token-id lists."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(item, int) for item in raw):
            return [raw]
        if all(isinstance(item, (str, list)) for item in raw):
            return list(raw)
    raise FakeRequestError("'input' must be a non-empty string or array", param="input")


def embeddings(body: Mapping[str, Any], *, model: str) -> Outcome:
    """The response to one embeddings request."""
    items = embedding_inputs(body.get("input"))
    dimensions = int(body.get("dimensions") or DEFAULT_DIMENSIONS)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for i, item in enumerate(items):
        vector = embedding_vector(item, dimensions)
        data.append(
            {
                "object": "embedding",
                "index": i,
                "embedding": encode_base64(vector) if as_base64 else vector,
            }
        )
    tokens = sum(input_tokens(item) for item in items)
    response = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return JsonOutcome(encode_json(response))

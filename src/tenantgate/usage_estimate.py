"""A conservative local estimate of token usage when an upstream does not report it.

Used only as a fallback (an upstream stream without its usage chunk); the result is flagged
``estimated`` wherever it is recorded. Four bytes of JSON per token over-counts prompts a
little, which is the safe side for metering.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tenantgate.providers.base import Usage

_BYTES_PER_TOKEN = 4


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """Tokens in the prompt part of an OpenAI request, estimated from its JSON size."""
    prompt = body.get("messages", body.get("prompt", body.get("input", "")))
    return max(1, len(msgspec.json.encode(prompt)) // _BYTES_PER_TOKEN)


def estimate_usage(body: dict[str, Any], content_chunks: int) -> Usage:
    """Usage of a streamed answer: each content chunk carries about one token."""
    return Usage(
        prompt_tokens=estimate_prompt_tokens(body),
        completion_tokens=content_chunks,
        estimated=True,
    )

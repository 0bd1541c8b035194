"""A call's tokens before it runs, for tokens/min: the same bound a credit hold uses. Pure.

The prompt is bounded by ``credits.prompt_tokens`` (a count where the tokenizer is known, a
byte bound otherwise; the largest over the deployments the call may reach) and the output
by ``max_completion_tokens``/``max_tokens``, else the model's cap, else a default, times
``n``. The charge is corrected to the real usage when the call ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tenantgate.credits.prompt_tokens import chat_prompt_tokens, text_prompt_tokens


def prompt_bound(operation: str, body: dict[str, Any], upstream_models: Sequence[str]) -> int:
    """The largest prompt the call can be for any of the upstream models it may be sent to."""
    models = upstream_models or [""]
    if operation == "chat":
        return max(chat_prompt_tokens(body, model) for model in models)
    prompt = body.get("prompt", body.get("input"))
    return max(text_prompt_tokens(prompt, model) for model in models)


def output_bound(operation: str, body: dict[str, Any], cap: int | None, default: int) -> int:
    """The most output tokens the answer may have (0 for embeddings)."""
    if operation == "embedding":
        return 0
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0:
        limit = min(asked, cap) if cap else asked
    else:
        limit = cap or default
    n = body.get("n")
    return limit * (n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1)


def token_estimate(
    operation: str, body: dict[str, Any], upstream_models: Sequence[str], *, cap: int | None, default: int
) -> int:
    """Prompt bound plus output bound: what tokens/min charges a call on admission."""
    return prompt_bound(operation, body, upstream_models) + output_bound(operation, body, cap, default)

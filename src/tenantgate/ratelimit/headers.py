"""OpenAI's rate-limit headers from a verdict: the most restrictive request and token limit. Pure.

``x-ratelimit-limit-requests`` / ``-remaining-`` / ``-reset-`` and the ``-tokens`` trio, with
OpenAI's duration format (``1s``, ``6m0s``, ``120ms``). Of several limits of one kind, the
one with the least remaining is reported (ties: the smaller limit), as that is the one a
client runs into first.
"""

from __future__ import annotations

from collections.abc import Sequence

from tenantgate.ratelimit.rules import Limit, LimitKind

Headers = list[tuple[bytes, bytes]]
_NAMES = {
    LimitKind.REQUESTS: (b"x-ratelimit-limit-requests", b"x-ratelimit-remaining-requests",
                         b"x-ratelimit-reset-requests"),
    LimitKind.TOKENS: (b"x-ratelimit-limit-tokens", b"x-ratelimit-remaining-tokens",
                       b"x-ratelimit-reset-tokens"),
}


def format_duration(ms: int) -> str:
    """Go's duration style, as OpenAI writes it: ``0s``, ``250ms``, ``1.5s``, ``1m0s``, ``6m30.25s``."""
    ms = max(0, ms)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    minutes, rest = divmod(ms, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def rate_limit_headers(
    limits: Sequence[Limit], remaining: Sequence[int], reset_ms: Sequence[int]
) -> Headers:
    """The two trios for the most restrictive request and token limits (none of a kind: omitted)."""
    best: dict[LimitKind, int] = {}
    for index, limit in enumerate(limits):
        if limit.kind is LimitKind.CONCURRENT:
            continue
        known = best.get(limit.kind)
        if known is None or (remaining[index], limit.limit) < (remaining[known], limits[known].limit):
            best[limit.kind] = index
    headers: Headers = []
    for kind, index in best.items():
        limit_name, remaining_name, reset_name = _NAMES[kind]
        headers += [(limit_name, str(limits[index].limit).encode()),
                    (remaining_name, str(max(0, remaining[index])).encode()),
                    (reset_name, format_duration(reset_ms[index]).encode())]
    return headers

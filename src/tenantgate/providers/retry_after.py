"""Reading an upstream's back-off hint (``retry-after-ms``, ``retry-after``) into seconds."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

RETRY_AFTER_MAX_S = 600.0


def parse_retry_after(headers: Mapping[str, str], *, now_epoch_s: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` (OpenAI, Azure) or ``retry-after`` (seconds or
    an HTTP date); None when absent or unreadable. Capped so a hostile value cannot park us."""
    lowered = {k.lower(): v for k, v in headers.items()} if not _is_lower(headers) else headers
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return _clamp(float(millis) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return _clamp(float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if now_epoch_s is None:
        import time

        now_epoch_s = time.time()
    return _clamp(when.timestamp() - now_epoch_s)


def _is_lower(headers: Mapping[str, str]) -> bool:
    return all(k == k.lower() for k in headers)


def _clamp(seconds: float) -> float | None:
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, RETRY_AFTER_MAX_S))

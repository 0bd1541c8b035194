"""A metered request's usage record as a value: who, what, how much, how it went. Pure.

Settlement fills one per request and hands it to the lease that charges it; ``usage_table``
stores it in the same transaction as that charge.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class UsageStatus(StrEnum):
    """How a metered request ended."""

    BILLED = "billed"
    """Answered; its cost is charged (``cost_micros`` may be 0 for a free model)."""
    RELEASED = "released"
    """Failed before any token reached the client; its hold was released, nothing is owed."""
    REFUSED = "refused"
    """Refused by a budget or for want of credits; never reached an upstream."""


class UsageRecord(NamedTuple):
    """One request's usage, as settlement books it; ``booked_at`` is the transaction's time.

    A tuple of plain values (``attempts`` a tuple too): a replica holds a roll interval's worth
    of them (thousands), and the garbage collector stops tracking such tuples, so they add
    nothing to its collections.
    """

    id: str
    request_id: str
    operation: str
    model: str
    principal_type: str
    principal_id: str
    status: str = UsageStatus.BILLED.value
    deployment: str | None = None
    region: str | None = None
    key_id: str | None = None
    user_id: str | None = None
    compartment_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False
    cost_micros: int = 0
    paid_by: str | None = None
    settlement_id: str | None = None
    latency_ms: int | None = None
    attempts: tuple[str, ...] | None = None
    booked_at: datetime | None = None

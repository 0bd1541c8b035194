"""Universal credits (the rate card, holds, leases) and Idempotency-Key handling."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from tenantgate.settings._section import _Section


class RateSettings(_Section):
    """One rate-card line: a model's prices per 1M tokens, in credits, from a date on."""

    model: str = Field(description="Public model name.")
    region: str | None = Field(None, description="Only for deployments in this region (default: any).")
    deployment_type: Literal["on_demand", "dedicated"] | None = Field(
        None, description="Only for deployments of this type (default: any)."
    )
    effective_from: datetime = Field(
        datetime(2000, 1, 1, tzinfo=UTC), description="When this price starts to apply (UTC)."
    )
    input_per_1m: Decimal = Field(description="Credits per 1M input (prompt) tokens.")
    cached_input_per_1m: Decimal | None = Field(None, description="Credits per 1M cached input tokens.")
    output_per_1m: Decimal = Field(Decimal(0), description="Credits per 1M output tokens.")
    embedding_per_1m: Decimal | None = Field(
        None, description="Credits per 1M embedding input tokens (default: the input price)."
    )


class CreditsSettings(_Section):
    """Universal credits: metering every request against commitments and budgets."""

    enabled: bool = Field(
        False, description="Hold the maximum cost before each request and settle the exact cost after."
    )
    rate_card: list[RateSettings] = Field(default_factory=list, description="Prices per model.")
    hold_timeout_s: int = Field(
        900, ge=1, le=86_400,
        description="A hold not settled by then (a crashed replica) expires and is released.",
    )
    default_max_output_tokens: int = Field(
        4096, ge=1, description="Output tokens a hold assumes without max_tokens or a model cap."
    )
    commit_linger_ms: float = Field(
        2.0, ge=0, le=100, description="Group commit: how long a ledger batch waits for more requests."
    )
    sweep_interval_s: float = Field(
        30.0, ge=1, description="How often expired holds and ended commitments are swept."
    )
    lease_roll_interval_s: float = Field(
        0.25, ge=0.01, le=60,
        description="How often each replica books settled requests (their usage records and ledger posts).",
    )
    lease_idle_s: float = Field(
        2.0, ge=0.05, le=3_600,
        description="A credit lease unused this long gives its free room back to the budgets and commitment.",
    )
    lease_max_requests: int = Field(
        256, ge=1, le=100_000,
        description="Most requests one credit lease reserves room for (1 = a ledger hold per request).",
    )
    rate_card_refresh_s: float = Field(
        5.0, ge=0.1, le=3_600,
        description="How often each replica checks for rate-card entries added or withdrawn (admin API).",
    )


class IdempotencySettings(_Section):
    """``Idempotency-Key`` on inference calls: a retry replays the first answer (docs/idempotency.md)."""

    enabled: bool = Field(
        True, description="Honour Idempotency-Key on /v1/chat/completions, /v1/completions, /v1/embeddings."
    )
    ttl_s: int = Field(
        86_400, ge=60, le=30 * 86_400,
        description="How long a key is remembered after its first request; then it is as if never used.",
    )
    lease_s: int = Field(
        60, ge=3, le=3_600,
        description=(
            "An in-flight claim's lease, renewed while its request runs; a crashed replica's claim "
            "blocks retries (409) at most this long, then a retry runs it again."
        ),
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=0,
        description=(
            "Largest answer (JSON body or whole stream transcript) kept for replay; a larger one is "
            "recorded as completed and its retries get 409 idempotency_replay_unavailable."
        ),
    )
    purge_interval_s: int = Field(
        300, ge=1, description="How often each replica deletes expired idempotency records."
    )

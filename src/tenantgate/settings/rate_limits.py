"""Rate limits: the rules and where their counters live."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tenantgate.settings._section import _Section


class RateLimitRule(_Section):
    """One rate limit: whose calls it counts (``scope`` + ``match``), on which models, how many.

    Every rule that applies to a call is checked and charged at once, all or nothing; rules
    counting the same thing share a counter (the smallest limit wins). Windows slide over 60 s.
    """

    scope: Literal["key", "user", "compartment", "model"] = Field(description=(
        "What is counted: an API key (static keys too), a user (all their keys), a compartment "
        "(the one a call acts in, sub-compartments included) or a public model (all callers)."))
    match: str = Field("*", description=(
        "`*`: each key / user / compartment / model separately. Else one key or user id, "
        "compartment id or path (`Finance:Risk`), or model name: that one only."))
    model: str | None = Field(None, description=(
        "Only calls to this public model (unset: any model, counted together; `*`: each model apart)."))
    requests_per_minute: int | None = Field(None, ge=1, description="Requests in any 60-second window.")
    tokens_per_minute: int | None = Field(None, ge=1, description=(
        "Tokens in any 60-second window: the call's estimate (prompt bound + max_tokens) on "
        "admission, corrected to its usage when it ends."))
    concurrent_requests: int | None = Field(None, ge=1, description="Calls in progress at once.")

    @model_validator(mode="after")
    def _some_limit(self) -> RateLimitRule:
        if (self.requests_per_minute, self.tokens_per_minute, self.concurrent_requests) == (None,) * 3:
            raise ValueError("a rate limit rule needs requests_per_minute, tokens_per_minute or "
                             "concurrent_requests")
        return self


class RateLimitSettings(_Section):
    """Rate limits on inference calls (docs/rate-limits.md): in-process, or exact across replicas."""

    rules: list[RateLimitRule] = Field(default_factory=list, description="The limits; none: unlimited.")
    redis_url: str | None = Field(None, description=(
        "Redis shared by every replica for exact limits (`redis://HOST:6379/0`). Unset: each "
        "process counts alone (N replicas admit up to N times a limit)."))
    redis_key_prefix: str = Field("tg:rl:", description="Prefix of every Redis key the limits use.")
    redis_timeout_ms: int = Field(250, ge=1, le=10_000, description="Deadline of one Redis round trip.")
    on_store_error: Literal["open", "closed"] = Field("open", description=(
        "Redis unreachable: `open` admits unlimited (warning log, metric "
        "`tenantgate_ratelimit_store_errors`); `closed` answers 503 rate_limiter_unavailable."))
    concurrency_lease_s: int = Field(30, ge=3, le=3_600, description=(
        "Lease of a Redis concurrency slot, renewed while its call runs (a crashed replica's "
        "slots come back after this)."))
    concurrency_slot_max_s: int = Field(1_800, ge=60, description=(
        "No concurrency slot outlives this, even for a call that was never ended."))
    default_max_output_tokens: int = Field(4096, ge=1, description=(
        "Output tokens a tokens/min estimate assumes without max_tokens or a model cap."))

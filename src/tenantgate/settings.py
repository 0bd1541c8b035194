"""The one settings tree: defaults, then a TOML/YAML file, then ``TENANTGATE_*`` environment variables.

This is the only module that reads the environment for configuration (12-factor). Nested
fields are set with ``__``: ``TENANTGATE_SERVER__PORT=9000``. Every field carries a
description and a unit in its name; ``docs/reference/settings.md`` lists them all and a test
keeps the two in step.
"""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tenantgate import _capacity_settings as _capacity

CONFIG_FILE_ENV = "TENANTGATE_CONFIG"


class SettingsError(ValueError):
    """The configuration file or environment is invalid; the message says where."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    """How the HTTP server listens and guards itself against abusive clients."""

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to bind (0 picks a free one).")
    workers: int = Field(1, ge=1, le=64, description="Server worker processes.")
    header_read_timeout_ms: int = Field(
        10_000, ge=100, description="Deadline to receive a request's headers (slowloris); else closed."
    )
    request_body_max_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest accepted request body; larger gets 413."
    )
    request_receive_timeout_ms: int = Field(
        30_000, ge=100, description="Absolute deadline to receive a whole request body (slowloris)."
    )
    keep_alive_timeout_s: int = Field(
        5, ge=1, description="Idle keep-alive connections are closed after this long."
    )


class LoggingSettings(_Section):
    """Log format and verbosity; secrets are redacted from every line whatever the level."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["json", "text"] = Field("json", description="JSON lines or human text.")
    access_log: bool = Field(True, description="One line per request with its request id.")


class StorageSettings(_Section):
    """Where durable state lives: a SQLite file by default, PostgreSQL for many replicas."""

    url: str = Field(
        "sqlite+aiosqlite:///./tenantgate.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB.",
    )
    auto_migrate: bool = Field(True, description="Apply database migrations at start-up.")
    pool_size: int = Field(10, ge=1, description="PostgreSQL connection pool size per process.")
    echo_sql: bool = Field(False, description="Log every SQL statement (debugging only).")


class UpstreamTimeouts(_Section):
    """Deadlines for talking to an upstream provider; a deployment may override any of them."""

    connect_timeout_ms: int = Field(5_000, ge=1, description="TCP+TLS connect deadline.")
    first_byte_timeout_ms: int = Field(
        120_000, ge=1, description="Deadline from sending the request to the first response byte."
    )
    idle_timeout_ms: int = Field(
        60_000, ge=1, description="Longest gap between two stream chunks before giving up."
    )
    total_timeout_ms: int = Field(
        900_000, ge=1, description="Absolute deadline for one upstream attempt, streams included."
    )


class UpstreamSettings(_Section):
    """Connection pooling and default timeouts for the HTTP providers."""

    timeouts: UpstreamTimeouts = Field(default_factory=UpstreamTimeouts)
    connections_max: int = Field(512, ge=1, description="Open upstream connections, all hosts.")
    connections_per_host_max: int = Field(128, ge=1, description="Open connections per host.")
    allow_plain_http: bool = Field(
        True, description="Allow http:// upstreams (needed for local servers such as vLLM)."
    )


class AuthSettings(_Section):
    """Client authentication and authorization for the OpenAI surface."""

    required: bool | None = Field(
        None,
        description=(
            "Require an API key on /v1/*. Unset: required as soon as a tenancy exists "
            "(`tenantgate init`); before that the loopback quickstart answers anyone. "
            "false admits every caller, ungoverned."
        ),
    )
    api_key_sha256: list[str] = Field(
        default_factory=list,
        description=(
            "SHA-256 hex digests of accepted static API keys (never the keys themselves). "
            "Static keys may call every model and are not governed by policies."
        ),
    )
    refresh_interval_ms: int = Field(
        1000, ge=50, le=60_000,
        description=(
            "How often each replica checks the identity revision; a revoked key or changed "
            "policy takes effect on other replicas within this time."
        ),
    )


class LocalSettings(_Section):
    """The embedded local models that run in-process on the CPU."""

    enabled: bool = Field(True, description="Offer the embedded local models.")
    chat_model_name: str = Field("smollm2-135m-instruct", description="Public name of the chat model.")
    embedding_model_name: str = Field(
        "all-minilm-l6-v2", description="Public name of the embedding model."
    )
    load: Literal["lazy", "startup"] = Field(
        "lazy", description="Load model files on first use or when the server starts."
    )
    threads: int = Field(1, ge=1, description="CPU threads per local chat model (1 is robust on 2 cores).")
    embedding_threads: int = Field(1, ge=1, description="CPU threads for the embedding model.")
    context_tokens: int = Field(2048, ge=256, description="Context window of the local chat model.")
    instances: int = Field(
        1, ge=1, le=16,
        description="Copies of each local chat model serving at once (own context and thread each; "
        "weights shared). One per core left free.",
    )
    queue_max: int = Field(16, ge=0, description="Requests that may wait for a local model.")
    queue_deadline_ms: int = Field(
        30_000, ge=1, description="Longest wait in the local queue before 503."
    )
    idle_unload_s: int = Field(
        0, ge=0, description="Unload a local model idle this long (0 keeps it loaded)."
    )
    max_output_tokens: int = Field(
        512, ge=1, description="Output cap of a local completion when max_tokens is not given."
    )


StrategyName = Literal["priority", "weighted", "least_latency", "lowest_cost", "least_busy"]


class BreakerSettings(_Section):
    """The circuit breaker kept per deployment from live traffic (docs/routing.md)."""

    enabled: bool = Field(True, description="Skip deployments whose recent attempts mostly failed.")
    window_s: float = Field(30.0, gt=0, description="Sliding window over which the failure ratio is taken.")
    min_requests: int = Field(
        10, ge=1, description="Attempts in the window before the breaker may open."
    )
    failure_ratio: float = Field(
        0.5, gt=0, le=1, description="Failed share of the window's attempts that opens the breaker."
    )
    cooldown_s: float = Field(
        10.0, gt=0, description="How long an open breaker skips the deployment before a half-open probe."
    )
    half_open_probes: int = Field(
        1, ge=1, description="Probe requests let through at once while half-open; one success closes it."
    )


class RetrySettings(_Section):
    """How one request retries and fails over, and the budget that bounds retries overall."""

    attempts_max: int = Field(
        3, ge=1, le=20, description="Upstream attempts per request, all deployments and fallbacks together."
    )
    same_deployment_retries: int = Field(
        0, ge=0, le=5,
        description="Retries of a deployment once every other candidate was tried (0: failover only).",
    )
    backoff_base_ms: int = Field(
        100, ge=0, description="First retry's backoff before jitter; doubles each retry."
    )
    backoff_max_ms: int = Field(2_000, ge=0, description="Largest backoff before jitter.")
    retry_after_max_s: float = Field(
        5.0, ge=0,
        description=(
            "Longest upstream Retry-After the gateway waits out before retrying the same deployment; "
            "a longer one ends the request with the upstream's 429 and its hint."
        ),
    )
    rate_limit_cooldown_s: float = Field(
        1.0, ge=0,
        description="How long a 429 without Retry-After moves its deployment to the back of the order.",
    )
    rate_limit_cooldown_max_s: float = Field(
        60.0, ge=0,
        description="Longest an upstream's Retry-After keeps its deployment at the back of the order.",
    )
    budget_ratio: float = Field(
        0.2, ge=0, description="Retries earned per request (per model): 0.2 is one retry per five requests."
    )
    budget_burst: float = Field(10.0, ge=0, description="Most retries the budget can save up (per model).")
    budget_refill_per_s: float = Field(
        1.0, ge=0, description="Retries the budget earns per second regardless of traffic (per model)."
    )


class LatencySettings(_Section):
    """The time-to-first-token average that ``least_latency`` routes on."""

    ewma_alpha: float = Field(
        0.3, gt=0, le=1, description="Weight of each new time-to-first-token sample in the moving average."
    )
    tie_ms: float = Field(
        20.0, ge=0, description="Averages both under this many milliseconds count as equally fast."
    )
    tie_ratio: float = Field(
        0.2, ge=0, description="Averages within this ratio of each other (one band) count as equally fast."
    )
    explore_ratio: float = Field(
        0.05, ge=0, le=1,
        description="Share of least_latency decisions sent to a random deployment (to notice recoveries).",
    )


class ResidencyRule(_Section):
    """Where a compartment's requests may be served, and whether they may change model."""

    compartment: str = Field(
        description="Compartment path (`Finance:EU` or `Finance/EU`); the rule covers its descendants too."
    )
    residency: list[str] = Field(
        default_factory=list,
        description="Residency tags a deployment must carry one of (e.g. eu); empty: no constraint.",
    )
    allow_model_fallback: bool = Field(
        True, description="Whether requests may fall back to another model (models[].routing.fallbacks)."
    )


class RoutingSettings(_Section):
    """Deployment health, retries and residency rules shared by every model (docs/routing.md)."""

    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    latency: LatencySettings = Field(default_factory=LatencySettings)
    compartments: list[ResidencyRule] = Field(
        default_factory=list,
        description="Residency rules by compartment path; the nearest rule above a compartment applies.",
    )


class DeploymentSettings(BaseModel):
    """One place a model is served: a provider, an endpoint, an upstream model and a credential.

    Provider-specific fields (e.g. ``api_version``, ``compartment_id``) are validated by the
    provider module itself, so its quirks stay in one place.
    """

    model_config = ConfigDict(extra="allow")

    provider: str = Field(description="Provider adapter name (one of docs/providers/).")
    model: str = Field(description="The model (or deployment) name the upstream expects.")
    base_url: str | None = Field(None, description="Endpoint base URL; fixed by config, never by clients.")
    region: str | None = Field(None, description="Cloud region of the deployment.")
    credential_env: str | None = Field(None, description="Environment variable holding the secret.")
    credential_file: str | None = Field(None, description="File holding the secret.")
    timeouts: UpstreamTimeouts | None = Field(None, description="Overrides of upstream.timeouts.")
    cloud: str | None = Field(None, description="Cloud the deployment runs in (e.g. azure, oci), for views.")
    residency: list[str] = Field(
        default_factory=list,
        description="Residency tags (e.g. eu, us, sovereign); pinned compartments use only matching ones.",
    )
    capacity_class: Literal["on_demand", "dedicated"] = Field(
        "on_demand", description="Shared pay-per-token capacity, or dedicated capacity of a known size."
    )
    throughput_tokens_per_min: int | None = Field(
        None, ge=1, description="A dedicated deployment's throughput, in tokens per minute."
    )
    concurrent_requests_max: int | None = Field(
        None, ge=1, description="A dedicated deployment's concurrent requests (least_busy divides by it)."
    )
    weight: int = Field(1, ge=0, description="Traffic share under the weighted strategy (0: failover only).")
    priority: int | None = Field(
        None, description="Order under the priority strategy, lowest first (default: position in the list)."
    )
    reservations: _capacity.Reservations = Field(default_factory=list)
    capacity_queue: _capacity.CapacityQueueSettings = Field(default_factory=_capacity.CapacityQueueSettings)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    def provider_options(self) -> dict[str, Any]:
        """The provider-specific fields, for the provider to validate."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _dedicated_has_a_size(self) -> DeploymentSettings:
        _capacity.check_capacity(self)
        return self


class ModelRoutingSettings(_Section):
    """How one model picks among its deployments, and which models it may fall back to."""

    strategy: list[StrategyName] = Field(
        default_factory=lambda: list[StrategyName](["priority"]),
        description="Strategies in order; each later one breaks the ties of those before it.",
    )
    fallbacks: list[str] = Field(
        default_factory=list,
        description="Models tried, in order, when every deployment failed (where the compartment allows it).",
    )
    attempts_max: int | None = Field(None, ge=1, le=20, description="Overrides routing.retry.attempts_max.")
    same_deployment_retries: int | None = Field(
        None, ge=0, le=5, description="Overrides routing.retry.same_deployment_retries."
    )

    @field_validator("strategy", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ModelSettings(_Section):
    """A public model name and the deployments that serve it, tried in order."""

    name: str = Field(description="The name clients send as `model`.")
    deployments: list[DeploymentSettings] = Field(min_length=1)
    owned_by: str = Field("tenantgate", description="`owned_by` shown in /v1/models.")
    max_output_tokens: int | None = Field(
        None, ge=1,
        description="The model's output cap: what a credit hold assumes when a request sets no max_tokens.",
    )
    routing: ModelRoutingSettings = Field(default_factory=ModelRoutingSettings)


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


class Settings(BaseSettings):
    """Everything Tenantgate can be told, one section per concern."""

    model_config = SettingsConfigDict(
        env_prefix="TENANTGATE_", env_nested_delimiter="__", extra="forbid"
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    credits: CreditsSettings = Field(default_factory=CreditsSettings)
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    models: list[ModelSettings] = Field(default_factory=list, description="The model catalog.")

    @model_validator(mode="after")
    def _unique_model_names(self) -> Settings:
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique; repeated: {', '.join(duplicates)}")
        return self


class _FileSource(PydanticBaseSettingsSource):
    """Reads one TOML or YAML file as a settings source."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML (.toml) or YAML (.yaml/.yml) file into a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the top level must be a mapping")
    return data


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the file (or $TENANTGATE_CONFIG), env and overrides.

    Precedence, highest first: ``overrides`` (CLI flags), environment, file, defaults.
    """
    path = config_file or os.environ.get(CONFIG_FILE_ENV)
    file_data = read_config_file(Path(path)) if path else {}

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _FileSource(settings_cls, file_data))

    try:
        loaded = _Loaded(**overrides)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    return Settings.model_validate(loaded.model_dump())


def export_for_workers(config_file: Path | None, host: str | None, port: int | None) -> None:
    """Put the CLI's choices into the environment, where every server worker's load_settings finds them.

    Worker processes build their own app from the same sources, so the CLI flags travel as the
    same variables an operator could have set.
    """
    if config_file is not None:
        os.environ[CONFIG_FILE_ENV] = str(config_file.resolve())
    if host is not None:
        os.environ["TENANTGATE_SERVER__HOST"] = host
    if port is not None:
        os.environ["TENANTGATE_SERVER__PORT"] = str(port)


def read_secret(env_name: str | None, file_path: str | None) -> str | None:
    """Resolve a credential reference; the value is never logged or echoed."""
    if env_name:
        return os.environ.get(env_name)
    if file_path:
        try:
            return Path(file_path).expanduser().read_text(encoding="utf-8").strip()
        except OSError:
            return None
    return None

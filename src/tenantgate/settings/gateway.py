"""The gateway process itself: server, logging, storage, upstream client, auth, local models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tenantgate.settings._section import _Section


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

"""The provider contract: adapters translate, transports send, backends run one attempt.

An HTTP provider is an *adapter*: a translation unit with no I/O. It turns an OpenAI-shaped
request into an :class:`UpstreamRequest`, and the upstream's bytes back into OpenAI-shaped
bytes (:meth:`ProviderAdapter.parse_response`, :meth:`ProviderAdapter.stream_decoder`), and
maps the upstream's error answers to our error types (:meth:`ProviderAdapter.map_error`).
It knows nothing of tenants, credits or policy.

A *backend* is what the pipeline calls: one deployment that can answer a request. HTTP
deployments are an adapter plus the shared transport; the local engine is a backend that
computes in-process. Both speak the same two calls, so routing, holds and settlement never
care which kind answered.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from tenantgate.errors import TenantgateError

if TYPE_CHECKING:
    from tenantgate.settings.capacity import CapacityQueueSettings, ReservationRule


class Operation(StrEnum):
    """What the client asked for; each maps to one OpenAI endpoint."""

    CHAT = "chat"
    COMPLETION = "completion"
    EMBEDDING = "embedding"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an adapter or backend can do, as data (the pipeline rejects what it cannot)."""

    operations: frozenset[Operation]
    streaming: bool = True
    tools: bool = True
    logprobs: bool = True
    usage_in_stream: bool = True


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one answer; ``estimated`` when counted locally, not by the upstream."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's usage object."""
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """Everything the transport needs to send one request; built by an adapter, signed by auth."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    stream: bool = False


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """A complete (non-streaming) upstream answer as received."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """A finished non-streaming answer in OpenAI's shape, ready for the client."""

    body: bytes
    usage: Usage | None


@dataclass(slots=True)
class StreamPiece:
    """One chunk for the client (OpenAI ``chat.completion.chunk`` JSON, without SSE framing).

    ``usage_only`` marks the final usage chunk that OpenAI sends when the client asked for
    ``stream_options.include_usage``; the pipeline drops it when the client did not.
    ``more_in_read`` says another piece of the same upstream read follows at once: the
    pipeline sends such pieces to the client together, one write instead of one per piece.
    """

    data: bytes
    usage: Usage | None = None
    usage_only: bool = False
    finished_choices: int = 0
    more_in_read: bool = False


@dataclass(slots=True)
class DecodedEvents:
    """What a stream decoder made of one upstream event."""

    pieces: list[StreamPiece] = field(default_factory=list)
    done: bool = False


class StreamDecoder(Protocol):
    """Per-stream state: turns the upstream's SSE event payloads into OpenAI chunks."""

    def feed(self, event: bytes) -> DecodedEvents:
        """Decode one SSE ``data`` payload; raise UpstreamBadResponse if it is malformed."""
        ...


class ProviderAdapter(Protocol):
    """A translation unit for one upstream API; constructed once per deployment."""

    name: ClassVar[str]
    capabilities: Capabilities

    def build_request(
        self, operation: Operation, body: dict[str, Any], *, stream: bool
    ) -> UpstreamRequest:
        """Translate an OpenAI-shaped body (already validated) into the upstream's request."""
        ...

    def parse_response(
        self, operation: Operation, body: dict[str, Any], response: UpstreamResponse
    ) -> Reply:
        """Translate a 2xx answer to the request ``body`` into OpenAI's shape and read its usage."""
        ...

    def stream_decoder(self, operation: Operation, body: dict[str, Any]) -> StreamDecoder:
        """A fresh decoder for one streaming answer to the request ``body``."""
        ...

    def map_error(self, response: UpstreamResponse) -> TenantgateError:
        """Classify a non-2xx answer by status and stable codes, never by message text."""
        ...


class RequestSigner(Protocol):
    """Adds credentials to a request (bearer, api-key header, OCI signature).

    ``may_block`` is True for signers that sometimes fetch tokens over blocking I/O (OCI
    instance and resource principals); the backend then signs in a worker thread.
    """

    @property
    def may_block(self) -> bool:
        """Whether :meth:`sign` may block on I/O."""
        ...

    def sign(self, request: UpstreamRequest) -> UpstreamRequest:
        """Return the request with authentication headers added."""
        ...


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """Who a backend is, for logs, metrics, routing and (later) pricing."""

    model_name: str
    provider: str
    upstream_model: str
    region: str | None
    index: int
    cloud: str | None = None
    residency: frozenset[str] = frozenset()
    capacity_class: str = "on_demand"
    throughput_tokens_per_min: int | None = None
    concurrent_requests_max: int | None = None
    weight: int = 1
    priority: int | None = None
    """Routing data (docs/routing.md); ``priority`` None means the position in the list."""
    reservations: tuple[ReservationRule, ...] = ()
    capacity_queue: CapacityQueueSettings | None = None
    """Dedicated capacity owned by compartments, and its queue (``routing/capacity.py``)."""

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.upstream_model}#{self.index}"


class Backend(Protocol):
    """One deployment that can answer requests; the pipeline's only view of a provider."""

    info: DeploymentInfo
    capabilities: Capabilities

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Reply:
        """Answer a non-streaming request, or raise a TenantgateError."""
        ...

    def stream(self, operation: Operation, body: dict[str, Any]) -> AsyncGenerator[StreamPiece, None]:
        """Answer a streaming request piece by piece.

        The iterator ends normally only when the answer is complete; a failure raises an
        :class:`UpstreamError` (before the first piece, the pipeline may fail over).
        Closing the iterator (``aclose``) must cancel the upstream work at once.
        """
        ...

    async def aclose(self) -> None:
        """Release resources held for this deployment."""
        ...

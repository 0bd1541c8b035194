"""The hot path, top-down: authenticate -> authorize -> (hold) -> route+call -> (settle) -> record.

Every inference request passes through :class:`Pipeline` exactly once. Credits holds and
settlement, guardrails and audit plug in at the marked steps; routing chooses the order of
deployments (configured order today) and :func:`routing.failover.may_fail_over` decides when
to move on. Failover happens only while nothing has reached the client: for streams the
first piece is awaited before the response starts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tenantgate import billing
from tenantgate.catalog import Catalog, ModelEntry
from tenantgate.credits.metering import Hold, Metering
from tenantgate.errors import (
    ModelNotFound,
    NoDeploymentAvailable,
    TenantgateError,
    UnsupportedParameter,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamStreamInterrupted,
)
from tenantgate.iam.access_control import AccessControl
from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.principal import ANONYMOUS_CALLER, Caller, Principal
from tenantgate.observability.metrics import GatewayMetrics
from tenantgate.providers.base import Backend, Operation, Reply, StreamPiece, Usage
from tenantgate.routing.failover import may_fail_over
from tenantgate.usage_estimate import estimate_usage

logger = logging.getLogger("tenantgate.pipeline")

DONE_FRAME = b"data: [DONE]\n\n"
_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class InferenceCall:
    """One validated inference request."""

    operation: Operation
    model: str
    body: dict[str, Any]
    request_id: str
    stream: bool = False
    include_usage: bool = False
    caller: Caller = ANONYMOUS_CALLER


@dataclass(slots=True)
class Outcome:
    """What happened, for logs and (later) settlement: who answered and what it used."""

    deployment: str | None = None
    usage: Usage | None = None
    attempts: int = 0
    failed_attempts: list[str] = field(default_factory=list)
    cost: int | None = None
    """Micro-credits charged, when credits are on (a stream's is known only at its end)."""


class Pipeline:
    """Runs inference calls against the catalog with failover."""

    def __init__(
        self, catalog: Catalog, access: AccessControl, metrics: GatewayMetrics,
        metering: Metering | None = None,
    ) -> None:
        self.catalog = catalog
        self.access = access
        self._metrics = metrics
        self.metering = metering

    async def authenticate(
        self, authorization: str | None, *, ip: str | None = None, request_id: str | None = None
    ) -> Principal:
        return await self.access.authenticate(authorization, ip=ip, request_id=request_id)

    def resolve(self, call: InferenceCall) -> ModelEntry:
        """Find the model's catalog entry and check it serves this operation."""
        entry = self.catalog.get(call.model)
        if entry is None:
            raise ModelNotFound(
                f"The model '{call.model}' does not exist or you do not have access to it.",
                param="model",
            )
        if call.operation not in entry.operations:
            raise UnsupportedParameter(
                f"The model '{call.model}' does not support {call.operation.value} requests.",
                param="model",
            )
        return entry

    def may_use(self, caller: Caller, entry: ModelEntry) -> bool:
        """Whether ``caller`` may use ``entry`` for any of its operations in any of its regions."""
        return self.access.may_use_model(
            caller, operations=[op.value for op in entry.operations], model=entry.name,
            regions=[backend.info.region for backend in entry.backends],
        )

    def _candidates(self, call: InferenceCall) -> tuple[list[Backend], CompartmentRecord | None]:
        """The deployments that may answer (they serve the operation, in a region the caller may
        use) and the compartment the call acts in (None for ungoverned callers)."""
        entry = self.resolve(call)
        backends = [b for b in entry.backends if call.operation in b.capabilities.operations]
        if not call.caller.principal.governed:
            return backends, None
        grant = self.access.authorize_inference(
            call.caller, operation=call.operation.value, model=call.model,
            regions=[b.info.region for b in backends],
        )
        return [b for b in backends if b.info.region in grant.regions], grant.compartment

    async def _hold(
        self, call: InferenceCall, backends: list[Backend], compartment: CompartmentRecord | None
    ) -> Hold | None:
        """Reserve the call's maximum cost before any upstream sees it (429 if it cannot be covered)."""
        if self.metering is None or not backends:
            return None
        tenancy = self.access.snapshot.tenancy
        return await self.metering.hold(
            model=call.model, operation=call.operation.value, body=call.body,
            request_id=call.request_id, candidates=billing.candidates_of(backends),
            payer=billing.payer_of(call.caller, compartment, tenancy.id if tenancy else None),
        )

    def _attempt_failed(self, backend: Backend, error: TenantgateError, outcome: Outcome) -> None:
        outcome.failed_attempts.append(f"{backend.info.label}:{error.code}")
        self._metrics.upstream_error(backend.info.provider, error.code)
        logger.warning(
            "upstream attempt failed",
            extra={"deployment": backend.info.label, "error_code": error.code,
                   "error": error.message},
        )

    async def complete(self, call: InferenceCall, outcome: Outcome) -> Reply:
        """Answer a non-streaming call, failing over between deployments in order."""
        backends, compartment = self._candidates(call)
        hold = await self._hold(call, backends, compartment)
        try:
            reply, backend = await self._first_reply(call, backends, outcome)
        except BaseException:
            if hold is not None and self.metering is not None:
                self.metering.release(hold)
            raise
        if hold is not None and self.metering is not None:
            outcome.cost = billing.settle(self.metering, hold, reply.usage, backend)
        return reply

    async def _first_reply(
        self, call: InferenceCall, backends: list[Backend], outcome: Outcome
    ) -> tuple[Reply, Backend]:
        last_error: TenantgateError | None = None
        for backend in backends:
            outcome.attempts += 1
            try:
                reply = await backend.complete(call.operation, call.body)
            except TenantgateError as error:
                self._attempt_failed(backend, error, outcome)
                if not may_fail_over(error):
                    raise
                last_error = error
                continue
            outcome.deployment = backend.info.label
            outcome.usage = reply.usage
            return reply, backend
        raise last_error or NoDeploymentAvailable()

    async def open_stream(self, call: InferenceCall, outcome: Outcome) -> StreamSession:
        """Start a streaming answer: fail over until a deployment yields its first piece."""
        backends, compartment = self._candidates(call)
        hold = await self._hold(call, backends, compartment)
        try:
            session = await self._first_piece(call, backends, outcome)
        except BaseException:
            if hold is not None and self.metering is not None:
                self.metering.release(hold)
            raise
        if hold is not None and self.metering is not None:
            metering, backend = self.metering, session.backend
            session.on_end = lambda usage: billing.settle(metering, hold, usage, backend)
        return session

    async def _first_piece(
        self, call: InferenceCall, backends: list[Backend], outcome: Outcome
    ) -> StreamSession:
        last_error: TenantgateError | None = None
        for backend in backends:
            outcome.attempts += 1
            pieces = backend.stream(call.operation, call.body)
            try:
                first = await anext(pieces)
            except StopAsyncIteration:
                error: TenantgateError = UpstreamBadResponse("The upstream sent an empty stream.")
            except TenantgateError as exc:
                error = exc
            except BaseException:
                await pieces.aclose()
                raise
            else:
                outcome.deployment = backend.info.label
                return StreamSession(call, first, pieces, outcome, backend)
            await pieces.aclose()
            self._attempt_failed(backend, error, outcome)
            if not may_fail_over(error):
                raise error
            last_error = error
        raise last_error or NoDeploymentAvailable()


class StreamSession:
    """An answer being streamed: frames it as SSE, tracks usage, ends it honestly.

    A failure after the first piece ends the stream with an ``error`` event and no
    ``[DONE]``, so no client mistakes a truncated answer for a complete one.
    """

    def __init__(
        self,
        call: InferenceCall,
        first: StreamPiece,
        pieces: AsyncGenerator[StreamPiece, None],
        outcome: Outcome,
        backend: Backend,
    ) -> None:
        self._call = call
        self._first = first
        self._pieces = pieces
        self.outcome = outcome
        self.backend = backend
        self.content_chunks = 0
        self.completed = False
        self.on_end: Callable[[Usage], int] | None = None
        """Called once when the stream ends however it ends (settlement), with what it used."""

    def end(self) -> None:
        """Settle once, however the stream ended: with the upstream's usage, else a flagged estimate.

        Called when the frames end, and again (harmlessly) by the API layer when the response
        is over, which covers a client that left before the first frame was even pulled.
        """
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            usage = self.outcome.usage or estimate_usage(self._call.body, self.content_chunks)
            self.outcome.cost = on_end(usage)

    async def frames(self) -> AsyncIterator[bytes]:
        """SSE frames for the client, ending in ``[DONE]`` or an error event."""
        include_usage = self._call.include_usage
        try:
            piece: StreamPiece | None = self._first
            async for piece in _prepend(self._first, self._pieces):
                if piece.usage is not None:
                    self.outcome.usage = piece.usage
                if piece.usage_only:
                    if include_usage:
                        yield b"data: " + piece.data + b"\n\n"
                    continue
                self.content_chunks += 1
                yield b"data: " + piece.data + b"\n\n"
        except TenantgateError as error:
            yield error_frame(_as_interruption(error))
            return
        finally:
            await self._pieces.aclose()
            self.end()
        if self.outcome.usage is None:
            self.outcome.usage = estimate_usage(self._call.body, self.content_chunks)
            if include_usage and piece is not None:
                yield b"data: " + _usage_chunk(piece.data, self.outcome.usage) + b"\n\n"
        self.completed = True
        yield DONE_FRAME


async def _prepend(first: StreamPiece, rest: AsyncIterator[StreamPiece]) -> AsyncIterator[StreamPiece]:
    yield first
    async for piece in rest:
        yield piece


def _as_interruption(error: TenantgateError) -> TenantgateError:
    if isinstance(error, UpstreamStreamInterrupted) or not isinstance(error, UpstreamError):
        return error
    return UpstreamStreamInterrupted(
        f"The upstream stream was interrupted ({error.code}); the answer is incomplete."
    )


def error_frame(error: TenantgateError) -> bytes:
    """An SSE event carrying an OpenAI error object (the SDKs raise it as an APIError)."""
    return b"data: " + _encode(error.to_body()) + b"\n\n"


class _ChunkHead(msgspec.Struct):
    id: str = "chatcmpl-unknown"
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""


def _usage_chunk(last_chunk: bytes, usage: Usage) -> bytes:
    """A usage-only chunk shaped like the stream's own chunks (same id, model, created)."""
    try:
        head = msgspec.json.decode(last_chunk, type=_ChunkHead)
    except msgspec.DecodeError:
        head = _ChunkHead()
    return _encode(
        {"id": head.id, "object": head.object, "created": head.created, "model": head.model,
         "choices": [], "usage": usage.to_openai()}
    )

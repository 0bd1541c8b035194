"""The hot path, top-down: authenticate -> authorize -> (rate limit) -> (hold) -> route+call -> (settle).

Every inference request passes through :class:`Pipeline` exactly once. Credits holds and
settlement, guardrails and audit plug in at the marked steps; the router (``routing/``)
orders the eligible deployments (residency, breakers, strategies), ``routing.attempts``
plans retries and failover, and :func:`routing.failover.may_fail_over` decides when to
move on. Failover happens only while nothing has reached the client: for streams the first
piece is awaited before the response starts. When every deployment failed, an allowed
fallback model gets its own credit hold, so the answer is charged once, at its price.
An attempt on dedicated capacity with reservations holds a slot (``routing.capacity``) from
before the upstream call until the answer, or the stream, ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import msgspec

from tenantgate import billing
from tenantgate.catalog import Catalog, ModelEntry
from tenantgate.credits.metering import Hold, Metering
from tenantgate.errors import (
    DedicatedCapacityShed,
    ModelNotFound,
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
from tenantgate.ratelimit import NOT_LIMITED, Admission, RateLimiter
from tenantgate.routing.attempts import Attempt, Attempts
from tenantgate.routing.capacity import DEDICATED_CAPACITY_ERRORS, Slot
from tenantgate.routing.failover import may_fail_over, may_fall_back
from tenantgate.routing.router import Router
from tenantgate.settings import RoutingSettings
from tenantgate.usage_estimate import estimate_usage

logger = logging.getLogger("tenantgate.pipeline")

DONE_FRAME = b"data: [DONE]\n\n"
_encode = msgspec.json.Encoder().encode

CompartmentPath = tuple[str, ...] | None
"""The path of the compartment a call acts in (None: outside any), as dedicated capacity keys it."""


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
    attempt_id: str | None = None
    """The attempt that answered: ``<request id>-a<N>`` (failed ones are logged with theirs)."""
    admission: Admission = NOT_LIMITED
    """The call's rate-limit charge: its ``x-ratelimit-*`` headers, ended when the call ends."""
    budget_left: int | None = None
    """What the caller's own budgets have left (micro-credits), when credits are on and it has one."""
    started_at: float = field(default_factory=time.monotonic)

    def latency_ms(self) -> int:
        """Milliseconds since the call started (for its usage record)."""
        return round((time.monotonic() - self.started_at) * 1000)

    def attempt_trail(self) -> tuple[str, ...]:
        """The failed attempts (``deployment:code``), then the attempt that answered, if one did."""
        if not self.failed_attempts:  # the common case: answered at once
            return (self.attempt_id,) if self.attempt_id else ()
        return (*self.failed_attempts, *([self.attempt_id] if self.attempt_id else []))


class Pipeline:
    """Runs inference calls against the catalog with failover."""

    def __init__(
        self, catalog: Catalog, access: AccessControl, metrics: GatewayMetrics,
        metering: Metering | None = None, router: Router | None = None,
        rate_limits: RateLimiter | None = None,
    ) -> None:
        self.catalog = catalog
        self.access = access
        self._metrics = metrics
        self.metering = metering
        self.rate_limits = rate_limits
        self.router = router or Router(
            catalog, RoutingSettings(), clock=time.monotonic, rng=random.Random()  # noqa: S311 (not security)
        )

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

    def _candidates(
        self, call: InferenceCall, tries: Attempts | None = None
    ) -> tuple[list[Backend], CompartmentRecord | None]:
        """The deployments that may answer, in the order to try them, and the compartment the
        call acts in (None for ungoverned callers).

        Eligible: they serve the operation, in a region the caller may use, with the residency
        the compartment's rule requires; the router then skips open breakers and applies the
        model's strategies. ``tries`` (when given) plans its attempts on that order.
        """
        entry = self.resolve(call)
        backends = [b for b in entry.backends if call.operation in b.capabilities.operations]
        compartment: CompartmentRecord | None = None
        if call.caller.principal.governed:
            grant = self.access.authorize_inference(
                call.caller, operation=call.operation.value, model=call.model,
                regions=[b.info.region for b in backends],
            )
            backends = [b for b in backends if b.info.region in grant.regions]
            compartment = grant.compartment
        rule = self.router.rule_for(compartment.path if compartment is not None else None)
        decision = self.router.order(entry.name, backends, rule, _path_of(compartment))
        if tries is not None:
            tries.begin_model(self.router.route(entry.name), decision)
        return [state.backend for state in decision.states], compartment

    async def _admit(
        self, call: InferenceCall, backends: list[Backend], compartment: CompartmentRecord | None,
        outcome: Outcome,
    ) -> None:
        """Charge the call's rate limits once, before any hold or upstream (429 when over one)."""
        if self.rate_limits is None or outcome.admission is not NOT_LIMITED:
            return
        outcome.admission = await self.rate_limits.admit(
            call.caller.principal, compartment, model=call.model, operation=call.operation.value,
            body=call.body, upstream_models=[b.info.upstream_model for b in backends],
        )
        outcome.admission.raise_if_refused()

    async def _hold(
        self, call: InferenceCall, backends: list[Backend], compartment: CompartmentRecord | None,
        outcome: Outcome,
    ) -> Hold | None:
        """Reserve the call's maximum cost before any upstream sees it (429 if it cannot be covered)."""
        if self.metering is None or not backends:
            return None
        tenancy = self.access.snapshot.tenancy
        hold = await self.metering.hold(
            model=call.model, operation=call.operation.value, body=call.body,
            request_id=call.request_id, candidates=billing.candidates_of(backends),
            payer=billing.payer_of(call.caller, compartment, tenancy.id if tenancy else None),
        )
        outcome.budget_left = hold.budget_left
        return hold

    def _attempt_failed(
        self, attempt: Attempt, error: TenantgateError, outcome: Outcome, hold: Hold | None
    ) -> None:
        """Log and count a failed attempt; one the upstream took on is booked to its provider
        cost account (the caller pays only for the attempt that answers)."""
        info = attempt.state.info
        outcome.failed_attempts.append(f"{info.label}:{error.code}")
        self._metrics.upstream_error(info.provider, error.code)
        if (hold is not None and self.metering is not None and isinstance(error, UpstreamError)
                and error.upstream_accepted):
            absorbed = self.metering.absorb(
                hold, attempt_id=attempt.attempt_id, deployment=info.label, region=info.region,
                deployment_type=info.capacity_class, error_code=error.code)
            if absorbed:
                self._metrics.absorbed_cost(info.provider, info.label, absorbed)
        logger.warning(
            "upstream attempt failed",
            extra={"request_id": attempt.request_id, "attempt_id": attempt.attempt_id,
                   "deployment": info.label, "error_code": error.code, "error": error.message},
        )

    def _answered(self, attempt: Attempt, outcome: Outcome) -> None:
        outcome.deployment = attempt.state.info.label
        outcome.attempt_id = attempt.attempt_id
        level = logging.INFO if outcome.attempts > 1 else logging.DEBUG  # a retry's trail ends here
        if logger.isEnabledFor(level):
            logger.log(level, "upstream attempt answered", extra={
                "request_id": attempt.request_id, "attempt_id": attempt.attempt_id,
                "deployment": outcome.deployment, "delay_ms": round(attempt.delay_s * 1000, 1)})

    def _fallback(
        self, call: InferenceCall, compartment: CompartmentRecord | None, error: BaseException,
        tries: Attempts,
    ) -> InferenceCall:
        """The call to the next fallback model where the policy allows one; else re-raise ``error``."""
        if not isinstance(error, TenantgateError) or not may_fall_back(error) or not tries.attempts_left:
            raise error
        rule = self.router.rule_for(compartment.path if compartment is not None else None)
        if rule is not None and not rule.allow_model_fallback:
            raise error
        for name in self.router.route(tries.models[0]).fallbacks:
            entry = self.catalog.get(name)
            if (name in tries.models or entry is None or call.operation not in entry.operations
                    or not self.may_use(call.caller, entry)):
                continue
            logger.warning("falling back to another model", extra={
                "request_id": call.request_id, "model": call.model, "fallback": name,
                "error_code": error.code})
            return replace(call, model=name)
        raise error

    async def complete(self, call: InferenceCall, outcome: Outcome) -> Reply:
        """Answer a non-streaming call; its rate-limit admission ends however the call ends."""
        try:
            return await self._complete(call, outcome)
        finally:
            outcome.admission.end(outcome.usage)

    async def _complete(self, call: InferenceCall, outcome: Outcome) -> Reply:
        """Fail over between deployments, then to allowed fallbacks."""
        tries = Attempts(self.router, call.request_id)
        while True:
            backends, compartment = self._candidates(call, tries)
            await self._admit(call, backends, compartment, outcome)
            hold = await self._hold(call, backends, compartment, outcome)
            try:
                reply, backend = await self._first_reply(call, outcome, tries, _path_of(compartment), hold)
                break
            except BaseException as error:
                if hold is not None and self.metering is not None:
                    billing.release(self.metering, hold, outcome)
                call = self._fallback(call, compartment, error, tries)  # re-raises when there is none
        if hold is not None and self.metering is not None:
            outcome.cost = billing.settle(self.metering, hold, reply.usage, backend, outcome)
        return reply

    async def _slot(self, attempt: Attempt, tries: Attempts, path: CompartmentPath) -> Slot | None:
        """A slot of the attempt's dedicated capacity (None: it has no reservations).

        Taken at once when one is free; else a caller that may spill over (any non-owner, an
        owner whose reservation allows it) is refused while another deployment is planned, and
        the rest wait in the deployment's queue (shed, or past its deadline: an error).
        """
        capacity = attempt.state.dedicated
        if capacity is None:
            return None
        slot = capacity.try_acquire(path)
        if slot is None and capacity.may_spill(path) and tries.has_next:
            raise DedicatedCapacityShed(  # reaches the client only if no other deployment answers
                "The deployment's dedicated capacity is full and no other deployment took the request.",
                retry_after_s=1.0)
        return slot or await capacity.acquire(path)

    def _refused(self, attempt: Attempt, error: TenantgateError, tries: Attempts, outcome: Outcome,
                 path: CompartmentPath) -> bool:
        """Record a refusal by dedicated capacity; True when the request may try another deployment."""
        tries.refused(attempt, error)
        outcome.failed_attempts.append(f"{attempt.state.info.label}:{error.code}")
        capacity = attempt.state.dedicated
        return capacity is not None and capacity.may_spill(path)

    async def _begin(
        self, attempt: Attempt, tries: Attempts, outcome: Outcome, path: CompartmentPath
    ) -> tuple[bool, Slot | None]:
        """Wait out the attempt's delay and take its dedicated slot, if it has one; ``(False, None)``
        when dedicated capacity refused it and the request may try the next deployment."""
        if attempt.delay_s:
            await asyncio.sleep(attempt.delay_s)
        try:
            slot = await self._slot(attempt, tries, path)
        except DEDICATED_CAPACITY_ERRORS as refusal:
            if self._refused(attempt, refusal, tries, outcome, path):
                return False, None
            raise
        outcome.attempts += 1
        tries.start(attempt)
        return True, slot

    async def _first_reply(
        self, call: InferenceCall, outcome: Outcome, tries: Attempts, path: CompartmentPath,
        hold: Hold | None,
    ) -> tuple[Reply, Backend]:
        while (attempt := tries.next()) is not None:
            started, slot = await self._begin(attempt, tries, outcome, path)
            if not started:
                continue
            backend = attempt.state.backend
            try:
                reply = await backend.complete(call.operation, call.body)
            except TenantgateError as error:
                tries.failed(attempt, error)
                self._attempt_failed(attempt, error, outcome, hold)
                if not may_fail_over(error):
                    raise
                continue
            except BaseException:
                tries.abandon(attempt)
                raise
            finally:
                _release(slot)
            tries.first_byte(attempt)
            tries.end(attempt, None)
            self._answered(attempt, outcome)
            outcome.usage = reply.usage
            return reply, backend
        raise tries.exhausted()

    async def open_stream(self, call: InferenceCall, outcome: Outcome) -> StreamSession:
        """Start a streaming answer; its rate-limit admission ends with the stream (or the failure)."""
        try:
            session = await self._open_stream(call, outcome)
        except BaseException:
            outcome.admission.end(outcome.usage)
            raise
        session.admission = outcome.admission
        return session

    async def _open_stream(self, call: InferenceCall, outcome: Outcome) -> StreamSession:
        """Fail over until a deployment (or fallback) yields its first piece."""
        tries = Attempts(self.router, call.request_id)
        while True:
            backends, compartment = self._candidates(call, tries)
            await self._admit(call, backends, compartment, outcome)
            hold = await self._hold(call, backends, compartment, outcome)
            try:
                session = await self._first_piece(call, outcome, tries, _path_of(compartment), hold)
                break
            except BaseException as error:
                if hold is not None and self.metering is not None:
                    billing.release(self.metering, hold, outcome)
                call = self._fallback(call, compartment, error, tries)  # re-raises when there is none
        if hold is not None and self.metering is not None:
            metering, backend = self.metering, session.backend
            session.on_end = lambda usage: billing.settle(metering, hold, usage, backend, outcome)
        return session

    async def _first_piece(
        self, call: InferenceCall, outcome: Outcome, tries: Attempts, path: CompartmentPath,
        hold: Hold | None,
    ) -> StreamSession:
        while (attempt := tries.next()) is not None:
            started, slot = await self._begin(attempt, tries, outcome, path)
            if not started:
                continue
            backend = attempt.state.backend
            pieces = backend.stream(call.operation, call.body)
            try:
                first = await anext(pieces)
            except StopAsyncIteration:
                error: TenantgateError = UpstreamBadResponse("The upstream sent an empty stream.")
            except TenantgateError as exc:
                error = exc
            except BaseException:
                await pieces.aclose()
                tries.abandon(attempt)
                _release(slot)
                raise
            else:
                tries.first_byte(attempt)
                self._answered(attempt, outcome)
                session = StreamSession(call, first, pieces, outcome, backend)
                session.on_finish = partial(_stream_ended, tries, attempt, slot)
                return session
            await pieces.aclose()
            _release(slot)
            tries.failed(attempt, error)
            self._attempt_failed(attempt, error, outcome, hold)
            if not may_fail_over(error):
                raise error
        raise tries.exhausted()


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
        self.on_finish: Callable[[TenantgateError | None, bool], None] | None = None
        """Called once at the end with the mid-stream failure (if any) and whether the upstream
        finished its answer: the deployment's health learns from the whole stream."""
        self._failure: TenantgateError | None = None
        self._upstream_finished = False
        self.admission: Admission = NOT_LIMITED
        """The call's rate-limit charge, ended with the stream (slots released, tokens corrected)."""

    def end(self) -> None:
        """Settle once, however the stream ended: with the upstream's usage, else a flagged estimate.

        Called when the frames end, and again (harmlessly) by the API layer when the response
        is over, which covers a client that left before the first frame was even pulled.
        """
        on_finish, self.on_finish = self.on_finish, None
        if on_finish is not None:
            on_finish(self._failure, self._upstream_finished)
        on_end, self.on_end = self.on_end, None
        admission, self.admission = self.admission, NOT_LIMITED
        if on_end is None and admission is NOT_LIMITED:
            return
        usage = self.outcome.usage or estimate_usage(self._call.body, self.content_chunks)
        try:
            if on_end is not None:
                self.outcome.cost = on_end(usage)
        finally:
            admission.end(usage)

    async def frames(self) -> AsyncIterator[bytes]:
        """SSE frames for the client, ending in ``[DONE]`` or an error event."""
        include_usage = self._call.include_usage
        held: list[bytes] = []  # frames of one upstream read, sent together
        try:
            piece: StreamPiece | None = self._first
            async for piece in _prepend(self._first, self._pieces):
                if piece.usage is not None:
                    self.outcome.usage = piece.usage
                if not piece.usage_only:
                    self.content_chunks += 1
                    held.append(b"data: " + piece.data + b"\n\n")
                elif include_usage:
                    held.append(b"data: " + piece.data + b"\n\n")
                if held and not piece.more_in_read:
                    yield b"".join(held)  # one frame: itself, not a copy
                    held.clear()
            self._upstream_finished = True
        except TenantgateError as error:
            self._failure = error
            held.append(error_frame(_as_interruption(error)))
            yield b"".join(held)
            return
        finally:
            await self._pieces.aclose()
            self.end()
        if held:  # the last read's pieces all said more would follow
            yield b"".join(held)
        if self.outcome.usage is None:
            self.outcome.usage = estimate_usage(self._call.body, self.content_chunks)
            if include_usage and piece is not None:
                yield b"data: " + _usage_chunk(piece.data, self.outcome.usage) + b"\n\n"
        self.completed = True
        yield DONE_FRAME


def _path_of(compartment: CompartmentRecord | None) -> CompartmentPath:
    return compartment.path if compartment is not None else None


def _release(slot: Slot | None) -> None:
    if slot is not None:
        slot.release()


def _stream_ended(
    tries: Attempts, attempt: Attempt, slot: Slot | None, failure: TenantgateError | None, finished: bool
) -> None:
    """A started stream is over: its deployment's health learns from it, and its slot is freed."""
    try:
        tries.stream_ended(attempt, failure, finished)
    finally:
        _release(slot)


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

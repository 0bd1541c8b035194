"""A local chat model as a :class:`~tenantgate.providers.base.Backend`: queue, engine, OpenAI JSON.

Each request takes a slot from the :class:`Scheduler` (FIFO, bounded, with a deadline), then
runs on the engine's worker thread; events come back through an ``asyncio.Queue``. However
the caller goes away (the stream is closed, the task is cancelled, the generator is
collected) the ``finally`` sets the job's cancellation flag, the worker stops before its next
token, and the slot is released the moment the worker returns, so the next queued request
starts at once. A model idle for ``idle_unload_s`` is unloaded and reloads on next use.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import Any

from tenantgate.errors import InternalError, LocalModelUnavailable, TenantgateError
from tenantgate.local.chat_engine import (
    ChatEngine,
    Delta,
    Emit,
    EngineEvent,
    Failed,
    Finished,
)
from tenantgate.local.chat_wire import (
    AnswerHead,
    closing_chunk,
    content_chunk,
    full_answer,
    opening_chunk,
    usage_chunk,
)
from tenantgate.local.generation_request import (
    OPENAI_DEFAULTS,
    GenerationDefaults,
    GenerationRequest,
    parse_generation_request,
)
from tenantgate.local.scheduler import Scheduler, Slot
from tenantgate.providers.base import (
    Capabilities,
    DeploymentInfo,
    Operation,
    Reply,
    StreamPiece,
)

logger = logging.getLogger("tenantgate.local")

CHAT_CAPABILITIES = Capabilities(
    operations=frozenset({Operation.CHAT, Operation.COMPLETION}),
    streaming=True,
    tools=False,
    logprobs=False,
    usage_in_stream=True,
)


class LocalChatBackend:
    """Chat and legacy completions answered by an in-process llama.cpp model.

    ``engines`` are instances of one model, each with its own context and worker thread; the
    scheduler has one slot per instance, so a request that holds a slot always finds an idle
    instance. llama.cpp maps the weights, so instances share them and add only a KV cache.
    """

    def __init__(
        self,
        *,
        info: DeploymentInfo,
        engines: Sequence[ChatEngine],
        scheduler: Scheduler,
        idle_unload_s: int = 0,
        defaults: GenerationDefaults = OPENAI_DEFAULTS,
    ) -> None:
        self.info = info
        self.defaults = defaults
        self.capabilities = CHAT_CAPABILITIES
        if not engines:
            raise ValueError("a local chat backend needs at least one engine")
        self.engines = tuple(engines)
        self._idle_engines: deque[ChatEngine] = deque(self.engines)
        self.scheduler = scheduler
        self._idle_unload_s = idle_unload_s
        self._running: set[threading.Event] = set()
        self._uses = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def engine(self) -> ChatEngine:
        """The first instance (the only one unless ``instances`` > 1)."""
        return self.engines[0]

    async def warm_up(self) -> None:
        """Load every instance now (for ``local.load: startup``) instead of on first use."""
        await asyncio.gather(
            *(asyncio.wrap_future(engine.submit(engine.load)) for engine in self.engines)
        )

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Reply:
        request = parse_generation_request(operation, body, self.defaults)
        head = AnswerHead.new(operation, str(body.get("model") or self.info.model_name))
        parts: list[str] = []
        async with aclosing(self._events(request)) as events:
            async for event in events:
                if isinstance(event, Delta):
                    parts.append(event.text)
                else:
                    return Reply(full_answer(head, "".join(parts), event.finish_reason,
                                             event.usage), event.usage)
        raise InternalError("The local engine ended without an answer.")

    async def stream(
        self, operation: Operation, body: dict[str, Any]
    ) -> AsyncGenerator[StreamPiece, None]:
        request = parse_generation_request(operation, body, self.defaults)
        head = AnswerHead.new(operation, str(body.get("model") or self.info.model_name))
        opened = False
        async with aclosing(self._events(request)) as events:
            async for event in events:
                if not opened:
                    opened = True
                    opening = opening_chunk(head)
                    if opening is not None:
                        yield StreamPiece(opening)
                if isinstance(event, Delta):
                    yield StreamPiece(content_chunk(head, event.text))
                    continue
                yield StreamPiece(closing_chunk(head, event.finish_reason), finished_choices=1)
                yield StreamPiece(usage_chunk(head, event.usage), usage=event.usage,
                                  usage_only=True)
                return

    async def aclose(self) -> None:
        """Stop running jobs, unload the model and stop the worker thread."""
        if self._closed:
            return
        self._closed = True
        for cancel in list(self._running):
            cancel.set()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        try:
            await asyncio.gather(
                *(asyncio.wrap_future(engine.submit(engine.unload)) for engine in self.engines)
            )
        finally:
            for engine in self.engines:
                engine.shutdown()

    async def _events(self, request: GenerationRequest) -> AsyncGenerator[Delta | Finished, None]:
        """Run one request through the queue and the worker; yields until Finished."""
        if self._closed:
            raise LocalModelUnavailable("The local model is shutting down.")
        slot = await self.scheduler.acquire()
        engine = self._idle_engines.popleft()  # one slot per engine: never empty here
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[EngineEvent] = asyncio.Queue()
        cancel = threading.Event()
        emit = _emitter(loop, queue, cancel)
        try:
            job = engine.submit(lambda: engine.run(request, cancel, emit))
        except RuntimeError as exc:  # the executor was shut down
            self._idle_engines.append(engine)
            slot.release()
            raise LocalModelUnavailable("The local model is shutting down.") from exc
        self._running.add(cancel)
        job.add_done_callback(
            lambda _f: _call_soon(loop, self._job_done, slot, engine, cancel)
        )
        try:
            while True:
                event = await queue.get()
                if isinstance(event, Failed):
                    raise _as_gateway_error(event.error)
                yield event
                if isinstance(event, Finished):
                    return
        finally:
            cancel.set()

    def _job_done(self, slot: Slot, engine: ChatEngine, cancel: threading.Event) -> None:
        self._idle_engines.append(engine)
        slot.release()
        self._running.discard(cancel)
        self._uses += 1
        if self._idle_unload_s <= 0 or self._closed:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(self._idle_unload_s, self._unload_if_idle, self._uses)

    def _unload_if_idle(self, uses: int) -> None:
        if uses != self._uses or self._running or self.scheduler.busy or self._closed:
            return
        for engine in self.engines:
            if engine.loaded:
                engine.submit(engine.unload)


def _emitter(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[EngineEvent],
             cancel: threading.Event) -> Emit:
    """A thread-safe emit: the worker hands each event to the loop that awaits it."""

    def emit(event: EngineEvent) -> None:
        if not _call_soon(loop, queue.put_nowait, event):
            cancel.set()  # the loop is gone: nobody is listening any more

    return emit


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> bool:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        return False
    return True


def _as_gateway_error(error: BaseException) -> TenantgateError:
    if isinstance(error, TenantgateError):
        return error
    logger.error("local engine failed", exc_info=error)
    return InternalError("The local model failed while generating.")

"""One claimed idempotent request: run it, keep its lease, then complete or release its record.

Private to ``tenantgate.api.idempotency``, which decides whether a request runs at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from tenantgate.api.http import ApiResponse, JsonResponse, StreamResponse, error_response
from tenantgate.errors import TenantgateError
from tenantgate.idempotency.model import StoredResponse, is_replayable
from tenantgate.idempotency.store import Claim, IdempotencyStore
from tenantgate.pipeline import DONE_FRAME
from tenantgate.settings import IdempotencySettings

logger = logging.getLogger("tenantgate.api.idempotency")

_KEPT_HEADERS = frozenset({b"x-tenantgate-cost", b"cache-control", b"x-accel-buffering"})
_SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
_background: set[asyncio.Task[Any]] = set()
T = TypeVar("T")

Work = Callable[[], Awaitable[ApiResponse]]


class Attempt:
    """A claimed request: runs it, keeps its lease alive, then completes or releases its record.

    Exactly one of complete and release happens (``_settled``). Completion is shielded from
    cancellation: once an answer exists (and was charged) it is kept even if the client
    leaves while it is being written.
    """

    def __init__(self, store: IdempotencyStore, claim: Claim, settings: IdempotencySettings) -> None:
        self._store = store
        self._claim = claim
        self._lease_s = settings.lease_s
        self._max_body_bytes = settings.max_body_bytes
        self._settled = False
        self._renewal = spawn(self._keep_leased())

    async def run(self, work: Work) -> ApiResponse:
        """Run the route; keep a final JSON answer now, a stream's once it reaches ``[DONE]``."""
        try:
            try:
                response = await work()
            except TenantgateError as error:
                response = error_response(error)  # rendered here so 4xx answers can be kept
        except BaseException:
            self._abandon()  # a bug, a disconnect or a cancellation: nothing to replay
            raise
        if isinstance(response, StreamResponse):
            return self._tee(response)
        if is_replayable(response.status):
            await self._complete(_stored_json(response, self._max_body_bytes))
        else:
            await self._release_now()
        return response

    def _tee(self, response: StreamResponse) -> StreamResponse:
        inner_close = response.on_close

        def on_close() -> None:
            try:
                if inner_close is not None:
                    inner_close()
            finally:
                self._abandon()  # no-op after [DONE]; covers a stream never pulled at all

        frames = self._frames(response.frames, response.headers)
        return StreamResponse(frames=frames, on_close=on_close, headers=response.headers)

    async def _frames(
        self, frames: AsyncIterator[bytes], headers: list[tuple[bytes, bytes]]
    ) -> AsyncIterator[bytes]:
        """The frames as sent, teed; only a stream that reaches ``[DONE]`` is kept."""
        kept: list[bytes] | None = []
        size = 0
        ended = False
        try:
            async for frame in frames:
                if kept is not None:
                    size += len(frame)
                    if size <= self._max_body_bytes:
                        kept.append(frame)
                    else:
                        kept = None  # too large to keep: only "it completed" is recorded
                if frame == DONE_FRAME:
                    transcript = None if kept is None else b"".join(kept)
                    await self._complete(None if transcript is None else _stored_stream(transcript, headers))
                yield frame
            ended = True
        finally:
            close = getattr(frames, "aclose", None)
            if close is not None:
                await close()
            if ended:
                await self._release_now()  # e.g. an error event: released before the client sees the end
            self._abandon()

    async def _complete(self, response: StoredResponse | None) -> None:
        if self._settled:
            return
        self._settle()
        await asyncio.shield(spawn(self._write(response)))

    def _abandon(self) -> None:
        """Release in the background (from cancellations and callbacks, which cannot wait)."""
        if not self._settled:
            self._settle()
            spawn(self._release())

    async def _release_now(self) -> None:
        """Release before answering, so the client's immediate retry finds the key free."""
        if not self._settled:
            self._settle()
            await asyncio.shield(spawn(self._release()))

    def _settle(self) -> None:
        self._settled = True
        self._renewal.cancel()

    async def _write(self, response: StoredResponse | None) -> None:
        try:
            await self._store.complete(self._claim, response)
        except Exception:  # the answer still goes out; a retry runs again once the lease ends
            logger.warning("storing an idempotent answer failed", exc_info=True)
            await self._release()

    async def _release(self) -> None:
        await release(self._store, self._claim)

    async def _keep_leased(self) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                if not await self._store.renew(self._claim, lease_s=self._lease_s):
                    return
            except Exception:  # the next renewal tries again before the lease ends
                logger.warning("renewing an idempotency lease failed", exc_info=True)


def _stored_json(response: JsonResponse, max_body_bytes: int) -> StoredResponse | None:
    if len(response.body) > max_body_bytes:
        return None
    headers = (("content-type", response.content_type.decode("latin-1")), *_kept(response.headers))
    return StoredResponse(response.status, headers, response.body)


def _stored_stream(transcript: bytes, headers: list[tuple[bytes, bytes]]) -> StoredResponse:
    return StoredResponse(200, (("content-type", _SSE_CONTENT_TYPE), *_kept(headers)), transcript)


def _kept(headers: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    return tuple((name.decode("latin-1"), value.decode("latin-1"))
                 for name, value in headers if name in _KEPT_HEADERS)


async def release(store: IdempotencyStore, claim: Claim) -> None:
    """Delete ``claim``'s record so a retry runs; a failure only logs (the lease runs out instead)."""
    try:
        await store.release(claim)
    except Exception:
        logger.warning("releasing an idempotency claim failed", exc_info=True)


def spawn(work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run ``work`` in the background, holding a reference until it ends (asyncio keeps none)."""
    task = asyncio.get_running_loop().create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task

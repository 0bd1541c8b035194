"""``Idempotency-Key`` on the inference routes: claim the key, run once, keep the answer, replay it.

Only requests that send the header come here (``app.py`` checks with one dict lookup). The
first request runs as usual, and its answer is stored before the client can have read it
all: a JSON answer before it is sent, a stream's transcript when its ``data: [DONE]`` is
reached. A replay never enters the pipeline, so it makes no upstream call, takes no credits
hold and charges nothing. What is kept and what is not: ``docs/idempotency.md``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from tenantgate.api._idempotent_attempt import Attempt, Work, release, spawn
from tenantgate.api.http import ApiRequest, ApiResponse, JsonResponse, StreamResponse
from tenantgate.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    IdempotencyReplayUnavailable,
    ServiceUnavailable,
)
from tenantgate.idempotency.model import (
    Conflict,
    Mismatch,
    Replay,
    StoredResponse,
    fingerprint,
    parse_key,
    scope_of,
)
from tenantgate.idempotency.store import Claim, ClaimResult, IdempotencyStore
from tenantgate.settings import IdempotencySettings
from tenantgate.storage import StorageError

logger = logging.getLogger("tenantgate.api.idempotency")

IDEMPOTENCY_KEY_HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")


class IdempotencyGuard:
    """Runs an inference route under an ``Idempotency-Key``: once per (principal, key)."""

    def __init__(self, store: IdempotencyStore, settings: IdempotencySettings) -> None:
        self._store = store
        self._settings = settings
        self._next_purge_at = 0.0

    async def run(self, request: ApiRequest, raw_key: bytes, work: Work) -> ApiResponse:
        """Answer ``request``: run ``work`` if this key is new, else replay or refuse."""
        key = parse_key(raw_key)
        principal = request.caller.principal
        scope = scope_of(principal.type, principal.id)
        request_fingerprint = fingerprint(
            request.method, request.path, request.caller.compartment, request.body
        )
        self._maybe_purge()
        settings = self._settings
        claiming = spawn(self._store.claim(
            scope, key, request_fingerprint, lease_s=settings.lease_s, ttl_s=settings.ttl_s
        ))
        try:
            result = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            # The client left mid-claim: a claim that commits anyway is released, not left to its lease.
            claiming.add_done_callback(self._release_if_claimed)
            raise
        except StorageError as exc:
            raise ServiceUnavailable(
                "The idempotency records are unavailable; retry shortly.", retry_after_s=1
            ) from exc
        if isinstance(result, Claim):
            return await Attempt(self._store, result, settings).run(work)
        if isinstance(result, Replay):
            return replay_response(result.response)
        if isinstance(result, Conflict):
            raise IdempotencyKeyInProgress(retry_after_s=result.retry_after_s)
        if isinstance(result, Mismatch):
            raise IdempotencyKeyReused()
        raise IdempotencyReplayUnavailable()

    def _release_if_claimed(self, claiming: asyncio.Task[ClaimResult]) -> None:
        if not claiming.cancelled() and claiming.exception() is None:
            result = claiming.result()
            if isinstance(result, Claim):
                spawn(release(self._store, result))

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now >= self._next_purge_at:
            self._next_purge_at = now + self._settings.purge_interval_s
            spawn(self._purge())

    async def _purge(self) -> None:
        try:
            deleted = await self._store.purge_expired()
        except Exception:  # housekeeping: the next interval tries again
            logger.warning("purging expired idempotency records failed", exc_info=True)
            return
        if deleted:
            logger.info("purged expired idempotency records", extra={"deleted": deleted})


def replay_response(stored: StoredResponse) -> ApiResponse:
    """The stored answer again, byte for byte, marked ``Idempotent-Replayed: true``."""
    headers = [(name.encode("latin-1"), value.encode("latin-1"))
               for name, value in stored.headers if name != "content-type"]
    headers.append(REPLAYED_HEADER)
    if stored.is_stream:
        return StreamResponse(frames=_once(stored.body), headers=headers)
    return JsonResponse(stored.status, stored.body, headers, stored.content_type.encode("latin-1"))


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body



"""Counters in Redis, shared by every replica: one atomic script call per admission.

Admission is one round trip (``EVALSHA`` of ``_redis_scripts.ADMIT``), so N replicas admit
exactly a limit, never N times it. Calls that arrive while an admission is on the wire are
group-committed: they go together in the next script call, so a busy replica pays one round
trip per batch, not per call, and an idle one adds no wait. Ending a call (slot release,
token correction) is sent the same way in the background: the answer never waits for it.
Concurrency slots carry a lease that this replica renews while its calls run, so a crashed
replica's slots come back once their lease ends. Redis errors are mapped here, once, to ``StoreUnavailable``.

All of a call's keys go to one script, so Redis Cluster (keys in different hash slots) is not
supported; use one Redis, with replicas or Sentinel for availability.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tenantgate.background import stop_tasks
from tenantgate.ratelimit._redis_scripts import ADMIT, FINISH, RENEW
from tenantgate.ratelimit.rules import Limit, LimitKind
from tenantgate.ratelimit.store import Correction, StoreUnavailable, Verdict
from tenantgate.ratelimit.window import WINDOW_MS

logger = logging.getLogger("tenantgate.ratelimit")
_RENEW_BATCH = 500
_BATCH_MAX = 256
"""Most admissions (or finishes) in one script call; more wait for the next round trip."""
_FAILURES = (RedisError, OSError, TimeoutError)
_Queued = tuple[str, Sequence[Limit], Sequence[int], "asyncio.Future[Verdict]"]


class RedisStore:
    """The shared store; ``prefix`` namespaces its keys (one per deployment, or per test)."""

    def __init__(
        self, url: str, *, prefix: str, timeout_ms: int, lease_ms: int, slot_max_ms: int,
        clock_ms: Callable[[], int], on_error: Callable[[str, BaseException], None],
        window_ms: int = WINDOW_MS,
    ) -> None:
        timeout_s = timeout_ms / 1000
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=False
        )
        self._admit = self._redis.register_script(ADMIT)
        self._finish = self._redis.register_script(FINISH)
        self._renew = self._redis.register_script(RENEW)
        self._prefix = prefix
        self._window_ms = window_ms
        self._lease_ms = lease_ms
        self._slot_max_ms = slot_max_ms
        self._clock_ms = clock_ms
        self._on_error = on_error
        self._held: dict[str, tuple[list[str], int]] = {}
        """Admissions holding slots here: their slot keys and when they were admitted."""
        self._background: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._admissions: list[_Queued] = []
        self._admitting = False
        self._finishes: list[tuple[tuple[str, str, int, int], str]] = []
        self._finishing = False

    async def start(self) -> None:
        self._renewer = asyncio.create_task(self._renew_forever())

    async def aclose(self) -> None:
        await stop_tasks(self._renewer)
        await self.flush()
        await self._redis.aclose()

    async def flush(self) -> None:
        """Wait for the finishes still being sent (at shutdown, and in tests)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def admit(self, admission_id: str, limits: Sequence[Limit], costs: Sequence[int]) -> Verdict:
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._admissions.append((admission_id, limits, costs, future))
        if not self._admitting:
            self._admitting = True
            self._spawn(self._send_admissions())
        return await future

    async def _send_admissions(self) -> None:
        """Group commit: one script call for every admission that queued while the last was out."""
        try:
            while self._admissions:
                batch, self._admissions = self._admissions[:_BATCH_MAX], self._admissions[_BATCH_MAX:]
                try:
                    await self._admit_batch(batch)
                except Exception:  # a bug, not Redis: log it and keep serving the queue
                    logger.exception("rate-limit admission batch failed")
                finally:  # whatever went wrong, no caller is left waiting forever
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(StoreUnavailable("the admission was not answered"))
        finally:
            self._admitting = False

    async def _admit_batch(self, batch: list[_Queued]) -> None:
        keys: list[str] = []
        args: list[str | int] = [self._window_ms, self._lease_ms]
        for admission_id, limits, costs, _ in batch:
            args += [admission_id, len(limits)]
            for limit, cost in zip(limits, costs, strict=True):
                key = self._prefix + limit.counter
                if limit.kind is LimitKind.CONCURRENT:
                    keys.append(key)
                    args += ["c", limit.limit, 1]
                else:
                    keys += [key, self._prefix + "sum|" + limit.counter]
                    args += ["w", limit.limit, cost]
        try:
            reply: list[Any] = await self._admit(keys=keys, args=args)
        except _FAILURES as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(StoreUnavailable(f"{type(exc).__name__}: {exc}"))
            return
        at = 0
        for admission_id, limits, costs, future in batch:
            values = [int(value) for value in reply[at : at + 2 + 2 * len(limits)]]
            at += 2 + 2 * len(limits)
            verdict = Verdict(bool(values[0]), values[1], tuple(values[2::2]), tuple(values[3::2]))
            self._settle(admission_id, limits, costs, verdict, future)

    def _settle(self, admission_id: str, limits: Sequence[Limit], costs: Sequence[int],
                verdict: Verdict, future: asyncio.Future[Verdict]) -> None:
        """Hand the verdict over; an admission whose caller is gone is ended at once."""
        slots = [self._prefix + limit.counter for limit in limits if limit.kind is LimitKind.CONCURRENT]
        if verdict.admitted and slots:
            self._held[admission_id] = (slots, self._clock_ms())
        if not future.cancelled():
            future.set_result(verdict)
        elif verdict.admitted:
            pairs = zip(limits, costs, strict=True)
            corrections = [Correction(limit.counter, cost, 0) for limit, cost in pairs
                           if limit.kind is LimitKind.TOKENS]
            self.finish(admission_id, corrections,
                        [limit.counter for limit in limits if limit.kind is LimitKind.CONCURRENT])

    def finish(self, admission_id: str, corrections: Sequence[Correction], slots: Sequence[str]) -> None:
        self._held.pop(admission_id, None)
        for correction in corrections:
            if correction.actual != correction.estimate:
                self._finishes.append((("w", admission_id, correction.estimate, correction.actual),
                                       correction.counter))
        for counter in slots:
            self._finishes.append((("c", admission_id, 0, 0), counter))
        if self._finishes and not self._finishing:
            self._finishing = True
            self._spawn(self._send_finishes())

    async def _send_finishes(self) -> None:
        """Every finish queued so far in one script call, in the background of the answers."""
        try:
            await asyncio.sleep(0)  # let the other calls ending in this loop turn join
            while self._finishes:
                batch, self._finishes = self._finishes[:_BATCH_MAX], self._finishes[_BATCH_MAX:]
                keys: list[str] = []
                args: list[str | int] = []
                for group, counter in batch:
                    keys.append(self._prefix + counter)
                    if group[0] == "w":
                        keys.append(self._prefix + "sum|" + counter)
                    args += group
                try:
                    await self._finish(keys=keys, args=args)
                except _FAILURES as exc:  # slots' leases end by themselves; corrections are lost
                    self._on_error("finish", exc)
                except Exception:
                    logger.exception("rate-limit finish batch failed")
        finally:
            self._finishing = False

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _renew_forever(self) -> None:
        interval_s = self._lease_ms / 3000
        while True:
            await asyncio.sleep(interval_s)
            await self.renew_leases()

    async def renew_leases(self) -> None:
        """Extend the lease of every slot this replica holds, up to ``slot_max`` after admission."""
        now = self._clock_ms()
        pairs: list[tuple[str, str]] = []
        for admission_id, (keys, since) in list(self._held.items()):
            if now - since >= self._slot_max_ms:
                del self._held[admission_id]  # never ended: let its lease run out
                continue
            pairs += [(key, admission_id) for key in keys]
        for start in range(0, len(pairs), _RENEW_BATCH):
            batch = pairs[start : start + _RENEW_BATCH]
            try:
                await self._renew(keys=[key for key, _ in batch],
                                  args=[self._lease_ms, *(held for _, held in batch)])
            except _FAILURES as exc:
                self._on_error("renew", exc)
                return

    async def ping(self) -> bool:
        """Whether Redis answers (for readiness and tests)."""
        try:
            return bool(await self._redis.ping())
        except _FAILURES:
            return False

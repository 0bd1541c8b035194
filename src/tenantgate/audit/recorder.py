"""``AuditRecorder``: the gateway's audit writer, off the request path and group-committed.

``record`` only enqueues, so a request never waits on the database. One background task
drains the queue in order and appends each batch in one transaction (up to
``batch_size_max`` entries, or what arrived within ``batch_linger_ms`` of the first), so a
flood of requests costs a few transactions, not one each.

Memory is bounded: when the queue is full ``record`` drops the entry, counts it in
``dropped`` and logs an error (once per streak of drops, then every 1,000). A batch that
fails to write is retried with capped exponential backoff, holding back later batches so
order is kept; after ``write_attempts_max`` failures it is given up, counted in ``lost``
and logged. ``record_now`` and ``flush`` travel through the same queue, so they see the
same order, and cut the linger short because someone is waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenantgate.audit.model import AuditEntry, AuditEvent
from tenantgate.audit.store import AuditStore
from tenantgate.errors import AuditUnavailable

logger = logging.getLogger("tenantgate.audit")

Sleep = Callable[[float], Awaitable[None]]
_DROP_LOG_EVERY = 1_000


@dataclass(slots=True)
class _Item:
    """A queued entry, a flush barrier (no entry), or the stop signal (neither)."""

    entry: AuditEntry | None = None
    waiter: asyncio.Future[AuditEvent | None] | None = None
    lost_before: int = 0
    stop: bool = False


class AuditRecorder:
    """Queues audit entries and writes them in order, in batches, from one background task."""

    def __init__(
        self,
        store: AuditStore,
        *,
        queue_size_max: int = 10_000,
        batch_size_max: int = 500,
        batch_linger_ms: float = 50.0,
        write_attempts_max: int = 5,
        retry_delay_ms: float = 100.0,
        retry_delay_max_ms: float = 2_000.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if queue_size_max < 1 or batch_size_max < 1 or write_attempts_max < 1:
            raise ValueError("queue_size_max, batch_size_max and write_attempts_max must be positive")
        self._store = store
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_size_max)
        self._batch_size_max = batch_size_max
        self._linger_s = batch_linger_ms / 1000
        self._attempts_max = write_attempts_max
        self._retry_delay_s = retry_delay_ms / 1000
        self._retry_delay_max_s = retry_delay_max_ms / 1000
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._drop_streak = 0
        self.dropped = 0
        """Entries refused because the queue was full or the recorder closed."""
        self.lost = 0
        """Entries accepted but given up after every write attempt failed."""
        self.batches_written = 0
        """Transactions committed: with group commit, far fewer than entries."""

    def start(self) -> None:
        """Start the background writer on the running loop; call once at startup."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-recorder")

    def record(self, entry: AuditEntry) -> None:
        """Queue ``entry`` without waiting; drop it (counted and logged) if the queue is full."""
        if self._closing:
            self._drop(entry, "the recorder is closed")
            return
        try:
            self._queue.put_nowait(_Item(entry=entry))
        except asyncio.QueueFull:
            self._drop(entry, "the queue is full")

    async def record_now(self, entry: AuditEntry) -> AuditEvent:
        """Append ``entry`` in queue order and return once it is durable (for admin changes).

        Waits for queue space instead of dropping; raises ``AuditUnavailable`` if the
        recorder is closed or the write is given up, so the caller can refuse the change.
        """
        result = await self._enqueue_and_wait(_Item(entry=entry))
        assert result is not None
        return result

    async def flush(self) -> None:
        """Return once everything queued before this call is durable; ``AuditUnavailable`` if lost."""
        await self._enqueue_and_wait(_Item(lost_before=self.lost))

    async def aclose(self) -> None:
        """Flush, then stop the writer; later ``record`` calls are dropped. Safe to call twice.

        While the database is down this waits out each queued batch's retries.
        """
        if not self._closing:
            self._closing = True
            self.start()  # never started: still write what was queued
            await self._queue.put(_Item(stop=True))
        assert self._task is not None
        await self._task

    async def _enqueue_and_wait(self, item: _Item) -> AuditEvent | None:
        if self._closing or self._task is None:
            raise AuditUnavailable("The audit recorder is not running.")
        item.waiter = asyncio.get_running_loop().create_future()
        await self._queue.put(item)
        return await item.waiter

    def _drop(self, entry: AuditEntry, reason: str) -> None:
        self.dropped += 1
        self._drop_streak += 1
        if self._drop_streak == 1 or self._drop_streak % _DROP_LOG_EVERY == 0:
            logger.error(
                "audit entry dropped: %s (action %s; %d dropped so far)",
                reason, entry.action, self.dropped,
                extra={"audit_dropped": self.dropped},
            )

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            await self._write(batch)
            if batch[-1].stop:
                return

    async def _next_batch(self) -> list[_Item]:
        """The next items in order, ending at a size cap, the linger deadline, a waiter or stop."""
        batch = [await self._queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger_s
        while not _closes_batch(batch[-1]) and len(batch) < self._batch_size_max:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining_s = deadline - loop.time()
            if remaining_s <= 0:
                break
            try:
                async with asyncio.timeout(remaining_s):
                    batch.append(await self._queue.get())
            except TimeoutError:
                break
        return batch

    async def _write(self, batch: list[_Item]) -> None:
        entries = [item.entry for item in batch if item.entry is not None]
        events: list[AuditEvent] = []
        failed_attempts = 0
        while entries:
            try:
                events = await self._store.append(entries)
                break
            except Exception as exc:  # any failure means "not durable"; the type only goes to the log
                failed_attempts += 1
                if failed_attempts >= self._attempts_max:
                    self._give_up(batch, len(entries), exc)
                    return
                delay_s = min(self._retry_delay_max_s, self._retry_delay_s * 2 ** (failed_attempts - 1))
                logger.warning("audit batch of %d failed (%s: %s); retry %d in %.2fs",
                               len(entries), type(exc).__name__, exc, failed_attempts, delay_s)
                await self._sleep(delay_s)
        if entries:
            self.batches_written += 1
            self._drop_streak = 0
        self._settle(batch, events)

    def _settle(self, batch: list[_Item], events: list[AuditEvent]) -> None:
        written = iter(events)
        for item in batch:
            event = next(written) if item.entry is not None else None
            if item.waiter is None or item.waiter.done():
                continue
            if item.entry is None and self.lost > item.lost_before:
                item.waiter.set_exception(AuditUnavailable("Audit entries queued before flush were lost."))
            else:
                item.waiter.set_result(event)

    def _give_up(self, batch: list[_Item], count: int, exc: Exception) -> None:
        self.lost += count
        logger.error("audit batch of %d lost after %d attempts (%s: %s); %d lost so far",
                     count, self._attempts_max, type(exc).__name__, exc, self.lost,
                     extra={"audit_lost": self.lost})
        for item in batch:
            if item.waiter is not None and not item.waiter.done():
                error = AuditUnavailable("The audit trail could not be written.")
                error.__cause__ = exc
                item.waiter.set_exception(error)


def _closes_batch(item: _Item) -> bool:
    """Someone waits on this item (or it is the stop signal): write what we have now."""
    return item.waiter is not None or item.stop

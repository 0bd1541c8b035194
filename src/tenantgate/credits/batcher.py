"""Group commit for the ledger: many requests' transfers in one database transaction.

Every request that waits for a hold puts its chain here; one background task takes
everything queued (waiting up to ``linger_ms`` for more, at most ``batch_max`` transfers)
and sends it to ``LedgerStore.create_transfers`` as one batch. Chains of different requests
are independent in the ledger (a failed chain fails only itself), so batching changes no
outcome, only the number of transactions: one per batch instead of one per request.

A submission may bring its own writes (``also``): they run in the batch's transaction, so
the usage records of a settlement commit exactly when its transfers do.

Settlements are queued the same way but not awaited by the request (``submit_nowait``);
``flush`` waits for everything queued so far, and ``aclose`` flushes before stopping, so a
clean shutdown loses nothing. A crash loses only queued settlements, whose holds then
expire (see docs/credits.md). A failed batch write is retried with backoff; the transfer
ids make a retry of a batch that did commit a harmless ``exists``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.background import stop_tasks
from tenantgate.ledger import LedgerStore, Transfer, TransferResult
from tenantgate.ledger.model import TransferRecord
from tenantgate.ledger.store import AlsoWrite

logger = logging.getLogger("tenantgate.credits")

_RETRY_DELAYS_S = (0.05, 0.2, 1.0, 2.0, 5.0)


@dataclass(slots=True)
class _Submission:
    transfers: list[Transfer]
    done: asyncio.Future[list[TransferResult]] | None
    also: AlsoWrite | None = None
    results: list[TransferResult] = field(default_factory=list)


class LedgerBatcher:
    """Queues transfer chains and writes them in batches from one task."""

    def __init__(self, ledger: LedgerStore, *, linger_ms: float = 2.0, batch_max: int = 2000) -> None:
        self._ledger = ledger
        self._linger_s = linger_ms / 1000
        self._batch_max = batch_max
        self._queue: asyncio.Queue[_Submission] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches_written = 0
        self.lost = 0
        """Transfers given up after every retry failed (their holds expire)."""

    def start(self) -> None:
        """Start the writer on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tenantgate-ledger-batcher")

    async def submit(
        self, transfers: Sequence[Transfer], *, also: AlsoWrite | None = None
    ) -> list[TransferResult]:
        """Queue a chain and wait until its batch committed; the chain's results, in order."""
        done: asyncio.Future[list[TransferResult]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Submission(list(transfers), done, also))
        return await asyncio.shield(done)

    def submit_nowait(self, transfers: Sequence[Transfer], *, also: AlsoWrite | None = None) -> None:
        """Queue a chain without waiting (settlements): the response need not wait for the ledger."""
        self._queue.put_nowait(_Submission(list(transfers), None, also))

    async def flush(self) -> None:
        """Wait until everything queued before this call is written."""
        await self.submit([])

    async def aclose(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        with contextlib.suppress(Exception):
            await self.flush()
        await stop_tasks(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self._linger_s > 0:
                await asyncio.sleep(self._linger_s)
            size = len(batch[0].transfers)
            while size < self._batch_max and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item.transfers)
            await self._write(batch)

    async def _write(self, batch: list[_Submission]) -> None:
        transfers = [t for item in batch for t in item.transfers]
        also = _combined([item.also for item in batch if item.also is not None])
        for attempt, delay in enumerate((0.0, *_RETRY_DELAYS_S)):
            if delay:
                await asyncio.sleep(delay)
            try:
                results = await self._ledger.create_transfers(transfers, also=also)
            except Exception as exc:
                logger.warning("ledger batch failed; retrying", extra={
                    "attempt": attempt + 1, "transfers": len(transfers), "error": repr(exc)})
                last = exc
                continue
            self.batches_written += 1
            self._settle(batch, results)
            return
        self.lost += len(transfers)
        logger.error("ledger batch given up; its holds will expire",
                     extra={"transfers": len(transfers), "error": repr(last)})
        for item in batch:
            if item.done is not None and not item.done.done():
                item.done.set_exception(last)

    @staticmethod
    def _settle(batch: list[_Submission], results: list[TransferResult]) -> None:
        offset = 0
        for item in batch:
            mine = results[offset:offset + len(item.transfers)]
            offset += len(item.transfers)
            if item.done is not None and not item.done.done():
                item.done.set_result(mine)


def _combined(writes: list[AlsoWrite]) -> AlsoWrite | None:
    """One ``also`` that runs each submission's own writes in order, or None when there are none."""
    if not writes:
        return None

    async def run_all(conn: AsyncConnection, created: Mapping[str, TransferRecord]) -> None:
        for write in writes:
            await write(conn, created)

    return run_all

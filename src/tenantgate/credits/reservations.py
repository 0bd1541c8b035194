"""A replica's credit leases, placed and rolled through the ledger (see ``leases`` for the model).

``reserve`` admits a request from a lease on its chain in memory, and only when no lease has
room places a new one. Placement is single-flight per chain: concurrent requests wait for
the same placement, and none starts a second one (a placement that succeeded after its
waiters had been refused would strand its room). A new lease has room for a growing number
of requests like the one that asked (8, 16, … up to ``lease_max_requests``); when the
ledger refuses that size, the lease is retried at exactly the request's amount and the
growth falls back, so near a limit leases shrink to single requests and a budget admits
exactly what it covers.

Every ``roll_interval_s`` each lease with settled requests posts them and re-reserves what it
still needs, one linked chain per lease, all leases of the tick in one group-committed batch
with their usage records. A lease unused for ``idle_s`` (nothing fits it any more) gives
back its free room, so a replica never sits on credits another replica could use for long.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence

from tenantgate.background import stop_tasks
from tenantgate.credits import hold_plan, leases
from tenantgate.credits.batcher import LedgerBatcher
from tenantgate.credits.hold_plan import HoldPlan
from tenantgate.credits.leases import Chain, Lease, LeaseBook, Roll
from tenantgate.credits.usage_table import booked_with
from tenantgate.ledger import CreateTransferResult

logger = logging.getLogger("tenantgate.credits")

LEASE_SHARE = 8
"""A new lease takes at most 1/8 of what the tightest account of its chain has free, so one
replica's lease never starves the others of a budget they share."""
TOP_UP_HEADROOM = 64
"""A roll tops a busy lease up only while its chain has 64 times the lease's size free: far from
every limit, where the room it holds can never be what another replica's request is refused for."""
FreeOf = Callable[[Sequence[str]], Awaitable[int | None]]
"""The least any of these accounts has free for holds (None: no limit), read from the ledger."""

_EXPIRED = frozenset({
    CreateTransferResult.PENDING_TRANSFER_EXPIRED,
    CreateTransferResult.PENDING_TRANSFER_NOT_FOUND,
    CreateTransferResult.PENDING_TRANSFER_ALREADY_VOIDED,
})


class ChainRefused(Exception):
    """The ledger refused to reserve ``amount`` on a chain: member ``index`` failed with ``code``."""

    def __init__(self, index: int, code: CreateTransferResult, amount: int) -> None:
        super().__init__(f"chain member {index} refused: {code.name}")
        self.index = index
        self.code = code
        self.amount = amount


class Reservations:
    """Leases per chain of accounts on one replica; admission in memory, the ledger in batches."""

    def __init__(
        self, batcher: LedgerBatcher, *, timeout_s: int, roll_interval_s: float, idle_s: float,
        lease_max_requests: int, monotonic: Callable[[], float] = time.monotonic,
        on_roll: Callable[[], None] | None = None, free_of: FreeOf | None = None,
    ) -> None:
        self._batcher = batcher
        self._timeout_s = timeout_s
        self._roll_interval_s = roll_interval_s
        self._idle_s = idle_s
        self._cap = lease_max_requests
        self._now = monotonic
        self._on_roll = on_roll
        self._free_of = free_of
        """Called at each roll before it commits, so other bookings can join the same batch."""
        self._books: dict[Chain, LeaseBook] = {}
        self._growing: dict[Chain, asyncio.Future[Lease]] = {}
        self._roller: asyncio.Task[None] | None = None
        self.lost_records = 0
        """Usage records whose lease expired before they were booked (their usage went unbilled)."""

    def start(self) -> None:
        if self._roller is None:
            self._roller = asyncio.create_task(self._roll_forever(), name="tenantgate-credit-leases")

    async def aclose(self) -> None:
        """Stop rolling, then book everything settled and give back every free credit."""
        await stop_tasks(self._roller)
        self._roller = None
        await self.roll(shrink_all=True)

    # Admission

    def admit_now(self, chain: Chain, amount: int) -> Lease | None:
        """A lease on ``chain`` with ``amount`` reserved, if one has room now (no await, no ledger)."""
        book = self._books.get(chain)
        return book.admit(amount, self._now()) if book is not None else None

    async def reserve(self, chain: Chain, amount: int) -> Lease:
        """A lease on ``chain`` with ``amount`` reserved for one request; ``ChainRefused`` if none can be."""
        book = self._books.get(chain)
        if book is None:
            book = self._books[chain] = LeaseBook(size_in_requests=min(8, self._cap))
        while True:  # each pass waits for one placement, which admits at least its own request
            lease = book.admit(amount, self._now())
            if lease is not None:
                return lease
            growing = self._growing.get(chain)
            if growing is None:
                return await self._grow_for(chain, book, amount)
            try:
                await asyncio.shield(growing)
            except ChainRefused as refused:
                if refused.amount <= amount:
                    raise

    async def _grow_for(self, chain: Chain, book: LeaseBook, amount: int) -> Lease:
        """Place a lease with ``amount`` taken for the caller, shared with requests that wait meanwhile."""
        task = asyncio.ensure_future(self._grow(chain, book, amount))
        self._growing[chain] = task
        task.add_done_callback(lambda done: self._growing.pop(chain, None) if self._growing.get(chain) is done
                               else None)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The caller left; the lease (if placed) must not keep its share reserved forever.
            task.add_done_callback(lambda done: _release_abandoned(done, amount))
            raise

    async def _grow(self, chain: Chain, book: LeaseBook, amount: int) -> Lease:
        budgets, commitment = chain
        size = book.grow_size(amount, self._cap)
        if size > amount and self._free_of is not None:
            free = await self._free_of((*budgets, commitment))
            if free is not None:
                share = free // LEASE_SHARE // amount * amount  # whole requests: no stranded remainder
                size = max(amount, min(size, share))
        for attempt in ((size, amount) if size > amount else (amount,)):
            plan = HoldPlan(new_id(), attempt, budgets, commitment)
            results = await self._batcher.submit(hold_plan.hold_transfers(plan, timeout_s=self._timeout_s))
            failed = first_failure([r.result for r in results])
            if failed is None:
                lease = Lease(plan, self._now(), unit=amount)
                lease.take(amount, self._now())
                book.add(lease)
                return lease
            index, code = failed
            if code is not CreateTransferResult.EXCEEDS_CREDITS:
                raise ChainRefused(index, code, amount)
            book.shrink_growth()
        raise ChainRefused(index, code, amount)

    # Rolls

    async def _roll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._roll_interval_s)
            try:
                await self.roll()
            except Exception as exc:  # the next tick retries; nothing is lost by waiting
                logger.warning("credit lease roll failed", extra={"error": repr(exc)})

    async def roll(self, *, shrink_all: bool = False) -> None:
        """Book what every lease's settled requests used; top up busy leases; shrink idle ones."""
        targets = {} if shrink_all else self._top_up_targets()
        free = await self._free_of_chains(list(targets))
        now = self._now()
        rolls: list[Roll] = []
        for chain, book in list(self._books.items()):
            for lease in book.leases:
                shrink = shrink_all or lease.retired or now - lease.last_used >= self._idle_s
                top_up = 0
                if not shrink and chain in free and lease is book.leases[-1]:
                    top_up = leases.top_up_amount(lease, target=targets[chain], free=free[chain],
                                                  headroom=TOP_UP_HEADROOM)
                planned = leases.plan_roll(
                    lease, shrink=shrink, new_hold_id=new_id(), timeout_s=self._timeout_s, top_up=top_up)
                if planned is not None:
                    rolls.append(planned)
            self._forget(chain, book)
        if self._on_roll is not None:
            self._on_roll()
        if rolls:
            await asyncio.gather(*(self._commit(roll) for roll in rolls))
        for chain, book in list(self._books.items()):
            self._forget(chain, book)

    def _top_up_targets(self) -> dict[Chain, int]:
        """Per chain whose newest lease needs refilling, the room it should have after the roll.

        Only the newest lease is topped up; older ones drain, go idle and close, so a busy chain
        settles on one lease per replica.
        """
        targets = {}
        for chain, book in self._books.items():
            if not book.leases:
                continue
            lease = book.leases[-1]
            target = leases.top_up_target(lease, (lease.unit or 1) * min(book.size_in_requests, self._cap))
            if leases.wants_top_up(lease, target):
                targets[chain] = target
        return targets

    async def _free_of_chains(self, chains: list[Chain]) -> dict[Chain, int | None]:
        """What each chain has free (its tightest account), read together; a chain whose read
        failed is left out (no top-up this roll)."""
        if not chains or self._free_of is None:
            return dict.fromkeys(chains)
        free_of = self._free_of
        found = await asyncio.gather(*(free_of((*budgets, commitment)) for budgets, commitment in chains),
                                     return_exceptions=True)
        return {chain: free for chain, free in zip(chains, found, strict=True)
                if not isinstance(free, BaseException)}

    async def _commit(self, roll: Roll) -> None:
        try:
            results = await self._batcher.submit(
                roll.transfers, also=booked_with(roll.records, roll.booking_id))
        except Exception:
            leases.roll_failed(roll, expired=False)
            raise
        failed = first_failure([r.result for r in results[:roll.chain_length]])
        if failed is not None and roll.top_up and failed[1] is CreateTransferResult.EXCEEDS_CREDITS:
            # A limit is near: book the roll without its top-up; the lease drains from now on.
            roll.lease.tops_up = False
            leases.roll_failed(roll, expired=False)
            again = leases.plan_roll(
                roll.lease, shrink=False, new_hold_id=new_id(), timeout_s=self._timeout_s)
            if again is not None:
                await self._commit(again)
            return
        await self._charge_unpaid_overages(roll, [r.result for r in results[roll.chain_length:]])
        if failed is None:
            leases.roll_committed(roll)
            return
        expired = failed[1] in _EXPIRED
        leases.roll_failed(roll, expired=expired)
        if expired:
            self.lost_records += len(roll.records) + len(roll.lease.records)
        logger.error("credit lease roll refused by the ledger", extra={
            "code": failed[1].name, "records": len(roll.records), "expired": expired})

    async def _charge_unpaid_overages(self, roll: Roll, results: list[CreateTransferResult]) -> None:
        """Book to ``tg:overage`` what a commitment could not pay beyond a request's hold."""
        budgets, commitment = roll.lease.plan.budget_accounts, roll.lease.plan.commitment_account
        per_overage = len(budgets) + 1
        unpaid = [
            hold_plan.overage_fallback(HoldPlan(hold_id, amount, budgets, commitment), overage)
            for i, (hold_id, amount, overage) in enumerate(roll.overages)
            if results[(i + 1) * per_overage - 1] is CreateTransferResult.EXCEEDS_CREDITS
        ]
        if unpaid:
            logger.warning("overage beyond the commitment booked as owed", extra={"overages": len(unpaid)})
            await self._batcher.submit(unpaid)

    def _forget(self, chain: Chain, book: LeaseBook) -> None:
        book.forget_closed()
        if not book.leases and chain not in self._growing:
            del self._books[chain]


def first_failure(results: list[CreateTransferResult]) -> tuple[int, CreateTransferResult] | None:
    """The member that failed a chain (the others say ``linked_event_failed``), if any."""
    if all(result.succeeded for result in results):
        return None
    for index, result in enumerate(results):
        if not result.succeeded and result is not CreateTransferResult.LINKED_EVENT_FAILED:
            return index, result
    return len(results) - 1, results[-1]


def _release_abandoned(done: asyncio.Future[Lease], amount: int) -> None:
    if not done.cancelled() and done.exception() is None:
        done.result().release(amount)


_prefix = os.urandom(8).hex()
_sequence = itertools.count()


def _new_prefix() -> None:
    global _prefix, _sequence
    _prefix, _sequence = os.urandom(8).hex(), itertools.count()


os.register_at_fork(after_in_child=_new_prefix)  # a forked worker must not repeat its parent's ids


def new_id() -> str:
    """Unique, never a caller's request id (a reused request id must not reuse a reservation).

    A random prefix per process (drawn again in a forked child) and a counter: as unique as
    random bytes for this purpose, at a fraction of the cost on the hot path.
    """
    return f"{_prefix}{next(_sequence):x}"

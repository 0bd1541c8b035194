"""Dedicated capacity: slots reserved per owner compartment, a shared remainder, a bounded queue.

A dedicated deployment with ``reservations`` has ``concurrent_requests_max`` slots. Each
reservation's slots belong to its owner compartment (and its descendants; the nearest
reservation wins); the rest are shared. An owner takes its reserved slots first, then idle
shared ones; any other caller takes only idle shared slots, never a reserved one, even an
idle one. When no slot is free a request may wait in a bounded queue with a deadline; a
freed slot goes to the oldest waiter that may use it, owners before others. A full queue
sheds others first: an arriving owner takes the place of the newest non-owner waiter.

The pipeline decides *whether* to wait (an owner with ``spill_over`` and any non-owner try
the next deployment first, when there is one); this module decides who gets a slot. Waits
are kept over a window so views report each reservation's p99. Event-loop confined: time
comes from the injected clock, waiting uses asyncio futures.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tenantgate.errors import DedicatedCapacityDeadlineExceeded, DedicatedCapacityShed
from tenantgate.providers.base import DeploymentInfo
from tenantgate.routing.residency import split_path
from tenantgate.settings.capacity import CapacityQueueSettings

DEDICATED_CAPACITY_ERRORS = (DedicatedCapacityShed, DedicatedCapacityDeadlineExceeded)
WAIT_WINDOW_S = 60.0
_WAITS_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Reservation:
    """Slots one owner compartment holds on one deployment."""

    path: tuple[str, ...]
    slots: int
    spill_over: bool = True


@dataclass(slots=True)
class Slot:
    """One admitted request's hold on the capacity; ``release`` it when the attempt ends."""

    capacity: DedicatedCapacity
    reservation: Reservation | None
    """The caller's reservation (None: a caller that owns none here)."""
    reserved: bool
    """Taken from the reservation itself, not from the shared slots."""
    released: bool = False

    def release(self) -> None:
        """Give the slot back (idempotent); a waiter may get it at once."""
        self.capacity.release(self)


@dataclass(frozen=True, slots=True)
class ReservationUsage:
    """One row of utilisation: a reservation, or (``compartment`` None) the shared slots."""

    compartment: str | None
    slots: int
    in_use: int
    queued: int
    wait_p99_ms: float | None
    """p99 of the waits for a slot over the last ``WAIT_WINDOW_S`` (None: no request yet)."""

    @property
    def utilisation(self) -> float:
        return self.in_use / self.slots if self.slots else 0.0


@dataclass(slots=True)
class _Waiter:
    reservation: Reservation | None
    future: asyncio.Future[Slot]
    since: float


@dataclass(slots=True)
class _Waits:
    """Recent waits of one row, as (when, seconds); trimmed to the window when read."""

    samples: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=_WAITS_KEPT))

    def p99_ms(self, now: float) -> float | None:
        while self.samples and self.samples[0][0] < now - WAIT_WINDOW_S:
            self.samples.popleft()
        if not self.samples:
            return None
        waits = sorted(wait for _, wait in self.samples)
        return round(waits[math.ceil(0.99 * len(waits)) - 1] * 1000, 3)


class DedicatedCapacity:
    """The slots of one dedicated deployment and the requests waiting for them."""

    def __init__(
        self, total: int, reservations: Iterable[Reservation], *, queue_max: int, queue_deadline_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.reservations = {r.path: r for r in reservations}
        self.shared = total - sum(r.slots for r in self.reservations.values())
        if self.shared < 0:
            raise ValueError("reservations hold more slots than the deployment has")
        self.queue_max = queue_max
        self.queue_deadline_s = queue_deadline_s
        self._clock = clock
        self._reserved_in_use = dict.fromkeys(self.reservations, 0)
        self._shared_in_use = 0
        self._waiters: list[_Waiter] = []
        self._waits: dict[tuple[str, ...] | None, _Waits] = {}

    def owner(self, path: tuple[str, ...] | None) -> Reservation | None:
        """The reservation of the compartment at ``path``: its own or its nearest ancestor's."""
        path = path or ()
        for length in range(len(path), -1, -1):
            reservation = self.reservations.get(path[:length])
            if reservation is not None:
                return reservation
        return None

    def may_spill(self, path: tuple[str, ...] | None) -> bool:
        """Whether a caller may go to another deployment rather than wait (non-owners always may)."""
        reservation = self.owner(path)
        return reservation is None or reservation.spill_over

    def try_acquire(self, path: tuple[str, ...] | None) -> Slot | None:
        """A slot now, or None when every slot this caller may use is taken."""
        reservation = self.owner(path)
        slot = self._take(reservation)
        if slot is not None:
            self._record(reservation, 0.0)
        return slot

    async def acquire(self, path: tuple[str, ...] | None) -> Slot:
        """A slot now or after waiting in the queue; raises when shed or past the deadline."""
        reservation = self.owner(path)
        slot = self._take(reservation)
        if slot is not None:
            self._record(reservation, 0.0)
            return slot
        waiter = self._enqueue(reservation)
        timer = asyncio.get_running_loop().call_later(self.queue_deadline_s, self._expire, waiter)
        try:
            return await waiter.future
        except BaseException:
            won = _slot_of(waiter.future)
            if won is not None:  # handed a slot just as the wait was cancelled: give it back
                won.release()
            self._drop(waiter)
            raise
        finally:
            timer.cancel()
            self._record(reservation, self._clock() - waiter.since)

    def release(self, slot: Slot) -> None:
        """Return ``slot`` to its pool and hand free slots to waiters (owners first)."""
        if slot.released:
            return
        slot.released = True
        if slot.reserved and slot.reservation is not None:
            self._reserved_in_use[slot.reservation.path] -= 1
        else:
            self._shared_in_use -= 1
        self._hand_over()

    def usage(self) -> list[ReservationUsage]:
        """Utilisation per reservation, then of the shared slots (its queue: non-owners)."""
        now = self._clock()
        rows = []
        for path, reservation in self.reservations.items():
            queued = sum(1 for w in self._waiters if w.reservation is reservation)
            rows.append(ReservationUsage("/".join(path), reservation.slots, self._reserved_in_use[path],
                                         queued, self._waits_of(path).p99_ms(now)))
        queued = sum(1 for w in self._waiters if w.reservation is None)
        rows.append(ReservationUsage(None, self.shared, self._shared_in_use, queued,
                                     self._waits_of(None).p99_ms(now)))
        return rows

    def _take(self, reservation: Reservation | None) -> Slot | None:
        if reservation is not None and self._reserved_in_use[reservation.path] < reservation.slots:
            self._reserved_in_use[reservation.path] += 1
            return Slot(self, reservation, reserved=True)
        if self._shared_in_use < self.shared:
            self._shared_in_use += 1
            return Slot(self, reservation, reserved=False)
        return None

    def _enqueue(self, reservation: Reservation | None) -> _Waiter:
        if len(self._waiters) >= self.queue_max:
            victim = next((w for w in reversed(self._waiters)
                           if w.reservation is None and not w.future.done()), None)
            if reservation is None or victim is None:
                raise DedicatedCapacityShed(retry_after_s=max(1.0, self.queue_deadline_s))
            self._drop(victim)
            victim.future.set_exception(DedicatedCapacityShed(retry_after_s=max(1.0, self.queue_deadline_s)))
        waiter = _Waiter(reservation, asyncio.get_running_loop().create_future(), self._clock())
        self._waiters.append(waiter)
        return waiter

    def _hand_over(self) -> None:
        """Serve waiters while slots they may use are free: owners (oldest first), then others."""
        for waiter in sorted(self._waiters, key=_others_last):
            if waiter.future.done():
                self._drop(waiter)
                continue
            slot = self._take(waiter.reservation)
            if slot is not None:
                self._drop(waiter)
                waiter.future.set_result(slot)

    def _expire(self, waiter: _Waiter) -> None:
        if not waiter.future.done():
            self._drop(waiter)
            waiter.future.set_exception(DedicatedCapacityDeadlineExceeded(retry_after_s=1.0))

    def _drop(self, waiter: _Waiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def _record(self, reservation: Reservation | None, wait_s: float) -> None:
        self._waits_of(reservation.path if reservation is not None else None).samples.append(
            (self._clock(), wait_s))

    def _waits_of(self, key: tuple[str, ...] | None) -> _Waits:
        waits = self._waits.get(key)
        if waits is None:
            waits = self._waits[key] = _Waits()
        return waits


def _others_last(waiter: _Waiter) -> tuple[bool, float]:
    return waiter.reservation is None, waiter.since


def _slot_of(future: asyncio.Future[Slot]) -> Slot | None:
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return None


def capacity_of(info: DeploymentInfo, clock: Callable[[], float]) -> DedicatedCapacity | None:
    """The admission state of a deployment with reservations (None: no reservations, no admission)."""
    if not info.reservations or info.concurrent_requests_max is None:
        return None
    queue = info.capacity_queue or CapacityQueueSettings()
    return DedicatedCapacity(
        info.concurrent_requests_max,
        [Reservation(split_path(rule.compartment), rule.concurrent_requests, rule.spill_over)
         for rule in info.reservations],
        queue_max=queue.queue_max, queue_deadline_s=queue.queue_deadline_ms / 1000, clock=clock,
    )

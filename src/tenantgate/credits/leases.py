"""Credit leases: a replica reserves a slice of a chain of accounts once and admits from memory.

Holding every request in the ledger costs a pending transfer per account per request on the
admission path, and a post per account per request after it. A lease instead reserves, in
one linked pending chain (a ``HoldPlan``), room for many requests on the same chain of
accounts (the request's budgets, then its commitment). Requests take their maximum cost from
the lease's ``available`` in memory; their settlement moves it to ``consumed``; and every
``roll`` (a background tick) posts what was consumed and re-reserves what is still needed as
one linked chain, together with the usage records of the requests it charges.

The ledger still enforces every limit: the lease's pending chain is placed against every
budget and the commitment at once, so all replicas together can never reserve more than a
budget allows. A lease only moves *when* rows are written, never whether a limit holds.

At every instant ``plan.amount == available + reserved + consumed`` (the pending amount in the
ledger covers what is free, what requests in flight may still use, and what settled requests
used but no roll has posted yet). A roll posts ``consumed`` and keeps ``available + reserved``
(or only ``reserved`` when the lease shrinks), so the identity holds across rolls too.

The newest lease of a busy chain is also *topped up* by its roll, to the size the chain's
next lease would be placed with, while the chain has plenty free (``top_up_amount``): the
new pending chain reserves ``keep + top_up``, and ``top_up`` joins ``available`` only once
that chain committed. Without it every lease drains at the pace its requests consume, and a
busy chain places a new lease (a ledger write the requests wait for) every few hundred
requests; with it, one lease per chain and replica lasts as long as it is busy.

Pure: no I/O, no clock of its own; ``metering`` places and rolls leases through the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tenantgate.credits import hold_plan
from tenantgate.credits.hold_plan import HoldPlan
from tenantgate.credits.usage_record import UsageRecord
from tenantgate.ledger.model import Transfer, TransferFlags

Chain = tuple[tuple[str, ...], str]
"""(budget accounts, commitment account): what a lease reserves on, and what it is keyed by."""


@dataclass(slots=True)
class Lease:
    """One pending reservation on a chain, spent in memory by the requests it admits."""

    plan: HoldPlan
    last_used: float
    available: int = field(init=False)
    reserved: int = 0
    consumed: int = 0
    records: list[UsageRecord] = field(default_factory=list)
    overages: list[tuple[str, int, int]] = field(default_factory=list)
    """(request's hold id, its hold, cost beyond it) of settled requests that cost more than held."""
    in_flight: int = 0
    retired: bool = False
    """Admits no more: it shrinks to its requests in flight at the next roll, then closes."""
    rolling: bool = False
    dead: bool = False
    """Its pending chain is gone (expired): nothing more can be posted against it."""
    size: int = field(init=False)
    """The amount it was placed with: what its rolls top it up to while it is busy."""
    unit: int = 0
    """The amount of the request it was placed for; top-ups are whole multiples of it."""
    tops_up: bool = True
    """False once a top-up was refused (a limit is near): it then drains, and is replaced by a
    lease sized to what is left."""

    def __post_init__(self) -> None:
        self.available = self.plan.amount
        self.size = self.plan.amount

    @property
    def closed(self) -> bool:
        """Nothing left in the ledger and nothing in memory: the book may forget it."""
        return self.dead or (self.plan.amount == 0 and self.in_flight == 0 and not self.records)

    def take(self, amount: int, now: float) -> bool:
        """Reserve ``amount`` for a request if the lease is open and has room."""
        if self.retired or self.dead or self.available < amount:
            return False
        self.available -= amount
        self.reserved += amount
        self.in_flight += 1
        self.last_used = now
        return True

    def settle(self, amount: int, cost: int, record: UsageRecord) -> int:
        """A request reserved ``amount`` and used ``cost``: count what the lease pays (≤ amount)."""
        charged = min(cost, amount)
        self.reserved -= amount
        self.in_flight -= 1
        self.consumed += charged
        self.available += amount - charged  # a retired lease frees it at its next roll
        self.records.append(record)
        if cost > amount:
            self.overages.append((record.id, amount, cost - amount))
        return charged

    def release(self, amount: int) -> None:
        """A request reserved ``amount`` and used nothing."""
        self.reserved -= amount
        self.in_flight -= 1
        self.available += amount


@dataclass(frozen=True, slots=True)
class Roll:
    """One roll of a lease: its transfers (one linked chain) and what it books."""

    lease: Lease
    transfers: list[Transfer]
    """The lease's chain (post or void, then the new pending), then each overage's transfers."""
    chain_length: int
    records: list[UsageRecord]
    overages: list[tuple[str, int, int]]
    consumed: int
    freed: int
    kept: HoldPlan
    booking_id: str
    """The transfer whose creation books ``records``: the commitment's post (or void)."""
    top_up: int = 0
    """Room the new pending chain adds; it joins ``available`` when the roll commits."""


def top_up_target(lease: Lease, growth: int) -> int:
    """The room a busy lease should have after its roll: its size, the chain's next lease size
    (``growth``), or twice what it consumed since its last roll, whichever is largest, so a
    lease keeps up with its traffic for two roll intervals."""
    return max(lease.size, growth, 2 * lease.consumed + lease.reserved)


def wants_top_up(lease: Lease, target: int) -> bool:
    """Whether a roll should refill the lease: busy, allowed, and down to half ``target`` or less."""
    return (lease.tops_up and not lease.retired and not lease.dead and bool(lease.records)
            and lease.available * 2 <= target)


def top_up_amount(lease: Lease, *, target: int, free: int | None, headroom: int) -> int:
    """What a roll adds to ``lease``: up to ``target`` in all, in whole requests, but only while
    the tightest account of its chain has ``headroom`` times that free (``free``; None: no limit).

    Near a limit a topped-up lease would sit on room that another replica's requests need
    (they would be refused while the budget still covers them), so there leases drain and are
    replaced by placements sized to what is left, as before.
    """
    if free is not None and free < headroom * target:
        return 0
    keep = lease.reserved + lease.available
    unit = lease.unit or 1
    return max(0, (target - keep) // unit * unit)


def plan_roll(
    lease: Lease, *, shrink: bool, new_hold_id: str, timeout_s: int, top_up: int = 0
) -> Roll | None:
    """Detach what a roll books from ``lease`` and plan its transfers; None if there is nothing to do.

    ``shrink`` gives back what is free (an idle lease, or at shutdown) and keeps only the room of
    requests in flight; otherwise ``top_up`` more is reserved (``top_up_amount``). The lease's
    counters move as if the roll had committed, except the top-up; ``roll_failed`` puts them back.
    """
    if lease.rolling or lease.dead:
        return None
    if not lease.records and not (shrink and lease.available):
        return None
    if shrink or lease.retired:
        top_up = 0
    keep = lease.reserved + (0 if shrink else lease.available) + top_up
    old, consumed, records = lease.plan, lease.consumed, lease.records
    transfers = (hold_plan.settle_transfers(old, consumed) if consumed
                 else hold_plan.void_transfers(old))
    kept = replace(old, hold_id=new_hold_id, amount=keep)
    if keep:
        transfers += hold_plan.hold_transfers(kept, timeout_s=timeout_s)
    transfers = _linked(transfers)
    booking_id = transfers[len(old.members) - 1].id
    chain_length, overages = len(transfers), lease.overages
    for hold_id, amount, overage in overages:
        transfers += hold_plan.overage_transfers(replace(old, hold_id=hold_id, amount=amount), overage)
    freed = lease.available if shrink else 0
    lease.rolling = True
    lease.consumed, lease.records, lease.overages = 0, [], []
    if shrink:
        lease.retired = True
        lease.available = 0
    return Roll(lease, transfers, chain_length, records, overages, consumed, freed, kept, booking_id, top_up)


def roll_committed(roll: Roll) -> None:
    """The roll's chain committed: the lease now stands on its new pending chain (and its top-up)."""
    lease = roll.lease
    lease.plan = roll.kept
    lease.available += roll.top_up
    if roll.top_up:
        lease.size = max(lease.size, roll.kept.amount)
    lease.rolling = False


def roll_failed(roll: Roll, *, expired: bool) -> None:
    """The roll did not commit: restore what it detached (or, if the lease expired, give it up)."""
    lease = roll.lease
    lease.rolling = False
    if expired:
        lease.dead = True
        return
    lease.consumed += roll.consumed
    lease.records[:0] = roll.records
    lease.overages[:0] = roll.overages
    lease.available += roll.freed


def _linked(transfers: list[Transfer]) -> list[Transfer]:
    """Make ``transfers`` one chain: every member but the last carries ``linked``."""
    last = len(transfers) - 1
    return [
        replace(t, flags=(t.flags | TransferFlags.LINKED) if i < last else (t.flags & ~TransferFlags.LINKED))
        for i, t in enumerate(transfers)
    ]


@dataclass(slots=True)
class LeaseBook:
    """A replica's leases on one chain, newest last, and how large the next one should be."""

    leases: list[Lease] = field(default_factory=list)
    size_in_requests: int = 8

    def admit(self, amount: int, now: float) -> Lease | None:
        """The newest open lease with room for ``amount``, with it reserved; None if none has."""
        for lease in reversed(self.leases):
            if lease.take(amount, now):
                return lease
        return None

    def add(self, lease: Lease) -> None:
        """A new lease was placed. Older ones keep admitting what fits them: retiring them here
        would strand their room during a burst; one that nothing fits goes idle and shrinks."""
        self.leases.append(lease)

    def grow_size(self, amount: int, cap_requests: int) -> int:
        """The next lease's amount: room for a doubling number of such requests, up to the cap."""
        size = amount * self.size_in_requests
        self.size_in_requests = min(self.size_in_requests * 2, cap_requests)
        return size

    def shrink_growth(self) -> None:
        """The ledger refused a lease that large: the next ones start much smaller."""
        self.size_in_requests = max(1, self.size_in_requests // 4)

    def forget_closed(self) -> None:
        self.leases = [lease for lease in self.leases if not lease.closed]

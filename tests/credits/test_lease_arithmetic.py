"""A lease's arithmetic under any interleaving of admissions, settlements, releases and rolls.

Hypothesis drives one lease as the gateway does, with rolls that commit or fail at random,
and checks after every step what the ledger would see: the pending amount always equals
``available + reserved + consumed`` (plus what an uncommitted roll detached), a roll never
posts more than it holds, and every settled cost is posted exactly once — however rolls fail. Rolls of a busy lease
top it up toward its size; the top-up joins its free room only when the roll commits.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tenantgate.credits import leases
from tenantgate.credits.hold_plan import HoldPlan
from tenantgate.credits.leases import Lease, Roll
from tenantgate.credits.usage_record import UsageRecord
from tenantgate.ledger.model import TransferFlags

_POST, _VOID = TransferFlags.POST_PENDING_TRANSFER, TransferFlags.VOID_PENDING_TRANSFER


def record(n: int) -> UsageRecord:
    return UsageRecord(id=f"r{n}", request_id=f"q{n}", operation="chat", model="m",
                       principal_type="service", principal_id="s")


class LeaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.lease = Lease(HoldPlan("l0", 1_000, ("bud:b:all",), "cmt:c"), last_used=0.0, unit=50)
        self.in_flight: list[int] = []
        self.roll: Roll | None = None
        self.settled = 0  # what settled requests were charged to the lease (capped at their holds)
        self.posted = 0  # what committed rolls posted
        self.booked: list[str] = []
        self.n = 0

    @rule(amount=st.integers(1, 300))
    def admit(self, amount: int) -> None:
        before = self.lease.available
        if self.lease.take(amount, now=1.0):
            self.in_flight.append(amount)
        else:
            assert self.lease.retired or self.lease.dead or before < amount

    @precondition(lambda self: self.in_flight)
    @rule(pick=st.integers(0, 10**6), cost=st.integers(0, 400))
    def settle(self, pick: int, cost: int) -> None:
        amount = self.in_flight.pop(pick % len(self.in_flight))
        self.n += 1
        self.settled += self.lease.settle(amount, cost, record(self.n))

    @precondition(lambda self: self.in_flight)
    @rule(pick=st.integers(0, 10**6))
    def release(self, pick: int) -> None:
        self.lease.release(self.in_flight.pop(pick % len(self.in_flight)))

    @precondition(lambda self: self.roll is None)
    @rule(shrink=st.booleans(), free=st.none() | st.integers(0, 5_000))
    def plan_roll(self, shrink: bool, free: int | None) -> None:
        self.n += 1
        target = leases.top_up_target(self.lease, growth=self.lease.size * 2)
        top_up = (leases.top_up_amount(self.lease, target=target, free=free, headroom=2)
                  if leases.wants_top_up(self.lease, target) else 0)
        assert top_up >= 0
        assert top_up % 50 == 0  # whole requests
        assert self.lease.reserved + self.lease.available + top_up <= max(
            target, self.lease.reserved + self.lease.available)  # never beyond the target
        self.roll = leases.plan_roll(
            self.lease, shrink=shrink, new_hold_id=f"l{self.n}", timeout_s=60, top_up=top_up)
        if self.roll is not None:
            chain = self.roll.transfers[:self.roll.chain_length]
            settles = [t for t in chain if t.flags & (_POST | _VOID)]
            holds = [t for t in chain if t.flags & TransferFlags.PENDING]
            assert all(t.amount <= self.roll.consumed or t.flags & _VOID for t in settles)
            assert all(t.amount == self.roll.kept.amount for t in holds)
            assert all(t.flags & TransferFlags.LINKED for t in chain[:-1])
            assert not chain[-1].flags & TransferFlags.LINKED

    @precondition(lambda self: self.roll is not None)
    @rule(outcome=st.sampled_from(["committed", "failed"]))
    def finish_roll(self, outcome: str) -> None:
        roll, self.roll = self.roll, None
        assert roll is not None
        if outcome == "committed":
            leases.roll_committed(roll)
            self.posted += roll.consumed
            self.booked += [r.id for r in roll.records]
        else:
            leases.roll_failed(roll, expired=False)

    @invariant()
    def the_pending_amount_covers_exactly_what_is_free_reserved_and_consumed(self) -> None:
        lease, detached = self.lease, 0
        if self.roll is not None:  # until it commits, the old pending still stands
            detached = self.roll.consumed + self.roll.freed
        assert lease.plan.amount == lease.available + lease.reserved + lease.consumed + detached
        assert lease.reserved == sum(self.in_flight)
        assert min(lease.available, lease.reserved, lease.consumed) >= 0

    @invariant()
    def every_settled_cost_is_posted_once_or_still_waiting(self) -> None:
        waiting = self.lease.consumed + (self.roll.consumed if self.roll is not None else 0)
        assert self.posted + waiting == self.settled
        assert len(self.booked) == len(set(self.booked))


LeaseMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestLeaseArithmetic = LeaseMachine.TestCase

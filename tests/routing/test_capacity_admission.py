"""Dedicated capacity's admission rules: reserved shares, owners first, shedding, deadlines, reports.

Deployment of 3 slots: ``A`` reserves 2, one is shared. ``B`` owns nothing there.
"""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError
from routing_world import ManualClock, labels, model, router

from tenantgate.errors import DedicatedCapacityDeadlineExceeded, DedicatedCapacityShed
from tenantgate.routing.attempts import Attempts
from tenantgate.routing.capacity import DedicatedCapacity, Reservation, Slot
from tenantgate.settings import DeploymentSettings
from tenantgate.settings.capacity import ReservationRule

A, A_CHILD, B = ("A",), ("A", "Team"), ("B",)


def _capacity(clock: ManualClock | None = None, *, queue_max: int = 4, deadline_s: float = 5.0,
              spill_over: bool = True) -> DedicatedCapacity:
    return DedicatedCapacity(3, [Reservation(A, 2, spill_over)], queue_max=queue_max,
                             queue_deadline_s=deadline_s, clock=clock or ManualClock())


def _take(capacity: DedicatedCapacity, path: tuple[str, ...] | None) -> Slot:
    slot = capacity.try_acquire(path)
    assert slot is not None
    return slot


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def test_others_get_only_the_shared_slots_even_while_the_reserved_ones_are_idle():
    capacity = _capacity()
    b = _take(capacity, B)
    assert not b.reserved
    assert capacity.try_acquire(B) is None  # A's two reserved slots are idle, and stay A's
    assert capacity.try_acquire(None) is None  # callers outside any compartment are "others" too
    a1, a2 = _take(capacity, A), _take(capacity, A_CHILD)  # descendants use their ancestor's reservation
    assert a1.reserved
    assert a2.reserved
    assert capacity.try_acquire(A) is None


def test_an_owner_takes_its_reserved_slots_first_then_idle_shared_ones():
    capacity = _capacity()
    slots = [_take(capacity, A) for _ in range(3)]
    assert [slot.reserved for slot in slots] == [True, True, False]
    assert capacity.try_acquire(A) is None
    assert capacity.try_acquire(B) is None  # the shared slot is the owner's now
    slots[2].release()
    assert _take(capacity, B).reserved is False


def test_the_nearest_reservation_wins():
    capacity = DedicatedCapacity(4, [Reservation(A, 1), Reservation(A_CHILD, 2)], queue_max=0,
                                 queue_deadline_s=1, clock=ManualClock())
    assert capacity.owner(("A", "Team", "X")) == Reservation(A_CHILD, 2)
    assert capacity.owner(("A", "Other")) == Reservation(A, 1)
    assert capacity.owner(B) is None
    assert capacity.owner(None) is None


async def test_a_freed_shared_slot_goes_to_a_waiting_owner_before_an_older_waiting_other():
    capacity = _capacity()
    a1, a2, shared = _take(capacity, A), _take(capacity, A), _take(capacity, B)
    b_wait = asyncio.create_task(capacity.acquire(B))
    await _settle()
    a_wait = asyncio.create_task(capacity.acquire(A))
    await _settle()
    assert [row.queued for row in capacity.usage()] == [1, 1]
    shared.release()
    await _settle()
    assert a_wait.done()
    assert not b_wait.done()
    assert a_wait.result().reserved is False
    a1.release()  # a reserved slot: the waiting other may not have it
    await _settle()
    assert not b_wait.done()
    a_wait.result().release()  # the shared slot again: now the other's turn
    await _settle()
    assert b_wait.done()
    assert b_wait.result().reserved is False
    a2.release()
    b_wait.result().release()


async def test_a_full_queue_sheds_others_first_and_an_owner_takes_the_newest_others_place():
    capacity = _capacity(queue_max=2)
    held = [_take(capacity, A), _take(capacity, A), _take(capacity, B)]
    b1 = asyncio.create_task(capacity.acquire(B))
    b2 = asyncio.create_task(capacity.acquire(B))
    await _settle()
    with pytest.raises(DedicatedCapacityShed) as shed:
        await capacity.acquire(B)
    assert shed.value.retry_after_s is not None
    assert shed.value.retry_after_s >= 1
    assert shed.value.status == 429
    a = asyncio.create_task(capacity.acquire(A))
    await _settle()
    with pytest.raises(DedicatedCapacityShed):
        await b2  # the newest other's place went to the owner
    assert not b1.done()
    assert not a.done()
    held[0].release()
    await _settle()
    assert a.done()
    assert a.result().reserved
    for slot in [*held[1:], a.result()]:
        slot.release()
    await _settle()
    assert b1.done()
    b1.result().release()


async def test_an_owner_is_shed_only_when_the_queue_holds_owners_alone():
    capacity = _capacity(queue_max=1)
    held = [_take(capacity, A) for _ in range(3)]
    waiting = asyncio.create_task(capacity.acquire(A))
    await _settle()
    with pytest.raises(DedicatedCapacityShed):
        await capacity.acquire(A)
    held[0].release()
    await _settle()
    assert waiting.done()
    for slot in [*held[1:], waiting.result()]:
        slot.release()


async def test_a_waiter_past_its_deadline_gets_503_and_its_wait_is_reported():
    clock = ManualClock()
    capacity = _capacity(clock, deadline_s=0.05)
    held = [_take(capacity, A), _take(capacity, A), _take(capacity, B)]
    waiting = asyncio.create_task(capacity.acquire(B))
    await _settle()
    clock.advance(0.05)
    with pytest.raises(DedicatedCapacityDeadlineExceeded) as late:
        await waiting
    assert late.value.status == 503
    shared_row = capacity.usage()[-1]
    assert (shared_row.compartment, shared_row.queued, shared_row.in_use) == (None, 0, 1)
    assert shared_row.wait_p99_ms == pytest.approx(50.0)  # the waits: 0 (immediate) and 50 ms
    held[2].release()
    assert capacity.usage()[-1].in_use == 0  # nobody took the slot after the waiter left


async def test_a_cancelled_waiter_leaves_the_queue_and_never_holds_a_slot():
    capacity = _capacity()
    held = [_take(capacity, A), _take(capacity, A), _take(capacity, A)]
    waiting = asyncio.create_task(capacity.acquire(A))
    await _settle()
    held[0].release()  # handed to the waiter ...
    waiting.cancel()  # ... which is cancelled before it resumes: the slot comes back
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert [row.in_use for row in capacity.usage()] == [1, 1]
    assert [row.queued for row in capacity.usage()] == [0, 0]
    held[0].release()  # releasing twice changes nothing
    assert [row.in_use for row in capacity.usage()] == [1, 1]


def test_utilisation_and_p99_waits_per_reservation_over_the_last_minute():
    clock = ManualClock()
    capacity = _capacity(clock)
    _take(capacity, A)
    rows = capacity.usage()
    assert [(r.compartment, r.slots, r.in_use, r.utilisation) for r in rows] == [("A", 2, 1, 0.5), (None, 1, 0, 0.0)]
    assert rows[0].wait_p99_ms == 0.0
    assert rows[1].wait_p99_ms is None
    clock.advance(61)
    assert capacity.usage()[0].wait_p99_ms is None  # the window moved on


def test_owners_may_spill_over_unless_their_reservation_says_no_and_others_always_may():
    assert _capacity(spill_over=True).may_spill(A)
    assert not _capacity(spill_over=False).may_spill(A_CHILD)
    assert _capacity(spill_over=False).may_spill(B)


def test_routing_puts_the_deployments_where_the_caller_owns_a_reservation_first():
    dedicated = {"capacity_class": "dedicated", "concurrent_requests_max": 2,
                 "reservations": (ReservationRule(compartment="A", concurrent_requests=1),)}
    r = router(model("m", [{}, {}, dedicated]))
    assert labels(r, "m") == [0, 1, 2]
    route = r.route("m")
    decision = r.order("m", [s.backend for s in route.states], None, A_CHILD)
    assert [s.info.index for s in decision.states] == [2, 0, 1]
    assert route.states[2].dedicated is not None
    assert route.states[0].dedicated is None


@pytest.mark.parametrize(("fields", "match"), [
    ({"capacity_class": "on_demand"}, "dedicated deployment with concurrent_requests_max"),
    ({"capacity_class": "dedicated", "throughput_tokens_per_min": 1000}, "concurrent_requests_max"),
    ({"capacity_class": "dedicated", "concurrent_requests_max": 1}, "more than concurrent_requests_max"),
])
def test_reservations_need_dedicated_capacity_they_fit_in(fields, match):
    with pytest.raises(ValidationError, match=match):
        DeploymentSettings(provider="openai", model="x", **fields,
                           reservations=[{"compartment": "A", "concurrent_requests": 2}])


def test_a_reservation_per_compartment():
    with pytest.raises(ValidationError, match="twice"):
        DeploymentSettings(provider="openai", model="x", capacity_class="dedicated", concurrent_requests_max=4,
                           reservations=[{"compartment": "A/B", "concurrent_requests": 1},
                                         {"compartment": "A:B", "concurrent_requests": 1}])


def test_a_spill_over_spends_neither_an_attempt_nor_the_retry_budget():
    r = router(model("m", [{}, {}], attempts_max=1), settings={"retry": {"budget_burst": 0}})
    route = r.route("m")
    tries = Attempts(r, "req")
    tries.begin_model(route, r.order("m", [s.backend for s in route.states], None))
    first = tries.next()
    assert first is not None
    assert tries.has_next
    tries.refused(first, DedicatedCapacityShed())
    second = tries.next()
    assert second is not None
    assert (second.state.info.index, second.attempt_id) == (1, "req-a2")
    assert not tries.has_next
    assert tries.next() is None
    assert isinstance(tries.exhausted(), DedicatedCapacityShed)

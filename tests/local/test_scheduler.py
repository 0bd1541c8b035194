"""The admission queue on its own: FIFO order, bound, deadline and cancellation (no model)."""

from __future__ import annotations

import asyncio

import pytest

from tenantgate.errors import LocalQueueDeadlineExceeded, LocalQueueFull
from tenantgate.local.scheduler import Scheduler


def _scheduler(**overrides: int) -> Scheduler:
    settings = {"slots": 1, "queue_max": 4, "queue_deadline_ms": 5_000} | overrides
    return Scheduler(**settings)


async def test_waiters_get_the_slot_in_arrival_order() -> None:
    scheduler = _scheduler()
    held = await scheduler.acquire()
    order: list[int] = []

    async def wait(i: int) -> None:
        slot = await scheduler.acquire()
        order.append(i)
        slot.release()

    tasks = [asyncio.create_task(wait(i)) for i in range(4)]
    await asyncio.sleep(0.01)
    held.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]
    assert scheduler.busy == 0


async def test_a_full_queue_refuses_at_once() -> None:
    scheduler = _scheduler(queue_max=1)
    held = await scheduler.acquire()
    waiter = asyncio.create_task(scheduler.acquire())
    await asyncio.sleep(0.01)
    with pytest.raises(LocalQueueFull) as refused:
        await scheduler.acquire()
    assert refused.value.retry_after_s is not None
    assert refused.value.retry_after_s >= 1
    held.release()
    (await waiter).release()


async def test_the_wait_deadline_raises_and_leaves_the_queue() -> None:
    scheduler = _scheduler(queue_deadline_ms=50)
    held = await scheduler.acquire()
    with pytest.raises(LocalQueueDeadlineExceeded):
        await scheduler.acquire()
    assert scheduler.waiting == 0
    held.release()
    assert scheduler.busy == 0


async def test_a_cancelled_waiter_does_not_swallow_the_slot() -> None:
    scheduler = _scheduler()
    held = await scheduler.acquire()
    cancelled = asyncio.create_task(scheduler.acquire())
    patient = asyncio.create_task(scheduler.acquire())
    await asyncio.sleep(0.01)
    cancelled.cancel()
    held.release()
    slot = await asyncio.wait_for(patient, 1)
    slot.release()
    slot.release()  # idempotent
    assert scheduler.busy == 0
    assert scheduler.waiting == 0

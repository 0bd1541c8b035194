"""Many users on one local model: fair queueing, bounded waits, cancellation, idle unload."""

from __future__ import annotations

import asyncio
import time

import pytest
from local_bodies import ChatFactory, Operation, chat_body

from tenantgate.errors import LocalQueueDeadlineExceeded, LocalQueueFull
from tenantgate.local.chat_backend import LocalChatBackend
from tenantgate.local.residency import loaded_models

LONG = chat_body("Write a very long story about a dragon.", max_tokens=400)


async def _hold_slot(backend: LocalChatBackend) -> asyncio.Task[None]:
    """Start a long stream that holds the only slot until the task is cancelled."""
    started = asyncio.Event()

    async def consume() -> None:
        async for _piece in backend.stream(Operation.CHAT, LONG):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    return task


async def _wait_until_idle(backend: LocalChatBackend, deadline_s: float) -> None:
    deadline = time.perf_counter() + deadline_s
    while backend.scheduler.busy and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    assert backend.scheduler.busy == 0, f"slot still busy {deadline_s} s after the last stream"


async def _wait_until_queued(backend: LocalChatBackend, count: int, deadline_s: float = 10.0) -> None:
    deadline = time.perf_counter() + deadline_s
    while backend.scheduler.waiting < count:
        assert time.perf_counter() < deadline, f"fewer than {count} queued after {deadline_s} s"
        await asyncio.sleep(0.01)


async def test_eight_concurrent_streams_all_complete(chat: LocalChatBackend) -> None:
    async def consume(i: int) -> int:
        pieces = [p async for p in chat.stream(Operation.CHAT, chat_body(f"Say hello {i}.",
                                                                          max_tokens=6))]
        assert pieces[-1].usage_only
        return pieces[-1].usage.completion_tokens  # type: ignore[union-attr]

    counts = await asyncio.wait_for(asyncio.gather(*(consume(i) for i in range(8))), 60)
    assert len(counts) == 8
    assert all(1 <= c <= 6 for c in counts)
    # The slot is freed when the worker thread finishes its job, just after the last piece.
    await _wait_until_idle(chat, deadline_s=1.0)
    assert chat.scheduler.waiting == 0


async def test_closing_a_stream_midway_lets_the_next_request_start_within_a_second(
    chat: LocalChatBackend,
) -> None:
    first = chat.stream(Operation.CHAT, LONG)
    for _ in range(3):
        await anext(first)
    second = chat.stream(Operation.CHAT, chat_body())
    second_first_piece = asyncio.create_task(anext(second))
    await _wait_until_queued(chat, 1)
    closed_at = time.perf_counter()
    await first.aclose()
    await asyncio.wait_for(second_first_piece, 5)
    waited_s = time.perf_counter() - closed_at
    await second.aclose()
    assert waited_s < 1.0, f"next request started {waited_s:.2f} s after the close"


async def test_cancelling_a_waiting_complete_frees_the_slot(chat: LocalChatBackend) -> None:
    running = asyncio.create_task(chat.complete(Operation.CHAT, LONG))
    await asyncio.sleep(0.3)
    queued = asyncio.create_task(chat.complete(Operation.CHAT, chat_body()))
    await _wait_until_queued(chat, 1)
    cancelled_at = time.perf_counter()
    running.cancel()
    reply = await asyncio.wait_for(queued, 10)
    assert reply.usage is not None
    assert time.perf_counter() - cancelled_at < 2.0
    with pytest.raises(asyncio.CancelledError):
        await running


async def test_full_queue_is_refused_with_retry_after(make_chat: ChatFactory) -> None:
    backend = await make_chat(queue_max=1)
    holder = await _hold_slot(backend)
    waiter = asyncio.create_task(backend.complete(Operation.CHAT, chat_body(max_tokens=2)))
    await _wait_until_queued(backend, 1)
    with pytest.raises(LocalQueueFull) as refused:
        await backend.complete(Operation.CHAT, chat_body())
    assert refused.value.status == 429
    assert refused.value.retry_after_s is not None
    assert refused.value.retry_after_s >= 1
    holder.cancel()
    await asyncio.wait_for(waiter, 10)


async def test_waiting_past_the_deadline_is_refused_with_retry_after(
    make_chat: ChatFactory,
) -> None:
    backend = await make_chat(queue_deadline_ms=200)
    holder = await _hold_slot(backend)
    started = time.perf_counter()
    with pytest.raises(LocalQueueDeadlineExceeded) as late:
        await backend.complete(Operation.CHAT, chat_body())
    assert 0.15 < time.perf_counter() - started < 2.0
    assert late.value.status == 503
    assert late.value.retry_after_s is not None
    assert late.value.retry_after_s >= 1
    holder.cancel()


async def test_idle_model_unloads_and_reloads_on_next_use(make_chat: ChatFactory) -> None:
    backend = await make_chat(idle_unload_s=1)
    await backend.complete(Operation.CHAT, chat_body(max_tokens=2))
    assert backend.engine.loaded
    assert "smollm2-135m-instruct" in dict(loaded_models())
    deadline = time.monotonic() + 5
    while backend.engine.loaded and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not backend.engine.loaded
    assert "smollm2-135m-instruct" not in dict(loaded_models())
    reply = await backend.complete(Operation.CHAT, chat_body())
    assert reply.usage is not None
    assert backend.engine.loaded


async def test_two_instances_serve_two_requests_at_once(make_chat: ChatFactory) -> None:
    backend = await make_chat(instances=2)
    assert len(backend.engines) == 2
    assert all(engine.loaded for engine in backend.engines)  # warm_up loads every instance
    streams = [backend.stream(Operation.CHAT, LONG) for _ in range(2)]
    firsts = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in streams)), 10)
    assert len(firsts) == 2
    assert backend.scheduler.busy == 2  # both decode now; neither waited for the other
    assert backend.scheduler.waiting == 0
    for stream in streams:
        await stream.aclose()
    await _wait_until_idle(backend, deadline_s=2.0)

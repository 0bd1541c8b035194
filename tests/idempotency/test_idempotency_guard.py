"""The API-side guard in-process, over a real store: what is kept, what is released, what is replayed.

Every case runs the guard exactly as ``app.py`` does, with a route function standing in for
the pipeline (the end-to-end suite covers the real one).
"""

import asyncio
from collections.abc import AsyncIterator

import pytest

from tenantgate.api.http import ApiRequest, JsonResponse, StreamResponse
from tenantgate.api.idempotency import IdempotencyGuard
from tenantgate.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    IdempotencyReplayUnavailable,
    ModelNotFound,
    UpstreamUnavailable,
)
from tenantgate.iam.principal import Caller, Principal
from tenantgate.idempotency import RecordState, scope_of
from tenantgate.settings import IdempotencySettings

KEY = b"key-1"
SCOPE = scope_of("user", "u1")
FRAMES = [b'data: {"n":1}\n\n', b'data: {"n":2}\n\n', b"data: [DONE]\n\n"]


async def _receive() -> dict:
    await asyncio.Event().wait()
    return {"type": "http.disconnect"}


def request(body: bytes = b'{"model":"m"}') -> ApiRequest:
    return ApiRequest(method="POST", path="/v1/chat/completions", headers={}, receive=_receive,
                      request_id="req_1", client_host=None, body=body,
                      caller=Caller(Principal(id="u1", type="user")))


@pytest.fixture
def guard(store) -> IdempotencyGuard:
    return IdempotencyGuard(store, IdempotencySettings(max_body_bytes=1024))


async def frames(items: list[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


def streaming(items: list[bytes], closed: list[str] | None = None):
    seen = [] if closed is None else closed

    async def work():
        return StreamResponse(frames(items), on_close=lambda: seen.append("closed"))
    return work


async def drain(response) -> bytes:
    assert isinstance(response, StreamResponse)
    try:
        return b"".join([frame async for frame in response.frames])
    finally:
        if response.on_close is not None:
            response.on_close()


async def state(store) -> RecordState | None:
    for _ in range(100):  # releases run in the background
        record = await store.get(SCOPE, KEY.decode())
        if record is None or record.state is not RecordState.IN_FLIGHT:
            return None if record is None else record.state
        await asyncio.sleep(0.01)
    return RecordState.IN_FLIGHT


async def test_a_stream_that_reaches_done_is_replayed_byte_for_byte(guard, store):
    closed: list[str] = []
    first = await drain(await guard.run(request(), KEY, streaming(FRAMES, closed)))
    assert first == b"".join(FRAMES)
    assert closed == ["closed"]  # the pipeline's own close (settlement) still runs
    replay = await guard.run(request(), KEY, streaming([b"data: never\n\n"]))
    assert (b"idempotent-replayed", b"true") in replay.headers
    assert await drain(replay) == first


async def test_a_stream_too_large_to_keep_completes_and_retries_get_replay_unavailable(guard, store):
    big = [b"data: " + b"x" * 600 + b"\n\n", b"data: " + b"y" * 600 + b"\n\n", b"data: [DONE]\n\n"]
    assert await drain(await guard.run(request(), KEY, streaming(big))) == b"".join(big)
    assert await state(store) is RecordState.UNREPLAYABLE
    with pytest.raises(IdempotencyReplayUnavailable):
        await guard.run(request(), KEY, streaming(FRAMES))


async def test_a_stream_that_ends_in_an_error_event_is_not_kept(guard, store):
    broken = [b'data: {"n":1}\n\n', b'data: {"error":{"code":"upstream_stream_interrupted"}}\n\n']
    await drain(await guard.run(request(), KEY, streaming(broken)))
    assert await state(store) is None
    assert await drain(await guard.run(request(), KEY, streaming(FRAMES))) == b"".join(FRAMES)


async def test_a_stream_left_mid_way_or_never_pulled_is_released(guard, store):
    response = await guard.run(request(), KEY, streaming(FRAMES))
    assert isinstance(response, StreamResponse)
    iterator = aiter(response.frames)
    await anext(iterator)
    await iterator.aclose()  # the client went away after one frame
    assert await state(store) is None
    untouched = await guard.run(request(), KEY, streaming(FRAMES))
    assert untouched.on_close is not None
    untouched.on_close()  # the response ended before its first frame was pulled
    assert await state(store) is None


async def test_client_errors_are_kept_and_replayed(guard, store):
    async def unknown_model():
        raise ModelNotFound("The model 'm' does not exist.", param="model")

    first = await guard.run(request(), KEY, unknown_model)
    assert isinstance(first, JsonResponse)
    assert first.status == 404
    replay = await guard.run(request(), KEY, unknown_model)
    assert isinstance(replay, JsonResponse)
    assert (replay.status, replay.body) == (404, first.body)
    assert (b"idempotent-replayed", b"true") in replay.headers


async def test_server_errors_and_cancellations_are_released_so_retries_run(guard, store):
    calls = []

    async def failing():
        calls.append("failing")
        raise UpstreamUnavailable()

    async def cancelled():
        calls.append("cancelled")
        raise asyncio.CancelledError()

    answer = await guard.run(request(), KEY, failing)
    assert isinstance(answer, JsonResponse)
    assert answer.status == 503
    assert await state(store) is None
    with pytest.raises(asyncio.CancelledError):
        await guard.run(request(), KEY, cancelled)
    assert await state(store) is None
    assert calls == ["failing", "cancelled"]


async def test_a_json_answer_is_stored_before_it_is_returned(guard, store):
    async def ok():
        return JsonResponse(200, b'{"id":"x"}', headers=[(b"x-tenantgate-cost", b"0.000010"),
                                                         (b"connection", b"close")])

    await guard.run(request(), KEY, ok)
    replay = await guard.run(request(), KEY, ok)
    assert isinstance(replay, JsonResponse)
    assert replay.body == b'{"id":"x"}'
    assert replay.content_type == b"application/json"
    assert replay.headers == [(b"x-tenantgate-cost", b"0.000010"), (b"idempotent-replayed", b"true")]


async def test_in_flight_and_reused_keys_are_refused(guard, store):
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow():
        started.set()
        await finish.wait()
        return JsonResponse(200, b"{}")

    first = asyncio.ensure_future(guard.run(request(), KEY, slow))
    await started.wait()
    with pytest.raises(IdempotencyKeyInProgress) as caught:
        await guard.run(request(), KEY, slow)
    assert caught.value.retry_after_s == 1
    with pytest.raises(IdempotencyKeyReused):
        await guard.run(request(b'{"model":"other"}'), KEY, slow)
    finish.set()
    await first

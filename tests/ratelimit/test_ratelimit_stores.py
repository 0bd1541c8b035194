"""Both stores, one suite: all or nothing, exact under concurrency, corrections, slots and leases.

The Redis store runs against a real Redis on loopback, each test under its own key prefix
(removed afterwards). A Hypothesis run replays the same random workload on both stores and
requires the same verdicts, so the Lua script and ``window.py`` stay one arithmetic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ratelimit_stores import key_count, local_store, redis_store, remove_keys, unique_prefix

from tenantgate.errors import RateLimiterUnavailable
from tenantgate.iam.principal import Principal
from tenantgate.ratelimit import NOT_LIMITED, Limit, LimitKind, LimitStore, RateLimiter, StoreUnavailable
from tenantgate.ratelimit.store import Correction
from tenantgate.settings import RateLimitRule, RateLimitSettings
from tenantgate.testing.gateway_process import free_port

RPM = Limit("requests|key|k|", LimitKind.REQUESTS, 30)
TPM = Limit("tokens|key|k|", LimitKind.TOKENS, 100)
SLOTS = Limit("concurrent|key|k|", LimitKind.CONCURRENT, 2)


@pytest.fixture(params=["local", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimitStore]:
    if request.param == "local":
        yield local_store()
        return
    prefix = unique_prefix()
    made = redis_store(prefix)
    try:
        yield made
    finally:
        await made.aclose()
        remove_keys(prefix)


async def test_a_call_refused_by_one_limit_is_charged_on_none(store: LimitStore):
    tight = Limit("requests|user|u|", LimitKind.REQUESTS, 1)
    assert (await store.admit("a", [tight, RPM], [1, 1])).admitted
    refused = await store.admit("b", [tight, RPM], [1, 1])
    assert not refused.admitted
    assert refused.remaining == (0, 29)  # the second limit was not charged for the refused call
    assert (await store.admit("c", [RPM], [1])).remaining == (28,)


async def test_concurrent_admissions_take_exactly_the_limit_and_count_down(store: LimitStore):
    verdicts = await asyncio.gather(*(store.admit(f"r{i}", [RPM], [1]) for i in range(45)))
    admitted = [v for v in verdicts if v.admitted]
    assert len(admitted) == 30
    assert sorted(v.remaining[0] for v in admitted) == list(range(30))
    refused = [v for v in verdicts if not v.admitted]
    assert {v.remaining[0] for v in refused} == {0}
    assert all(0 < v.retry_after_ms <= 60_000 for v in refused)
    assert all(0 < v.reset_ms[0] <= 60_000 for v in verdicts)


async def test_a_token_charge_is_corrected_to_the_usage_when_the_call_ends(store: LimitStore):
    assert (await store.admit("a", [TPM], [60])).remaining == (40,)
    assert not (await store.admit("b", [TPM], [60])).admitted
    store.finish("a", [Correction(TPM.counter, 60, 10)], [])
    await store.flush()
    assert (await store.admit("c", [TPM], [60])).remaining == (30,)
    store.finish("c", [Correction(TPM.counter, 60, 75)], [])  # more than estimated: the difference is added
    await store.flush()
    assert (await store.admit("d", [TPM], [5])).remaining == (10,)


async def test_a_call_above_the_token_limit_is_refused_for_a_whole_window(store: LimitStore):
    verdict = await store.admit("a", [TPM], [101])
    assert not verdict.admitted
    assert verdict.retry_after_ms == 60_000


async def test_concurrency_slots_come_back_when_calls_end(store: LimitStore):
    assert (await store.admit("a", [SLOTS], [1])).remaining == (1,)
    assert (await store.admit("b", [SLOTS], [1])).remaining == (0,)
    refused = await store.admit("c", [SLOTS], [1])
    assert (refused.admitted, refused.retry_after_ms) == (False, 1000)
    store.finish("b", [], [SLOTS.counter])
    await store.flush()
    assert (await store.admit("d", [SLOTS], [1])).admitted


@pytest.mark.parametrize("kind", ["local", "redis"])
async def test_entries_leave_the_window_after_it(kind: str):
    prefix = unique_prefix()
    store = local_store(window_ms=300) if kind == "local" else redis_store(prefix, window_ms=300)
    limit = Limit("requests|key|w|", LimitKind.REQUESTS, 2)
    try:
        assert (await store.admit("a", [limit], [1])).admitted
        assert (await store.admit("b", [limit], [1])).admitted
        refused = await store.admit("c", [limit], [1])
        assert not refused.admitted
        assert 0 < refused.retry_after_ms <= 300
        await asyncio.sleep(refused.retry_after_ms / 1000 + 0.05)
        assert (await store.admit("d", [limit], [1])).admitted
    finally:
        await store.aclose()
        remove_keys(prefix)


async def test_a_crashed_replicas_slots_come_back_when_their_lease_ends_while_live_ones_are_renewed():
    prefix = unique_prefix()
    crashed = redis_store(prefix, lease_ms=400)  # never started: nothing renews its leases
    alive = redis_store(prefix, lease_ms=400)
    one = Limit("concurrent|key|c|", LimitKind.CONCURRENT, 1)
    other = Limit("concurrent|key|d|", LimitKind.CONCURRENT, 1)
    await alive.start()
    try:
        assert (await crashed.admit("dead", [one], [1])).admitted
        assert (await alive.admit("live", [other], [1])).admitted
        assert not (await alive.admit("x", [one], [1])).admitted
        await asyncio.sleep(0.7)
        assert (await alive.admit("y", [one], [1])).admitted  # the crashed replica's slot expired
        assert not (await crashed.admit("z", [other], [1])).admitted  # renewed by the live replica
    finally:
        await crashed.aclose()
        await alive.aclose()
        remove_keys(prefix)


async def test_an_admission_whose_caller_left_while_it_was_on_the_wire_is_ended_at_once():
    prefix = unique_prefix()
    store = redis_store(prefix)
    one = Limit("concurrent|key|gone|", LimitKind.CONCURRENT, 1)
    try:
        waiting = asyncio.ensure_future(store.admit("gone", [one, TPM], [1, 40]))
        await asyncio.sleep(0)  # queued and sent, not answered yet
        waiting.cancel()  # the client disconnected
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0.05)
        await store.flush()
        after = await store.admit("next", [one, TPM], [1, 40])
        assert after.admitted  # the slot came back
        assert after.remaining == (0, 60)  # and the gone call's tokens were refunded
    finally:
        await store.aclose()
        remove_keys(prefix)


async def test_local_slots_never_outlive_their_maximum():
    store = local_store(slot_max_ms=200)
    assert (await store.admit("a", [SLOTS], [1])).admitted
    assert (await store.admit("b", [SLOTS], [1])).admitted
    assert not (await store.admit("c", [SLOTS], [1])).admitted
    await asyncio.sleep(0.25)
    assert (await store.admit("d", [SLOTS], [1])).admitted


async def test_redis_keys_expire_by_themselves():
    prefix = unique_prefix()
    store = redis_store(prefix, window_ms=200, lease_ms=300)
    try:
        await store.admit("a", [Limit("requests|key|e|", LimitKind.REQUESTS, 5), SLOTS], [1, 1])
        assert key_count(prefix) == 3
        await asyncio.sleep(1.6)  # window or lease + 1 s of slack
        assert key_count(prefix) == 0
    finally:
        await store.aclose()
        remove_keys(prefix)


# Redis unreachable ---------------------------------------------------------------------------


def _limiter(on_store_error: str, store: LimitStore) -> RateLimiter:
    rules = [RateLimitRule(scope="key", requests_per_minute=5)]
    settings = RateLimitSettings(rules=rules, on_store_error=on_store_error)  # type: ignore[arg-type]
    return RateLimiter(settings, store, output_caps={})


async def _admit(limiter: RateLimiter):
    key = Principal(id="k", type="apikey", key_id="k", governed=True)
    return await limiter.admit(key, None, model="m", operation="chat", body={}, upstream_models=["x"])


async def test_a_closed_redis_port_fails_open_with_a_warning_and_a_count(caplog: pytest.LogCaptureFixture):
    errors: list[str] = []
    store = redis_store(unique_prefix(), url=f"redis://127.0.0.1:{free_port()}/0", errors=errors)
    limiter = _limiter("open", store)
    try:
        with pytest.raises(StoreUnavailable):
            await store.admit("a", [RPM], [1])
        with caplog.at_level(logging.WARNING, logger="tenantgate.ratelimit"):
            assert await _admit(limiter) is NOT_LIMITED
            assert await _admit(limiter) is NOT_LIMITED
        assert limiter.store_errors == 2
        assert [r.message for r in caplog.records] == ["rate-limit store unavailable"]  # once, not per call
    finally:
        await store.aclose()


async def test_a_closed_redis_port_fails_closed_with_503_when_configured():
    store = redis_store(unique_prefix(), url=f"redis://127.0.0.1:{free_port()}/0")
    limiter = _limiter("closed", store)
    try:
        with pytest.raises(RateLimiterUnavailable) as refused:
            await _admit(limiter)
        assert (refused.value.status, refused.value.code) == (503, "rate_limiter_unavailable")
        assert limiter.store_errors == 1
    finally:
        await store.aclose()


# The two stores agree ------------------------------------------------------------------------

_LIMITS = [Limit("requests|key|h|", LimitKind.REQUESTS, 6), Limit("tokens|key|h|", LimitKind.TOKENS, 120),
           Limit("concurrent|key|h|", LimitKind.CONCURRENT, 3)]
_ops = st.lists(st.one_of(
    st.tuples(st.just("admit"), st.lists(st.sampled_from(range(3)), min_size=1, max_size=3, unique=True),
              st.integers(1, 70)),
    st.tuples(st.just("end"), st.integers(0, 20), st.integers(0, 90)),
), max_size=25)


async def _replay(store: LimitStore, ops: list) -> list[tuple]:
    seen: list[tuple] = []
    admitted: list[tuple[str, list[Limit], int]] = []
    for index, op in enumerate(ops):
        if op[0] == "admit":
            limits = [_LIMITS[i] for i in op[1]]
            costs = [op[2] if limit.kind is LimitKind.TOKENS else 1 for limit in limits]
            verdict = await store.admit(f"a{index}", limits, costs)
            seen.append((verdict.admitted, verdict.remaining, verdict.retry_after_ms == 0))
            if verdict.admitted:
                admitted.append((f"a{index}", limits, op[2]))
        elif admitted:
            admission, limits, estimate = admitted.pop(op[1] % len(admitted))
            store.finish(admission, [Correction(lim.counter, estimate, op[2]) for lim in limits
                                     if lim.kind is LimitKind.TOKENS],
                         [lim.counter for lim in limits if lim.kind is LimitKind.CONCURRENT])
            await store.flush()
    return seen


async def _both(ops: list) -> tuple[list[tuple], list[tuple]]:
    prefix = unique_prefix()
    remote = redis_store(prefix)
    try:
        return await _replay(local_store(), ops), await _replay(remote, ops)
    finally:
        await remote.aclose()
        remove_keys(prefix)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops)
def test_the_redis_script_and_the_in_process_store_give_the_same_verdicts(ops):
    local, remote = asyncio.run(_both(ops))
    assert local == remote

"""One request's attempt plan: order, retries, Retry-After, budgets, ids and health feedback."""

from __future__ import annotations

from routing_world import ManualClock, model, router

from tenantgate.errors import (
    NoDeploymentAvailable,
    ResidencyUnavailable,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamUnavailable,
)
from tenantgate.routing.attempts import Attempts
from tenantgate.routing.health import BreakerState
from tenantgate.routing.residency import CompartmentRule


def _plan(r, name="m", rule=None, request_id="req"):
    tries = Attempts(r, request_id)
    route = r.route(name)
    tries.begin_model(route, r.order(name, [s.backend for s in route.states], rule))
    return tries


def test_each_deployment_is_tried_once_in_order_with_numbered_attempt_ids():
    r = router(model("m", [{}, {}, {}]))
    tries = _plan(r)
    seen = []
    while (attempt := tries.next()) is not None:
        tries.start(attempt)
        tries.failed(attempt, UpstreamUnavailable())
        seen.append((attempt.state.info.index, attempt.attempt_id, attempt.delay_s))
    assert seen == [(0, "req-a1", 0.0), (1, "req-a2", 0.0), (2, "req-a3", 0.0)]
    assert isinstance(tries.exhausted(), UpstreamUnavailable)
    assert all(s.in_flight == 0 for s in r.route("m").states)


def test_attempts_max_bounds_the_attempts():
    r = router(model("m", [{}, {}, {}, {}], attempts_max=2))
    tries = _plan(r)
    count = 0
    while (attempt := tries.next()) is not None:
        tries.start(attempt)
        tries.failed(attempt, UpstreamUnavailable())
        count += 1
    assert count == 2


def test_same_deployment_retries_back_off_and_honour_retry_after():
    clock = ManualClock()
    r = router(model("m", [{}], same_deployment_retries=2), clock=clock,
               settings={"retry": {"backoff_base_ms": 100, "retry_after_max_s": 3}})
    tries = _plan(r)
    first = tries.next()
    assert first is not None
    tries.start(first)
    tries.failed(first, UpstreamRateLimited(retry_after_s=2.0))
    second = tries.next()
    assert second is not None
    assert second.state is first.state
    assert 2.0 <= second.delay_s <= 2.1
    tries.start(second)
    tries.failed(second, UpstreamUnavailable())
    third = tries.next()
    assert third is not None
    assert 0.1 <= third.delay_s <= 0.2  # second round: backoff 0.2 with equal jitter
    assert third.attempt_id == "req-a3"


def test_a_retry_after_longer_than_the_maximum_is_not_waited_for():
    r = router(model("m", [{}], same_deployment_retries=1), settings={"retry": {"retry_after_max_s": 1}})
    tries = _plan(r)
    attempt = tries.next()
    assert attempt is not None
    tries.start(attempt)
    error = UpstreamRateLimited(retry_after_s=2.0)
    tries.failed(attempt, error)
    assert tries.next() is None
    assert tries.exhausted() is error  # the client gets the upstream's 429 and its hint


def test_the_retry_budget_stops_retries_once_spent():
    r = router(model("m", [{}, {}, {}]), settings={"retry": {"budget_burst": 1, "budget_ratio": 0,
                                                            "budget_refill_per_s": 0}})
    first = _plan(r, request_id="one")
    counts = []
    for tries in (first, _plan(r, request_id="two")):
        count = 0
        while (attempt := tries.next()) is not None:
            tries.start(attempt)
            tries.failed(attempt, UpstreamUnavailable())
            count += 1
        counts.append(count)
    assert counts == [2, 1]  # one retry in the budget, then first attempts only


def test_failures_open_the_breaker_rate_limits_cool_down_and_client_errors_count_as_healthy():
    clock = ManualClock()
    r = router(model("m", [{}, {}, {}]), clock=clock, settings={"breaker": {"min_requests": 2}})
    a, b, c = r.route("m").states
    errors = {0: UpstreamUnavailable(), 1: UpstreamRateLimited(retry_after_s=4.0), 2: UpstreamRejectedRequest()}
    for _ in range(2):
        tries = _plan(r)
        while (attempt := tries.next()) is not None:
            tries.start(attempt)
            tries.failed(attempt, errors[attempt.state.info.index])
    assert a.breaker.state(clock()) is BreakerState.OPEN
    assert b.breaker.state(clock()) is BreakerState.CLOSED
    assert b.cooling_until == clock() + 4.0
    assert c.breaker.state(clock()) is BreakerState.CLOSED
    assert [s.info.index for s in r.order("m", [s.backend for s in (a, b, c)], None).states] == [2, 1]


def test_time_to_first_byte_feeds_the_average_and_abandoned_attempts_free_their_slot():
    clock = ManualClock()
    r = router(model("m", [{}]), clock=clock, settings={"latency": {"ewma_alpha": 0.5}})
    state = r.route("m").states[0]
    for ttft in (0.2, 0.4):
        tries = _plan(r)
        attempt = tries.next()
        assert attempt is not None
        tries.start(attempt)
        assert state.in_flight == 1
        clock.advance(ttft)
        tries.first_byte(attempt)
        tries.stream_ended(attempt, None, False)
        assert state.in_flight == 0
    assert abs((state.ewma_ttft_s or 0) - 0.3) < 1e-9


def test_nothing_eligible_in_a_pinned_residency_is_a_residency_error():
    r = router(model("m", [{"residency": ["us"]}]))
    rule = CompartmentRule(("Finance",), frozenset({"eu"}), True)
    tries = _plan(r, rule=rule)
    assert tries.next() is None
    error = tries.exhausted()
    assert isinstance(error, ResidencyUnavailable)
    assert isinstance(error, NoDeploymentAvailable)
    assert error.status == 503
    assert "eu" in error.message


def test_when_every_breaker_is_open_the_error_says_when_the_first_one_probes_again():
    clock = ManualClock()
    r = router(model("m", [{}, {}]), clock=clock, settings={"breaker": {"min_requests": 1, "cooldown_s": 10}})
    first, second = r.route("m").states
    first.breaker.record(False, clock())
    clock.advance(4)
    second.breaker.record(False, clock())
    tries = _plan(r)
    assert tries.next() is None
    error = tries.exhausted()
    assert isinstance(error, NoDeploymentAvailable)
    assert error.retry_after_s == 6.0

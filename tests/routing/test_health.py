"""The circuit breaker: opens on the window's failure ratio, cools down, probes, closes."""

from __future__ import annotations

import pytest

from tenantgate.routing.health import BreakerPolicy, BreakerState, CircuitBreaker

POLICY = BreakerPolicy(window_s=10.0, min_requests=4, failure_ratio=0.5, cooldown_s=5.0, half_open_probes=1)


def test_the_breaker_opens_only_past_min_requests_and_the_failure_ratio():
    breaker = CircuitBreaker(POLICY)
    for ok in (False, False, False):
        breaker.record(ok, 100.0)
    assert breaker.state(100.0) is BreakerState.CLOSED  # 3 < min_requests
    breaker.record(True, 100.1)
    assert breaker.state(100.1) is BreakerState.OPEN  # 3 failures of 4
    assert not breaker.admits(104.9)


def test_successes_keep_it_closed():
    breaker = CircuitBreaker(POLICY)
    for i in range(20):
        breaker.record(i % 3 != 2, 100.0 + i * 0.1)  # a third fail
    assert breaker.state(102.0) is BreakerState.CLOSED


def test_old_failures_slide_out_of_the_window():
    breaker = CircuitBreaker(POLICY)
    for _ in range(3):
        breaker.record(False, 100.0)
    for _ in range(3):
        breaker.record(True, 111.0)  # the failures are more than window_s old
    breaker.record(False, 111.1)
    assert breaker.state(111.1) is BreakerState.CLOSED
    assert breaker.failure_ratio == pytest.approx(0.25)


def _opened() -> CircuitBreaker:
    breaker = CircuitBreaker(POLICY)
    for _ in range(4):
        breaker.record(False, 100.0)
    return breaker


def test_after_the_cooldown_one_probe_is_admitted_and_a_success_closes_it():
    breaker = _opened()
    assert breaker.state(105.0) is BreakerState.HALF_OPEN
    assert breaker.begin(105.0)
    assert not breaker.begin(105.0)  # one probe at a time
    breaker.record(True, 105.2)
    assert breaker.state(105.2) is BreakerState.CLOSED
    assert breaker.failure_ratio == 0.0


def test_a_failed_probe_opens_it_for_another_cooldown():
    breaker = _opened()
    assert breaker.begin(105.0)
    breaker.record(False, 105.5)
    assert breaker.state(110.4) is BreakerState.OPEN
    assert breaker.state(110.5) is BreakerState.HALF_OPEN


def test_a_throttled_probe_frees_its_slot_without_a_verdict():
    breaker = _opened()
    assert breaker.begin(105.0)
    breaker.record(None, 105.1)
    assert breaker.state(105.1) is BreakerState.HALF_OPEN
    assert breaker.begin(105.2)


def test_a_disabled_breaker_never_opens():
    breaker = CircuitBreaker(BreakerPolicy(enabled=False, min_requests=1))
    for _ in range(50):
        breaker.record(False, 100.0)
    assert breaker.state(100.0) is BreakerState.CLOSED


def _probe(breaker: CircuitBreaker, results: str, now: float) -> None:
    """Feed active probe results: ``+`` a success, ``-`` a failure."""
    for index, mark in enumerate(results):
        breaker.probed(mark == "+", now + index * 0.01, unhealthy_after=2, healthy_after=3)


def test_failed_probes_in_a_row_open_a_closed_breaker_without_live_traffic():
    breaker = CircuitBreaker(POLICY)
    _probe(breaker, "-+-", 100.0)
    assert breaker.state(100.1) is BreakerState.CLOSED  # never two failures in a row
    _probe(breaker, "-", 100.2)
    assert breaker.state(100.2) is BreakerState.OPEN
    assert breaker.probe_streak == -2


def test_successful_probes_in_a_row_close_an_open_breaker_before_its_cooldown():
    breaker = _opened()
    _probe(breaker, "++-++", 100.0)
    assert breaker.state(100.1) is BreakerState.OPEN  # the failure restarted the run
    _probe(breaker, "+", 100.2)
    assert breaker.state(100.2) is BreakerState.CLOSED
    assert breaker.admits(100.2)


def test_probes_move_nothing_when_breakers_are_off():
    breaker = CircuitBreaker(BreakerPolicy(enabled=False))
    _probe(breaker, "-----", 100.0)
    assert breaker.state(101.0) is BreakerState.CLOSED
    assert breaker.probe_streak == -5

"""The sliding-window arithmetic against a brute-force model: exact per window, waits that are right."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantgate.ratelimit.window import SlidingWindow, Slots

WINDOW = 1000


def _charged_in_window(log: list[tuple[int, int]], now: int) -> int:
    return sum(weight for at, weight in log if now < at + WINDOW)


def test_a_burst_admits_exactly_the_limit_and_the_next_fits_when_the_oldest_leaves():
    window = SlidingWindow(WINDOW)
    admitted = 0
    for i in range(90):
        now = i  # a burst spread over 90 ms
        window.expire(now)
        if window.fits(1, 30):
            window.charge(f"r{i}", 1, now)
            admitted += 1
    assert admitted == 30
    assert window.wait_ms(1, 30, 89) == 0 + WINDOW - 89  # the first, charged at 0, leaves at 1000
    window.expire(999)
    assert not window.fits(1, 30)
    window.expire(1000)
    assert window.fits(1, 30)
    assert window.total == 29


def test_a_cost_above_the_limit_waits_a_whole_window_and_never_fits():
    window = SlidingWindow(WINDOW)
    assert window.wait_ms(11, 10, 0) == WINDOW
    assert not window.fits(11, 10)


def test_a_correction_changes_the_total_and_an_expired_entry_is_left_alone():
    window = SlidingWindow(WINDOW)
    window.charge("a", 50, 0)
    window.charge("b", 50, 10)
    window.correct("a", 5)
    assert window.total == 55
    window.expire(1000)
    window.correct("a", 40)  # gone from the window: nothing to correct
    assert window.total == 50
    assert window.reset_ms(1000) == 10


def test_slots_are_released_or_expire_with_their_lease():
    slots = Slots()
    slots.take("a", 100)
    slots.take("b", 200)
    slots.release("a")
    slots.release("a")  # twice is harmless
    assert len(slots) == 1
    slots.expire(199)
    assert len(slots) == 1
    slots.expire(200)
    assert len(slots) == 0


_steps = st.lists(st.tuples(st.integers(0, 400), st.integers(1, 40), st.integers(0, 40)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(steps=_steps, limit=st.integers(1, 100))
def test_never_more_than_the_limit_in_any_window_and_waits_are_exact(steps, limit):
    """Each step: time passes, a call of ``cost`` asks, and (if admitted) is corrected to ``actual``."""
    window = SlidingWindow(WINDOW)
    log: list[tuple[int, int]] = []  # (at, weight) of admitted calls, the model
    now = 0
    for index, (gap, cost, actual) in enumerate(steps):
        now += gap
        window.expire(now)
        assert window.total == _charged_in_window(log, now)
        wait = window.wait_ms(cost, limit, now)
        fits = _charged_in_window(log, now) + cost <= limit
        assert window.fits(cost, limit) == fits == (wait == 0)
        if wait and cost <= limit:  # it fits exactly ``wait`` ms later, not a millisecond earlier
            assert _charged_in_window(log, now + wait) + cost <= limit
            assert _charged_in_window(log, now + wait - 1) + cost > limit
        if fits:
            window.charge(f"c{index}", cost, now)
            corrected = min(actual, cost)  # usage is at most the estimate here
            window.correct(f"c{index}", corrected)
            log.append((now, corrected))
        for start in {at for at, _ in log}:  # every window that starts at a charge
            assert sum(w for at, w in log if start <= at < start + WINDOW) <= limit

"""Retry budget and jittered backoff."""

from __future__ import annotations

import random

from tenantgate.routing.retry import RetryBudget, RetryPolicy, backoff_s


def test_the_budget_allows_its_burst_then_only_what_requests_and_time_earn():
    budget = RetryBudget(ratio=0.5, burst=2, refill_per_s=0.0, now=0.0)
    assert [budget.withdraw(0.0) for _ in range(3)] == [True, True, False]
    budget.deposit(0.0)
    assert not budget.withdraw(0.0)  # half a retry earned
    budget.deposit(0.0)
    assert budget.withdraw(0.0)


def test_the_budget_refills_with_time_up_to_its_burst():
    budget = RetryBudget(ratio=0.0, burst=3, refill_per_s=1.0, now=0.0)
    for _ in range(3):
        assert budget.withdraw(0.0)
    assert not budget.withdraw(0.5)
    assert budget.withdraw(1.0)
    budget.deposit(100.0)
    assert budget.tokens == 3


def test_backoff_grows_exponentially_with_equal_jitter_and_a_ceiling():
    policy = RetryPolicy(backoff_base_s=0.1, backoff_max_s=0.4)
    rng = random.Random(1)
    for retry_round, step in ((1, 0.1), (2, 0.2), (3, 0.4), (6, 0.4)):
        waits = [backoff_s(retry_round, policy, rng) for _ in range(200)]
        assert min(waits) >= step / 2
        assert max(waits) <= step
        assert max(waits) - min(waits) > step / 4  # jittered

import random

import pytest

from tenantgate.storage import RetryPolicy


def test_delay_is_full_jitter_under_a_capped_exponential_ceiling():
    policy = RetryPolicy(base_delay_ms=2, max_delay_ms=50, rng=lambda: 0.999999)
    ceilings = [round(policy.delay_ms(n)) for n in range(1, 9)]
    assert ceilings == [2, 4, 8, 16, 32, 50, 50, 50]


def test_delays_replay_exactly_from_a_seeded_rng():
    first = RetryPolicy(rng=random.Random(42).random)
    second = RetryPolicy(rng=random.Random(42).random)
    assert [first.delay_ms(n) for n in range(1, 6)] == [second.delay_ms(n) for n in range(1, 6)]


async def test_wait_after_uses_the_injected_sleep_in_seconds():
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = RetryPolicy(base_delay_ms=10, sleep=fake_sleep, rng=lambda: 0.5)
    await policy.wait_after(2)
    assert slept == [0.01]


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_delay_ms": -1}, {"base_delay_ms": 10, "max_delay_ms": 5}]
)
def test_nonsensical_policies_are_rejected(kwargs):
    with pytest.raises(ValueError, match=r"max_attempts|base_delay_ms"):
        RetryPolicy(**kwargs)

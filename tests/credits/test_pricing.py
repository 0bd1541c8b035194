"""Prices and costs are exact integers; the rate card is effective-dated and region-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantgate.credits.pricing import (
    Price,
    RateCard,
    RateEntry,
    UnpricedModel,
    format_credits,
    hold_amount,
    to_micro,
    usage_cost,
)

JAN, JUN = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
GPT4O = Price.per_million("2.50", "10.00", cached_input="1.25")


def test_credits_convert_to_micro_credits_exactly_and_refuse_finer_precision():
    assert to_micro("2.50") == 2_500_000
    assert to_micro(Decimal("0.000001")) == 1
    with pytest.raises(ValueError, match="precision"):
        to_micro("0.0000001")
    assert format_credits(1_234_567) == "1.234567"
    assert format_credits(-5) == "-0.000005"


def test_a_cost_is_uncached_cached_and_output_tokens_at_their_prices_rounded_up_once():
    # 1,000 prompt (200 cached) and 500 output tokens of gpt-4o:
    # 800 x 2.5 + 200 x 1.25 + 500 x 10 = 7,250 micro-credits (exactly: 7,250,000,000 / 1M)
    assert usage_cost(GPT4O, prompt_tokens=1000, completion_tokens=500, cached_tokens=200) == 7250
    assert usage_cost(GPT4O, prompt_tokens=1, completion_tokens=0) == 3  # 2.5 rounds up to 3
    assert usage_cost(GPT4O, prompt_tokens=0, completion_tokens=0) == 0


def test_cached_tokens_beyond_the_prompt_are_not_discounted():
    assert usage_cost(GPT4O, prompt_tokens=10, completion_tokens=0, cached_tokens=99) == \
        usage_cost(GPT4O, prompt_tokens=10, completion_tokens=0, cached_tokens=10)


@given(prompt=st.integers(0, 10**7), cached=st.integers(0, 10**7), output=st.integers(0, 10**6),
       extra_prompt=st.integers(0, 1000), extra_output=st.integers(0, 1000))
def test_the_hold_for_a_request_covers_any_usage_within_its_bounds(prompt, cached, output,
                                                                    extra_prompt, extra_output):
    hold = hold_amount(GPT4O, prompt_tokens_max=prompt + extra_prompt, output_tokens_max=output + extra_output)
    assert usage_cost(GPT4O, prompt_tokens=prompt, completion_tokens=output, cached_tokens=cached) <= hold


def test_the_rate_card_picks_the_entry_in_force_and_a_regions_own_price_first():
    card = RateCard([
        RateEntry("gpt-4o", Price.per_million("5", "15"), JAN),
        RateEntry("gpt-4o", GPT4O, JUN),
        RateEntry("gpt-4o", Price.per_million("3", "12"), JUN, region="eu-frankfurt-1"),
    ])
    assert card.price("gpt-4o", datetime(2025, 3, 1, tzinfo=UTC)).input == 5_000_000
    assert card.price("gpt-4o", JUN) == GPT4O
    assert card.price("gpt-4o", JUN, "eu-frankfurt-1").input == 3_000_000
    assert card.price("gpt-4o", datetime(2025, 3, 1, tzinfo=UTC), "eu-frankfurt-1").input == 5_000_000
    with pytest.raises(UnpricedModel):
        card.price("gpt-4o", datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(UnpricedModel):
        card.price("o3", JUN)

"""The rate card's pure rules: most specific key, effective dating, ties, embeddings, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tenantgate.credits.pricing import Price, RateCard, RateEntry, UnpricedModel
from tenantgate.credits.rate_card_entries import (
    check_withdrawable,
    config_entries,
    merged_card,
    price_micros,
    start_of,
)
from tenantgate.errors import InvalidParameterValue, RateCardEntryInEffect
from tenantgate.settings import RateSettings

JAN, MAR, JUN = (datetime(2025, m, 1, tzinfo=UTC) for m in (1, 3, 6))


def _p(input_: str, output: str = "0", **extra: str) -> Price:
    return Price.per_million(input_, output, **extra)


def _api(model: str, price: Price, at: datetime, **extra) -> RateEntry:
    return RateEntry(model, price, at, source="api", entry_id=extra.pop("entry_id", "rce_x"),
                     created_at=extra.pop("created_at", at), **extra)


def test_the_most_specific_key_in_force_wins_region_before_deployment_type():
    card = RateCard([
        RateEntry("m", _p("1"), JAN),
        RateEntry("m", _p("2"), JAN, deployment_type="dedicated"),
        RateEntry("m", _p("3"), JAN, region="eu"),
        RateEntry("m", _p("4"), JAN, region="eu", deployment_type="dedicated"),
    ])
    assert card.price("m", MAR, "eu", deployment_type="dedicated").input == 4_000_000
    assert card.price("m", MAR, "eu", deployment_type="on_demand").input == 3_000_000
    assert card.price("m", MAR, "us", deployment_type="dedicated").input == 2_000_000
    assert card.price("m", MAR, "us").input == 1_000_000
    assert card.price("m", MAR).input == 1_000_000  # the old positional signature still works
    assert card.price("m", MAR, None, deployment_type="dedicated").input == 2_000_000


def test_a_specific_key_not_yet_in_force_falls_back_to_the_wildcard_in_force():
    card = RateCard([RateEntry("m", _p("1"), JAN), RateEntry("m", _p("9"), JUN, deployment_type="dedicated")])
    assert card.price("m", MAR, deployment_type="dedicated").input == 1_000_000
    assert card.price("m", JUN, deployment_type="dedicated").input == 9_000_000


def test_within_a_key_the_latest_effective_from_not_after_the_instant_wins():
    card = RateCard([RateEntry("m", _p("1"), JAN), _api("m", _p("2"), MAR), RateEntry("m", _p("3"), JUN)])
    assert card.price("m", JAN).input == 1_000_000
    assert card.price("m", MAR - timedelta(microseconds=1)).input == 1_000_000
    assert card.price("m", MAR).input == 2_000_000
    assert card.price("m", JUN + timedelta(days=1)).input == 3_000_000
    with pytest.raises(UnpricedModel):
        card.price("m", JAN - timedelta(seconds=1))


def test_on_a_tie_the_administered_entry_beats_the_configured_one_then_the_newest():
    configured = RateEntry("m", _p("1"), MAR)
    older = _api("m", _p("2"), MAR, entry_id="rce_a", created_at=JAN)
    newer = _api("m", _p("3"), MAR, entry_id="rce_b", created_at=JAN + timedelta(days=1))
    assert merged_card([configured], [older]).price("m", MAR).input == 2_000_000
    assert merged_card([configured], [newer, older]).price("m", MAR).input == 3_000_000
    assert merged_card([configured], []).price("m", MAR).input == 1_000_000


def test_an_embedding_is_priced_at_the_embedding_price_when_set_else_at_the_input_price():
    card = RateCard([RateEntry("e", _p("0.10", "5", embedding="0.02"), JAN), RateEntry("f", _p("0.10"), JAN)])
    assert card.price("e", MAR, operation="embedding") == Price(20_000, 0)
    assert card.price("e", MAR, operation="chat").input == 100_000
    assert card.price("e", MAR).output == 5_000_000
    assert card.price("f", MAR, operation="embedding").input == 100_000


def test_the_card_in_force_at_an_instant_has_one_entry_per_key():
    entries = [RateEntry("m", _p("1"), JAN), RateEntry("m", _p("2"), MAR), RateEntry("m", _p("5"), JAN, region="eu"),
               RateEntry("m", _p("7"), JUN, region="us"), RateEntry("n", _p("3"), JUN)]
    card = RateCard(entries)
    assert [(e.model, e.region, e.price.input) for e in card.in_force(MAR)] == [
        ("m", None, 2_000_000), ("m", "eu", 5_000_000)]
    assert len(card.entries) == 5
    assert "n" in card
    assert "o" not in card


def test_prices_are_exact_non_negative_and_at_most_six_decimals():
    assert price_micros("2.5", "input_per_1m") == 2_500_000
    assert price_micros(" 0.000001 ", "p") == 1
    assert price_micros("1e3", "p") == 1_000_000_000
    for bad, says in (("-1", "non-negative"), ("0.0000001", "6 decimals"), ("abc", "decimal number"),
                      ("NaN", "non-negative"), ("Infinity", "non-negative"), ("1e10", "at most")):
        with pytest.raises(InvalidParameterValue, match=says) as caught:
            price_micros(bad, "output_per_1m")
        assert caught.value.param == "output_per_1m"


def test_a_new_entry_starts_now_rounded_up_or_later_never_in_the_past():
    now = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    next_second = datetime(2025, 3, 1, 12, 0, 1, tzinfo=UTC)
    assert start_of(None, now) == next_second
    assert start_of(now - timedelta(seconds=59), now) == next_second  # clocks differ: means now
    assert start_of(JUN, now) == JUN
    with pytest.raises(InvalidParameterValue, match="in the past") as caught:
        start_of(now - timedelta(seconds=61), now)
    assert caught.value.param == "effective_from"


def test_only_an_entry_still_in_the_future_can_be_withdrawn():
    entry = _api("m", _p("1"), MAR)
    check_withdrawable(entry, MAR - timedelta(microseconds=1))
    for now in (MAR, JUN):
        with pytest.raises(RateCardEntryInEffect, match="cannot be withdrawn"):
            check_withdrawable(entry, now)


def test_config_lines_become_entries_with_deployment_type_embeddings_and_utc_times():
    line = RateSettings(model="m", input_per_1m=Decimal("1.5"), output_per_1m=Decimal(2),
                        embedding_per_1m=Decimal("0.1"), deployment_type="dedicated",
                        effective_from=datetime(2025, 1, 1))  # no zone: UTC
    (entry,) = config_entries([line])
    assert entry.price == Price(1_500_000, 2_000_000, None, 100_000)
    assert (entry.deployment_type, entry.source, entry.entry_id) == ("dedicated", "config", None)
    assert entry.effective_from == JAN


def test_the_rate_card_rules_do_no_io_and_read_no_clock():
    import ast
    from pathlib import Path

    credits = Path(__file__).parents[2] / "src" / "tenantgate" / "credits"
    forbidden = ("sqlalchemy", "tenantgate.storage", "asyncio", "time", "random", "secrets", "httpx")
    for name in ("pricing.py", "rate_card_entries.py"):
        source = (credits / name).read_text()
        imported = {alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module for node in ast.walk(ast.parse(source))
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not {i for i in imported if i.split(".")[0] in forbidden or i.startswith(forbidden)}, name
        assert ".now(" not in source, name


def test_a_remembered_price_gives_way_to_a_later_entry_and_still_answers_for_the_past():
    """``price`` remembers answers per key; each holds only until a matching entry starts."""
    card = RateCard([
        RateEntry("m", _p("1"), JAN),
        RateEntry("m", _p("3"), MAR, region="eu"),  # a more specific key starts later
        RateEntry("m", _p("5"), JUN),  # and the general price changes later still
    ])
    instants = [JAN + timedelta(days=d) for d in range(0, 200, 7)]
    for at in [*instants, *reversed(instants), MAR - timedelta(microseconds=1), MAR, JUN]:
        uncached = RateCard(card.entries).entry("m", at, "eu")
        assert uncached is not None
        assert card.price("m", at, "eu") == uncached.price, at
        general = RateCard(card.entries).entry("m", at)
        assert general is not None
        assert card.price("m", at) == general.price, at

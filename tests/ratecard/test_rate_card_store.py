"""Administered rate-card entries on SQLite and PostgreSQL, and the source that feeds metering."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tenantgate.credits.pricing import Price, RateCard
from tenantgate.credits.rate_card_source import RateCardSource
from tenantgate.credits.rate_card_store import RateCardStore
from tenantgate.errors import InvalidParameterValue, RateCardEntryInEffect, RateCardEntryNotFound
from tenantgate.settings import CreditsSettings, RateSettings

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Target:
    rate_card: RateCard


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def store(database, clock) -> RateCardStore:
    return RateCardStore(database, clock=clock)


async def test_entries_read_back_exactly_with_who_and_when(store, clock):
    price = Price(2_500_000, 10_000_000, 1_250_000, 130_000)
    made = await store.add(model="gpt", price=price, created_by="usr_a", region="eu",
                           deployment_type="dedicated", effective_from=START + timedelta(days=1))
    (read,) = await store.list_entries()
    assert read == made
    assert (read.price, read.region, read.deployment_type, read.source) == (price, "eu", "dedicated", "api")
    assert read.entry_id.startswith("rce_")
    assert read.created_by == "usr_a"
    assert read.created_at == START
    assert read.effective_from == START + timedelta(days=1)
    assert await store.get(made.entry_id) == made


async def test_an_entry_made_now_starts_at_the_next_second_and_never_in_the_past(store, clock):
    clock.now = START + timedelta(microseconds=300)
    made = await store.add(model="m", price=Price(1), created_by="u")
    assert made.effective_from == START + timedelta(seconds=1)
    with pytest.raises(InvalidParameterValue):
        await store.add(model="m", price=Price(1), created_by="u", effective_from=START - timedelta(hours=1))
    assert len(await store.list_entries()) == 1


async def test_lists_filter_by_model_in_key_then_time_order(store):
    for model, starts in (("b", 3), ("a", 2), ("a", 1)):
        await store.add(model=model, price=Price(starts), created_by="u",
                        effective_from=START + timedelta(days=starts))
    assert [(e.model, e.price.input) for e in await store.list_entries()] == [("a", 1), ("a", 2), ("b", 3)]
    assert [e.model for e in await store.list_entries(model="b")] == ["b"]


async def test_a_future_entry_can_be_withdrawn_once_and_a_past_one_never(store, clock):
    future = await store.add(model="m", price=Price(1), created_by="u", effective_from=START + timedelta(hours=1))
    current = await store.add(model="m", price=Price(2), created_by="u")
    before = await store.revision()
    assert await store.withdraw(future.entry_id, by="usr_b") == future
    assert await store.revision() == (before[0], before[1] + 1)
    assert [e.entry_id for e in await store.list_entries()] == [current.entry_id]
    with pytest.raises(RateCardEntryNotFound):
        await store.withdraw(future.entry_id, by="usr_b")
    clock.now = current.effective_from
    with pytest.raises(RateCardEntryInEffect):
        await store.withdraw(current.entry_id, by="usr_b")
    with pytest.raises(RateCardEntryNotFound):
        await store.withdraw("rce_nothing", by="usr_b")
    assert await store.revision() == (2, 1)


async def test_the_revision_moves_with_every_addition_and_withdrawal(store):
    assert await store.revision() == (0, 0)
    first = await store.add(model="m", price=Price(1), created_by="u", effective_from=START + timedelta(days=1))
    assert await store.revision() == (1, 0)
    await store.withdraw(first.entry_id, by="u")
    await store.add(model="m", price=Price(1), created_by="u", effective_from=START + timedelta(days=1))
    assert await store.revision() == (2, 1)


async def test_concurrent_withdrawals_of_one_entry_succeed_once(database, clock):
    stores = [RateCardStore(database, clock=clock) for _ in range(4)]
    entry = await stores[0].add(model="m", price=Price(1), created_by="u", effective_from=START + timedelta(days=1))
    results = await asyncio.gather(*(s.withdraw(entry.entry_id, by="u") for s in stores), return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert all(isinstance(r, RateCardEntryNotFound) for r in results if isinstance(r, Exception))


def _settings(**extra) -> CreditsSettings:
    line = RateSettings(model="m", input_per_1m=Decimal(1), effective_from=START - timedelta(days=30))
    return CreditsSettings(enabled=True, rate_card=[line], rate_card_refresh_s=0.1, **extra)


async def test_the_source_merges_config_and_database_and_feeds_its_target(store, clock):
    target = Target(RateCard([]))
    source = RateCardSource(_settings(), store, target=target)
    await store.add(model="m", price=Price(5_000_000), created_by="u", effective_from=START + timedelta(hours=1))
    await source.start()
    try:
        assert target.rate_card is source.card
        assert target.rate_card.price("m", START).input == 1_000_000
        assert target.rate_card.price("m", START + timedelta(hours=1)).input == 5_000_000
        newer = await store.add(model="m", price=Price(7_000_000), created_by="u")
        for _ in range(100):  # the poll picks it up within a few intervals
            if target.rate_card.price("m", newer.effective_from).input == 7_000_000:
                break
            await asyncio.sleep(0.05)
        assert target.rate_card.price("m", newer.effective_from).input == 7_000_000
        assert await source.refresh() is False  # nothing moved: the revision check says so
    finally:
        await source.aclose()


async def test_a_withdrawal_reaches_the_card_on_refresh(store):
    source = RateCardSource(_settings(), store)
    entry = await store.add(model="m", price=Price(9), created_by="u", effective_from=START + timedelta(days=1))
    await source.refresh(force=True)
    assert source.card.price("m", START + timedelta(days=2)).input == 9
    await store.withdraw(entry.entry_id, by="u")
    assert await source.refresh() is True
    assert source.card.price("m", START + timedelta(days=2)).input == 1_000_000

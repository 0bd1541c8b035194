"""Budgets on SQLite and PostgreSQL: matching, funding once, limit changes by correction, status."""

import asyncio

import pytest
import sqlalchemy as sa
from credit_helpers import CREDIT, FakeClock, at, check_invariants, hold_only, replicas, spend

from tenantgate.credits import accounts as names
from tenantgate.credits.accounts import Period
from tenantgate.credits.budgets import TENANCY_SCOPE_ID
from tenantgate.credits.store import CreditStore
from tenantgate.errors import InvalidParameterValue, NotFound
from tenantgate.ledger import AccountFlags


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(2026, 3, 1))


@pytest.fixture
def store(database, clock) -> CreditStore:
    return CreditStore(database, clock=clock)


async def key_budget(store: CreditStore, limit=100, **fields):
    fields.setdefault("period", Period.MONTHLY)
    return await store.set_budget(scope_type="key", scope_id="key_1", limit=limit * CREDIT, **fields)


async def remaining(store: CreditStore, account_id: str) -> int:
    (record,) = await store.ledger.lookup_accounts([account_id])
    b = record.balance
    return b.credits_posted - b.debits_posted - b.debits_pending


async def test_budgets_for_matches_every_scope_kind_and_the_ancestors_in_one_query(store, database):
    made = {}
    for name, scope_type, scope_id in [
        ("key", "key", "key_1"), ("user", "user", "usr_1"), ("leaf", "compartment", "cmp_leaf"),
        ("mid", "compartment", "cmp_mid"), ("root", "compartment", "cmp_root"),
        ("tenancy", "tenancy", TENANCY_SCOPE_ID), ("other key", "key", "key_2"),
        ("other user", "user", "usr_2"), ("elsewhere", "compartment", "cmp_other"),
    ]:
        made[name] = await store.set_budget(scope_type=scope_type, scope_id=scope_id, period=Period.MONTHLY,
                                            limit=CREDIT, name=name)
    daily = await store.set_budget(scope_type="key", scope_id="key_1", period=Period.DAILY, limit=CREDIT)
    statements: list[str] = []
    sa.event.listen(database.engine.sync_engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))
    found = await store.budgets_for(key_id="key_1", user_id="usr_1",
                                    compartment_ids=["cmp_leaf", "cmp_mid", "cmp_root"])
    assert [b.id for b in found] == [daily.id] + [made[n].id for n in ("key", "user", "leaf", "mid", "root", "tenancy")]
    assert len([s for s in statements if "credit_budgets" in s]) == 1
    only_tenancy = await store.budgets_for(key_id=None, user_id=None, compartment_ids=[])
    assert [b.name for b in only_tenancy] == ["tenancy"]


async def test_set_budget_replaces_the_one_budget_of_a_scope_and_period(store):
    first = await key_budget(store, name="team", thresholds=(90, 50))
    assert first.id.startswith("bud_")
    assert first.thresholds == (50, 90)
    second = await key_budget(store, limit=200, hard=False, webhook_url="http://127.0.0.1:1/hook")
    assert (second.id, second.name, second.created_at) == (first.id, "team", first.created_at)
    assert (second.limit, second.hard, second.thresholds) == (200 * CREDIT, False, (50, 80, 100))
    assert await store.list_budgets() == [second]
    await store.delete_budget(first.id)
    assert await store.list_budgets() == []
    with pytest.raises(NotFound):
        await store.delete_budget(first.id)
    with pytest.raises(InvalidParameterValue):
        await key_budget(store, limit=-1)


async def test_ensure_budget_account_racing_from_four_replicas_funds_exactly_once(migrated_database_url, clock):
    async with replicas(migrated_database_url, clock, count=4) as stores:
        one = stores[0]
        budget = await key_budget(one)
        ids = await asyncio.gather(*(s.ensure_budget_account(budget, "2026-03") for s in stores * 25))
        assert set(ids) == {"bud:" + budget.id + ":2026-03"}
        (account,) = await one.ledger.lookup_accounts([ids[0]])
        assert account.balance.credits_posted == 100 * CREDIT
        assert account.account.flags == AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        transfers = await one.ledger.get_account_transfers(ids[0])
        assert [t.id for t in transfers] == [names.funding_transfer_id(budget.id, "2026-03")]
        await check_invariants(one)


async def test_a_stale_copy_of_a_budget_funds_the_limit_stored_now(store):
    stale = await key_budget(store, limit=100)
    await key_budget(store, limit=70)
    account = await store.ensure_budget_account(stale, "2026-04")
    assert await remaining(store, account) == 70 * CREDIT


async def test_changing_the_limit_mid_period_funds_the_difference_by_correcting_transfers(store, clock):
    budget = await key_budget(store, limit=100)
    account = await store.ensure_budget_account(budget, "2026-03")
    await spend(store, account, 30 * CREDIT, "r1", to=names.BUDGETS)
    raised = await key_budget(store, limit=150)
    status = await store.budget_status(raised, clock.now)
    assert (status.limit, status.spent, status.remaining) == (150 * CREDIT, 30 * CREDIT, 120 * CREDIT)
    lowered = await key_budget(store, limit=50)
    status = await store.budget_status(lowered, clock.now)
    assert (status.limit, status.spent, status.remaining) == (50 * CREDIT, 30 * CREDIT, 20 * CREDIT)
    below = await key_budget(store, limit=10)  # below what was spent: nothing is left, nothing is rewritten
    status = await store.budget_status(below, clock.now)
    assert (status.spent, status.remaining) == (30 * CREDIT, 0)
    restored = await key_budget(store, limit=100)
    status = await store.budget_status(restored, clock.now)
    assert (status.spent, status.remaining) == (30 * CREDIT, 70 * CREDIT)
    transfers = await store.ledger.get_account_transfers(account)
    assert [t.transfer.code for t in transfers].count(names.TransferCode.CORRECTION) == 4
    assert await store.ensure_budget_account(restored, "2026-04") != account
    assert await remaining(store, budget.account_id("2026-04")) == 100 * CREDIT
    await check_invariants(store)


async def test_concurrent_limit_changes_leave_the_ledger_funded_at_the_stored_limit(migrated_database_url, clock):
    async with replicas(migrated_database_url, clock) as (one, two):
        budget = await key_budget(one, limit=100)
        account = await one.ensure_budget_account(budget, "2026-03")
        await spend(one, account, 5 * CREDIT, "r1", to=names.BUDGETS)
        limits = [40, 250, 120, 60, 180, 90]
        await asyncio.gather(*(key_budget(s, limit=v) for s, v in zip((one, two) * 3, limits, strict=True)))
        (stored,) = await two.list_budgets()
        assert stored.limit in [v * CREDIT for v in limits]
        status = await one.budget_status(stored, clock.now)
        assert status.spent + status.remaining == stored.limit
        await check_invariants(one)


async def test_a_hard_budget_refuses_what_a_soft_one_lets_through(store):
    hard = await key_budget(store, limit=10)
    soft = await store.set_budget(scope_type="user", scope_id="usr_1", period=Period.MONTHLY,
                                  limit=10 * CREDIT, hard=False)
    hard_account = await store.ensure_budget_account(hard, "2026-03")
    soft_account = await store.ensure_budget_account(soft, "2026-03")
    with pytest.raises(AssertionError):
        await spend(store, hard_account, 11 * CREDIT, "r1", to=names.BUDGETS)
    await spend(store, soft_account, 11 * CREDIT, "r2", to=names.BUDGETS)
    status = await store.budget_status(soft, at(2026, 3, 2))
    assert (status.spent, status.remaining) == (11 * CREDIT, 0)
    await check_invariants(store)


async def test_budget_status_forecasts_exhaustion_from_the_last_seven_days(store, clock):
    budget = await key_budget(store, limit=1000)
    fresh = await store.budget_status(budget, clock.now)
    assert (fresh.period, fresh.spent, fresh.held, fresh.remaining, fresh.forecast_exhausted_at) == (
        "2026-03", 0, 0, 1000 * CREDIT, None)
    account = await store.ensure_budget_account(budget, "2026-03")
    clock.set(at(2026, 3, 2, 11))
    await spend(store, account, 100 * CREDIT, "old", to=names.BUDGETS)  # before the window
    for day in range(4, 11):
        clock.set(at(2026, 3, day, 11))
        await spend(store, account, 100 * CREDIT, f"d{day}", to=names.BUDGETS)
    await hold_only(store, account, 50 * CREDIT, "in-flight", to=names.BUDGETS)
    clock.set(at(2026, 3, 10, 12))
    status = await store.budget_status(budget, clock.now)
    assert (status.spent, status.held, status.remaining) == (800 * CREDIT, 50 * CREDIT, 150 * CREDIT)
    # 700 credits in 7 days is 100 a day: 150 left lasts a day and a half.
    assert status.forecast_exhausted_at == at(2026, 3, 12, 0)
    daily = await store.set_budget(scope_type="key", scope_id="key_1", period=Period.DAILY, limit=CREDIT)
    assert (await store.budget_status(daily, clock.now)).period == "2026-03-10"

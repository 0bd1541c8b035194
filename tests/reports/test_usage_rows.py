"""Reading usage transfers from the ledger: only the commitment side, a half-open range, any page size.

Built with the metering's own transfer plans (``hold_plan``) on a real database of each engine,
with two ledger stores on one frozen clock so that timestamps tie, as two replicas' may.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenantgate.credits import hold_plan
from tenantgate.credits.accounts import Period, period_key
from tenantgate.credits.commitments import CommitmentKind
from tenantgate.credits.hold_plan import HoldPlan
from tenantgate.credits.store import CreditStore
from tenantgate.credits.usage_report import UsageFilter, spans, unix_seconds
from tenantgate.credits.usage_rows import fold_usage, usage_entries
from tenantgate.ledger import LedgerStore

T0 = datetime(2026, 3, 5, 23, 59, 59, tzinfo=UTC)


async def collect_entries(db, *, start, end):
    return [entry async for entry in usage_entries(db, start=start, end=end)]


def usage(request: str, cost: int, **extra):
    return {"request_id": request, "model": "chat", "compartment_id": "cmp_a", "key_id": "key_a",
            "prompt_tokens": 3, "completion_tokens": 2, "cached_tokens": 0, "estimated": False, "cost": cost} | extra


async def settle(ledger: LedgerStore, plan: HoldPlan, cost: int, request: str) -> None:
    transfers = hold_plan.hold_transfers(plan, timeout_s=600, user_data={"request_id": request})
    transfers += hold_plan.settle_transfers(plan, cost, user_data=usage(request, cost))
    if cost > plan.amount:
        transfers += hold_plan.overage_transfers(plan, cost - plan.amount, user_data=usage(request, cost))
    results = await ledger.create_transfers(transfers)
    assert all(r.result.succeeded for r in results), results


@pytest.fixture
async def world(database):
    clock = lambda: T0  # noqa: E731 - frozen: both stores stamp from the same instant
    credits = CreditStore(database, clock=clock)
    await credits.ensure_system_accounts()
    commitment = await credits.add_commitment(name="c", kind=CommitmentKind.ANNUAL, amount=10**9,
                                              starts_at=T0 - timedelta(days=1), ends_at=T0 + timedelta(days=9))
    budget = await credits.set_budget(scope_type="key", scope_id="key_a", period=Period.MONTHLY, limit=10**9)
    budget_account = await credits.ensure_budget_account(budget, period_key(budget.period, T0))
    replicas = [LedgerStore(database, clock=clock), LedgerStore(database, clock=clock)]
    plans = [HoldPlan(f"hold{i}", 10, (budget_account,), commitment.account_id) for i in range(6)]
    for index, (plan, cost) in enumerate(zip(plans, (4, 10, 13, 1, 7, 25), strict=True)):
        await settle(replicas[index % 2], plan, cost, f"req_{index}")
    void = HoldPlan("void", 10, (budget_account,), commitment.account_id)
    await replicas[0].create_transfers(hold_plan.hold_transfers(void, timeout_s=600))
    await replicas[0].create_transfers(hold_plan.void_transfers(void))
    return database


async def test_only_commitment_posts_and_overages_are_read_once_each(world):
    entries = await collect_entries(world, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert sum(e.requests for e in entries) == 6  # the budget's posts, the grant and the void are not usage
    assert sum(e.cost_micros for e in entries) == 4 + 10 + 13 + 1 + 7 + 25
    assert len(entries) == 6 + 2  # two answers cost more than their hold
    assert [e.timestamp for e in entries] == sorted(e.timestamp for e in entries)
    assert len({e.timestamp for e in entries}) < len(entries)  # the two stores' timestamps tie


@pytest.mark.parametrize("page_size", [1, 2, 3, 5_000])
async def test_every_page_size_reads_the_same_rows(world, page_size):
    whole = await collect_entries(world, start=T0, end=T0 + timedelta(seconds=1))
    paged = [e async for e in usage_entries(world, start=T0, end=T0 + timedelta(seconds=1), page_size=page_size)]
    assert paged == whole
    assert len(paged) == 8


async def test_the_range_is_half_open(world):
    everything = await collect_entries(world, start=T0, end=T0 + timedelta(seconds=1))
    first, last = everything[0].timestamp, everything[-1].timestamp
    assert await collect_entries(world, start=T0 - timedelta(days=1), end=first) == []
    assert await collect_entries(world, start=last + timedelta(microseconds=1), end=T0 + timedelta(days=1)) == []
    at_first = [e for e in everything if e.timestamp == first]
    assert await collect_entries(world, start=first, end=first + timedelta(microseconds=1)) == at_first
    assert len(await collect_entries(world, start=first + timedelta(microseconds=1), end=last)) == len(
        [e for e in everything if first < e.timestamp < last])


async def test_the_fold_over_the_ledger_groups_by_day(world):
    start = unix_seconds(T0) - unix_seconds(T0) % 86_400 - 86_400  # the day before T0's
    buckets = await fold_usage(world, spans(start, start + 3 * 86_400, 86_400), group_by=["model"],
                               keep=UsageFilter())
    assert [sum(t.cost_micros for t in b.groups.values()) for b in buckets] == [0, 60, 0]
    assert await fold_usage(world, [], group_by=[], keep=UsageFilter()) == []

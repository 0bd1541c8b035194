"""A request's transfers on a real ledger (SQLite and PostgreSQL): hold, then settle or release.

Accounts are created here by hand with the names of ``credits.accounts``; the batcher
writes the chains as the gateway does.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tenantgate.credits import accounts as names
from tenantgate.credits import hold_plan
from tenantgate.credits.batcher import LedgerBatcher
from tenantgate.credits.hold_plan import HoldPlan
from tenantgate.ledger import Account, AccountFlags, CreateTransferResult, LedgerStore, Transfer

LIMITED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
BUDGET, COMMITMENT = "bud:b1:2026-12", "cmt:c1"


@pytest.fixture
async def ledger(database) -> LedgerStore:
    store = LedgerStore(database, clock=lambda: datetime(2026, 12, 2, tzinfo=UTC))
    made = [Account(id=i, ledger=names.LEDGER) for i in (names.ISSUER, names.SPEND, names.BUDGETS, names.OVERAGE)]
    made += [Account(id=BUDGET, ledger=names.LEDGER, flags=LIMITED),
             Account(id=COMMITMENT, ledger=names.LEDGER, flags=LIMITED)]
    assert all(r.result.succeeded for r in await store.create_accounts(made))
    grants = [Transfer(id="fund", debit_account_id=names.ISSUER, credit_account_id=BUDGET, amount=1000,
                       ledger=names.LEDGER),
              Transfer(id="grant", debit_account_id=names.ISSUER, credit_account_id=COMMITMENT, amount=5000,
                       ledger=names.LEDGER)]
    assert all(r.result.succeeded for r in await store.create_transfers(grants))
    return store


async def balances(ledger: LedgerStore) -> dict[str, tuple[int, int]]:
    """(debits_pending, debits_posted) per account."""
    found = await ledger.lookup_accounts([BUDGET, COMMITMENT, names.OVERAGE])
    return {r.id: (r.balance.debits_pending, r.balance.debits_posted) for r in found}


def plan(hold_id: str = "r1", amount: int = 300) -> HoldPlan:
    return HoldPlan(hold_id, amount, (BUDGET,), COMMITMENT)


async def test_a_hold_reserves_on_every_member_and_a_partial_settle_releases_the_rest(ledger):
    results = await ledger.create_transfers(hold_plan.hold_transfers(plan(), timeout_s=60))
    assert all(r.result.succeeded for r in results)
    assert await balances(ledger) == {BUDGET: (300, 0), COMMITMENT: (300, 0), names.OVERAGE: (0, 0)}
    results = await ledger.create_transfers(hold_plan.settle_transfers(plan(), 120))
    assert all(r.result.succeeded for r in results)
    assert await balances(ledger) == {BUDGET: (0, 120), COMMITMENT: (0, 120), names.OVERAGE: (0, 0)}
    assert await ledger.find_invariant_violations() == []


async def test_a_settle_after_a_release_or_twice_changes_nothing(ledger):
    await ledger.create_transfers(hold_plan.hold_transfers(plan(), timeout_s=60))
    assert all(r.result.succeeded for r in await ledger.create_transfers(hold_plan.void_transfers(plan())))
    late = await ledger.create_transfers(hold_plan.settle_transfers(plan(), 120))
    assert not any(r.result.succeeded for r in late)
    again = await ledger.create_transfers(hold_plan.void_transfers(plan()))
    assert all(r.result is CreateTransferResult.EXISTS for r in again)
    assert await balances(ledger) == {BUDGET: (0, 0), COMMITMENT: (0, 0), names.OVERAGE: (0, 0)}


async def test_a_chain_that_a_budget_refuses_reserves_nothing_anywhere(ledger):
    results = await ledger.create_transfers(hold_plan.hold_transfers(plan(amount=1001), timeout_s=60))
    assert [r.result for r in results] == [CreateTransferResult.EXCEEDS_CREDITS,
                                           CreateTransferResult.LINKED_EVENT_FAILED]
    assert await balances(ledger) == {BUDGET: (0, 0), COMMITMENT: (0, 0), names.OVERAGE: (0, 0)}


async def test_an_answer_dearer_than_its_hold_is_charged_in_full_and_never_lost(ledger):
    await ledger.create_transfers(hold_plan.hold_transfers(plan(amount=900), timeout_s=60))
    await ledger.create_transfers(hold_plan.settle_transfers(plan(amount=900), 1500))
    overage = await ledger.create_transfers(hold_plan.overage_transfers(plan(amount=900), 600))
    assert all(r.result.succeeded for r in overage)
    # the budget had 100 left and counts just that; the commitment pays the whole 600
    assert await balances(ledger) == {BUDGET: (0, 1000), COMMITMENT: (0, 1500), names.OVERAGE: (0, 0)}
    assert await ledger.find_invariant_violations() == []


async def test_overage_the_commitment_cannot_pay_is_booked_as_owed(ledger):
    await ledger.create_transfers(hold_plan.hold_transfers(plan(amount=900), timeout_s=60))
    await ledger.create_transfers(hold_plan.settle_transfers(plan(amount=900), 900))
    too_much = await ledger.create_transfers(hold_plan.overage_transfers(plan(amount=900), 4500))
    assert too_much[-1].result is CreateTransferResult.EXCEEDS_CREDITS
    fallback = await ledger.create_transfers([hold_plan.overage_fallback(plan(amount=900), 4500)])
    assert fallback[0].result.succeeded
    assert (await balances(ledger))[names.OVERAGE] == (0, 4500)
    assert await ledger.find_invariant_violations() == []


async def test_the_batcher_commits_many_chains_in_few_transactions_with_the_same_outcomes(ledger):
    batcher = LedgerBatcher(ledger, linger_ms=5)
    batcher.start()
    try:
        import asyncio

        chains = [hold_plan.hold_transfers(plan(f"r{i}", amount=30), timeout_s=60) for i in range(40)]
        results = await asyncio.gather(*(batcher.submit(chain) for chain in chains))
    finally:
        await batcher.aclose()
    admitted = sum(all(r.result.succeeded for r in chain) for chain in results)
    assert admitted == 33  # the budget of 1000 covers 33 holds of 30
    assert batcher.batches_written < 10
    assert (await balances(ledger))[BUDGET] == (990, 0)

"""Budgets on the ledger: definitions, the funding of each period, limit changes and status.

The base of ``CreditStore`` (kept apart so each module stays one size). Contracts:

* A period's account is created and funded once, whichever replica gets there first: the
  account id and the funding transfer id are fixed per budget and period, and the amount
  is the limit as stored when the funding happens, so a replica holding a stale copy of
  the budget cannot fund an old limit.
* A limit change is committed to the ledger first (a correcting transfer whose id names
  the revision it creates and whose ``user_data`` carries the new limit), then to the row
  by compare-and-set on that revision. A change that lost the race re-reads and re-applies;
  one whose row write never happened is rolled forward by the next change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from tenantgate.credits import _credit_rows as rows
from tenantgate.credits import accounts as names
from tenantgate.credits import budgets as rules
from tenantgate.credits.accounts import Period, period_key
from tenantgate.credits.budgets import Budget, BudgetStatus, ScopeType
from tenantgate.credits.tables import budgets as budgets_table
from tenantgate.errors import InternalError, NotFound
from tenantgate.iam.model import Clock, new_id
from tenantgate.ledger import (
    Account,
    AccountResult,
    CreateAccountResult,
    CreateTransferResult,
    LedgerStore,
    TransferRecord,
    TransferResult,
)
from tenantgate.ledger.store import LIMIT_MAX
from tenantgate.storage.database import Database
from tenantgate.storage.errors import TransactionConflict

SYSTEM_ACCOUNTS = (names.ISSUER, names.SPEND, names.BUDGETS, names.OVERAGE, names.PROVIDER_BILLS)
_SET_ATTEMPTS = 8
R = CreateTransferResult


class BudgetStore:
    """Budget definitions and their ledger accounts; the ledger holds every amount."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self.ledger = LedgerStore(db, clock=clock)
        self._system_ready = False
        self._ensuring: dict[str, asyncio.Future[str]] = {}

    async def ensure_system_accounts(self) -> None:
        """Create the ``tg:*`` system accounts (``SYSTEM_ACCOUNTS``); idempotent."""
        code = names.AccountCode.SYSTEM
        accounts = [Account(id=i, ledger=names.LEDGER, code=code) for i in SYSTEM_ACCOUNTS]
        require_accounts(await self.ledger.create_accounts(accounts))
        self._system_ready = True

    async def _ensure_system(self) -> None:
        if not self._system_ready:
            await self.ensure_system_accounts()

    async def set_budget(
        self, *, scope_type: ScopeType, scope_id: str, period: Period, limit: int, hard: bool = True,
        thresholds: Sequence[int] = rules.DEFAULT_THRESHOLDS, name: str | None = None,
        webhook_url: str | None = None,
    ) -> Budget:
        """Create or replace the one budget of a scope and period (its id is kept).

        A new limit applies to the current period at once, by a correcting transfer; ``hard``
        is a property of each period's account, so a change to it applies from the next period.
        """
        for attempt in range(1, _SET_ATTEMPTS + 1):
            budget = await self._set_once(Budget(
                "", name or "", scope_type, scope_id, Period(period), limit, hard, tuple(thresholds),
                webhook_url, self._clock()))
            if budget is not None:
                return budget
            if attempt < _SET_ATTEMPTS:
                # Jittered, as every lost race is retried: changes that collided once (in-process
                # writers take turns in order) must not collide again in lockstep.
                await self._db.retry_policy.wait_after(attempt)
        raise TransactionConflict("The budget kept changing concurrently; try again.")

    async def _set_once(self, wanted: Budget) -> Budget | None:
        """One attempt at ``set_budget``; None when a concurrent change won and it must re-run."""
        now = wanted.created_at
        found = await self._db.run_read(lambda conn: rows.read_budget_by_scope(
            conn, wanted.scope_type, wanted.scope_id, wanted.period))
        if found is None:
            budget = rules.check_budget(replace(
                wanted, id=new_id("bud"), name=wanted.name or f"{wanted.scope_type} {wanted.scope_id}"))
            values = rows.budget_values(budget, revision=0, updated_at=now)
            inserted = await self._db.run_write(lambda conn: rows.insert_new(conn, budgets_table, values))
            return budget if inserted else None
        old, revision = found
        budget = rules.check_budget(replace(
            wanted, id=old.id, name=wanted.name or old.name, created_at=old.created_at))
        if old.limit != budget.limit and not await self._correct(old, budget.limit, revision, now):
            return None
        values = rows.budget_values(budget, revision=revision + 1, updated_at=now)
        updated = await self._db.run_write(lambda conn: rows.update_budget(conn, values, revision=revision))
        return budget if updated else None

    async def _correct(self, old: Budget, limit: int, revision: int, now: datetime) -> bool:
        """Bring the current period's funding to ``limit``; False when another change got there first."""
        period = period_key(old.period, now)
        await self.ensure_budget_account(old, period)
        mine = rules.correction_id(old.id, period, revision + 1)
        records = await self._funding_records(old.id, period, revision + 1)
        theirs = next((r.transfer for r in records if r.id == mine), None)
        if theirs is not None:  # a change reached the ledger but not the row: finish it, then retry
            done = theirs.user_data.get("limit") if isinstance(theirs.user_data, dict) else None
            if not isinstance(done, int):
                raise InternalError(f"The budget correction {mine!r} does not record its limit.")
            await self._db.run_write(lambda conn: rows.update_budget_limit(
                conn, old.id, done, revision=revision, updated_at=now))
            return False
        funding = rules.funding_from((r.transfer for r in records), old.account_id(period))
        correction = rules.correction_transfer(
            old.id, period, revision + 1, limit=limit, funded=funding.funded)
        if correction is None:
            return True
        (result,) = await self.ledger.create_transfers([correction])
        if result.result.succeeded or result.result is R.EXCEEDS_CREDITS:  # nothing left to take back
            return True
        if result.result.code.startswith("exists_with_different"):
            return False
        raise InternalError(f"The ledger refused a budget correction: {result.result.code}.")

    async def list_budgets(self) -> list[Budget]:
        """Every budget, by scope and period."""
        return await self._db.run_read(rows.read_budgets)

    async def delete_budget(self, budget_id: str) -> None:
        """Remove a budget and its alert firings; its ledger accounts stay, as history."""
        if not await self._db.run_write(lambda conn: rows.delete_budget(conn, budget_id)):
            raise NotFound(f"No budget with id {budget_id!r}.", param="budget_id")

    async def budgets_for(
        self, *, key_id: str | None, user_id: str | None, compartment_ids: Sequence[str]
    ) -> list[Budget]:
        """Every budget over a request: its key, user, compartments (target and ancestors), tenancy.

        One indexed query; the result is in hold-chain order (``budgets.chain_order``).
        """
        found = await self._db.run_read(lambda conn: rows.read_matching_budgets(
            conn, key_id=key_id, user_id=user_id, compartment_ids=compartment_ids))
        return rules.chain_order(found, key_id=key_id, user_id=user_id, compartment_ids=compartment_ids)

    async def ensure_budget_account(self, budget: Budget, period: str) -> str:
        """The period's account, created and funded once across replicas; returns its id.

        Concurrent calls for one account on this replica share one attempt, so the first
        burst of a new period costs one round of queries, not one per request.
        """
        account_id = budget.account_id(period)
        running = self._ensuring.get(account_id)
        if running is None:
            running = asyncio.ensure_future(self._ensure_budget_account(budget, period))
            self._ensuring[account_id] = running
            running.add_done_callback(lambda _: self._ensuring.pop(account_id, None))
        return await asyncio.shield(running)

    async def _ensure_budget_account(self, budget: Budget, period: str) -> str:
        account = rules.budget_account(budget, period)
        found = await self.ledger.lookup_accounts([account.id])
        if found and found[0].balance.credits_posted > 0:
            return account.id
        await self._ensure_system()
        if not found:
            (created,) = await self.ledger.create_accounts([account])
            flags_changed = created.result is CreateAccountResult.EXISTS_WITH_DIFFERENT_FLAGS  # hard <-> soft
            if not (created.result.succeeded or flags_changed):
                raise InternalError(f"The ledger refused a budget account: {created.result.code}.")
        current = await self._db.run_read(lambda conn: rows.read_budget_limit(conn, budget.id))
        funding = rules.funding_transfer(budget.id, period, budget.limit if current is None else current[0])
        if funding is not None:
            (result,) = await self.ledger.create_transfers([funding])
            if not (result.result.succeeded or result.result.code.startswith("exists_with_different")):
                raise InternalError(f"The ledger refused a budget's funding: {result.result.code}.")
        return account.id

    async def budget_status(self, budget: Budget, now: datetime) -> BudgetStatus:
        """Limit, spent, held and remaining in the current period, and when it runs out at this rate."""
        period = period_key(budget.period, now)
        account_id = budget.account_id(period)
        found = await self.ledger.lookup_accounts([account_id])
        if not found:
            return BudgetStatus(budget, period, budget.limit, 0, 0, budget.limit, None)
        balance = found[0].balance
        current = await self._db.run_read(lambda conn: rows.read_budget_limit(conn, budget.id))
        records = await self._funding_records(budget.id, period, 0 if current is None else current[1])
        lowered = rules.funding_from((r.transfer for r in records), account_id).lowered
        held = balance.debits_pending
        remaining = max(0, balance.credits_posted - balance.debits_posted - held)
        period_start, period_end = rules.period_bounds(budget, now)
        window_start = max(now - rules.BURN_WINDOW, period_start)
        forecast = rules.forecast_exhaustion(
            burned=await self._spent_since(account_id, window_start), window_start=window_start, now=now,
            remaining=remaining, period_end=period_end)
        return BudgetStatus(budget, period, budget.limit, balance.debits_posted - lowered, held, remaining,
                            forecast)

    async def _funding_records(self, budget_id: str, period: str, revision: int) -> list[TransferRecord]:
        """The period's funding and its corrections up to ``revision``."""
        ids = [names.funding_transfer_id(budget_id, period)]
        ids += [rules.correction_id(budget_id, period, r) for r in range(1, revision + 1)]
        return await self.ledger.lookup_transfers(ids)

    async def _spent_since(self, account_id: str, since: datetime) -> int:
        """Usage drawn from ``account_id`` from ``since`` on, paging through its transfers."""
        seen: set[str]
        total, seen = 0, set()
        while True:
            page = await self.ledger.get_account_transfers(account_id, since=since, limit=LIMIT_MAX)
            fresh = [r for r in page if r.id not in seen]
            total += sum(r.transfer.amount for r in fresh if rules.is_spend(r.transfer, account_id))
            if len(page) < LIMIT_MAX or not fresh:
                return total
            since = page[-1].timestamp
            seen = {r.id for r in page if r.timestamp == since}


def require_accounts(results: Sequence[AccountResult]) -> None:
    """Raise unless every account now exists as defined."""
    for r in results:
        if not r.result.succeeded:
            raise InternalError(f"The ledger refused account {r.id!r}: {r.result.code}.")


def require_transfers(results: Sequence[TransferResult]) -> None:
    """Raise unless every transfer is recorded as submitted (``ok`` or a retry's ``exists``)."""
    for r in results:
        if not r.result.succeeded:
            raise InternalError(f"The ledger refused transfer {r.id!r}: {r.result.code}.")

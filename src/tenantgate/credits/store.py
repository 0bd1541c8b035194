"""``CreditStore``: commitments and budgets, their definitions in tables, their money in the ledger.

Contracts every method keeps:

* Every amount moves through ``tenantgate.ledger`` (``self.ledger``) with a fixed,
  meaningful transfer id (``grant:<cmt>``, ``fund:<bud>:<period>``, ``forfeit:<cmt>[:<month>]``,
  ``corr:<bud>:<period>:<revision>``), so a retry, a crash mid-way or two replicas doing the
  same thing at once take effect once. No table of ours stores a balance.
* A commitment's ledger account and grant are made before its row: a commitment that can
  be listed is always funded. ``ensure_commitment_account`` re-runs that step safely.
* Ledger refusals that no caller can cause (a clash of ids, a missing system account) are
  ``InternalError``: they mean a bug or a tampered ledger, never a customer's mistake.

Budgets (definitions, funding, limit changes, status) live in the base ``BudgetStore``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tenantgate.credits import _credit_rows as rows
from tenantgate.credits import commitments as rules
from tenantgate.credits._budget_store import BudgetStore, require_accounts, require_transfers
from tenantgate.credits.commitments import Commitment, CommitmentBalance, CommitmentKind
from tenantgate.credits.tables import commitments as commitments_table
from tenantgate.errors import InternalError
from tenantgate.iam.model import new_id
from tenantgate.ledger import AccountBalance, AccountRecord, CreateTransferResult, TransferRecord

logger = logging.getLogger("tenantgate.credits")
R = CreateTransferResult
_FORFEIT_RACES = (R.EXCEEDS_CREDITS, R.EXISTS_WITH_DIFFERENT_AMOUNT, R.EXISTS_WITH_DIFFERENT_USER_DATA)
"""A forfeit that found nothing left, or that another replica recorded with what it saw: both fine."""


class CreditStore(BudgetStore):
    """Universal credits over one database: commitments, budgets and their ledger accounts."""

    async def add_commitment(
        self, *, name: str, kind: CommitmentKind | str, amount: int, starts_at: datetime,
        ends_at: datetime | None, monthly_allotment: int | None = None, overage_allowance: int = 0,
    ) -> Commitment:
        """Record a purchase of ``amount`` micro-credits and grant it (plus the overage allowance) once."""
        commitment = rules.check_commitment(Commitment(
            new_id("cmt"), name, CommitmentKind(kind), amount, starts_at, ends_at, monthly_allotment,
            overage_allowance, self._clock()))
        await self.ensure_commitment_account(commitment)
        values = rows.commitment_values(commitment)
        if not await self._db.run_write(lambda conn: rows.insert_new(conn, commitments_table, values)):
            raise InternalError(f"The commitment id {commitment.id!r} is taken.")
        return commitment

    async def ensure_commitment_account(self, commitment: Commitment) -> None:
        """Create the commitment's ledger account and its one grant; a re-run changes nothing."""
        await self._ensure_system()
        require_accounts(await self.ledger.create_accounts([rules.commitment_account(commitment)]))
        grant = rules.grant_transfer(commitment)
        if grant is not None:
            require_transfers(await self.ledger.create_transfers([grant]))

    async def list_commitments(self) -> list[CommitmentBalance]:
        """Every commitment, by start, with granted, available, held, used and forfeited credits."""
        now = self._clock()
        found = await self._db.run_read(rows.read_commitments)
        balances = await self._balances(found)
        forfeits = await self._forfeits(found, now)
        return [_split(c, balances.get(c.account_id), forfeits) for c in found]

    async def active_commitments(self, now: datetime) -> list[Commitment]:
        """Commitments usable at ``now``, in spending order: earliest expiry first, payg last."""
        found = await self._db.run_read(
            lambda conn: rows.read_commitments(conn, started_by=now, ending_after=now))
        return rules.spending_order(found, now)

    async def expire_commitments(self, now: datetime) -> int:
        """Forfeit what ended commitments (and closed flex months) left unused; returns forfeits made.

        Cheap when there is nothing to do (three reads), so every replica's sweep may call it;
        the forfeit ids are fixed, so replicas racing forfeit once.
        """
        found = await self._db.run_read(lambda conn: rows.read_commitments(conn, started_by=now))
        due = [c for c in found if c.kind is CommitmentKind.MONTHLY_FLEX
               or (c.kind is CommitmentKind.ANNUAL and c.ends_at is not None and c.ends_at <= now)]
        if not due:
            return 0
        balances = await self._balances(due)
        recorded = {r.id for r in await self._forfeits(due, now)}
        transfers = [t for c in due for t in rules.due_forfeits(
            c, _balance(balances.get(c.account_id)), recorded, now)]
        if not transfers:
            return 0
        results = await self.ledger.create_transfers(transfers)
        for result in results:
            if not result.result.succeeded and result.result not in _FORFEIT_RACES:
                logger.error("commitment forfeit refused by the ledger",
                             extra={"transfer_id": result.id, "code": result.result.code})
        made = [r.id for r in results if r.result is R.OK]
        if made:
            logger.info("forfeited unused commitment credits", extra={"transfers": made})
        return len(made)

    async def _balances(self, found: list[Commitment]) -> dict[str, AccountRecord]:
        return {r.id: r for r in await self.ledger.lookup_accounts([c.account_id for c in found])}

    async def _forfeits(self, found: list[Commitment], now: datetime) -> list[TransferRecord]:
        return await self.ledger.lookup_transfers([i for c in found for i in rules.forfeit_ids(c, now)])


def _balance(record: AccountRecord | None) -> AccountBalance:
    return AccountBalance() if record is None else record.balance


def _split(c: Commitment, record: AccountRecord | None, forfeits: list[TransferRecord]) -> CommitmentBalance:
    """The account's four counters as granted, available, held, used and forfeited."""
    b = _balance(record)
    forfeited = rules.forfeited_total([r.transfer for r in forfeits], c)
    available = b.credits_posted - b.debits_posted - b.debits_pending
    return CommitmentBalance(commitment=c, granted=b.credits_posted, available=available,
                             held=b.debits_pending, used=b.debits_posted - forfeited, forfeited=forfeited)

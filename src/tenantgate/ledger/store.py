"""``LedgerStore``: TigerBeetle's accounts and transfers on SQLite or PostgreSQL.

Contracts:

* A call to ``create_accounts`` or ``create_transfers`` is one transaction (group commit):
  one result per event, events outside a linked chain succeed or fail independently.
* Concurrency, across any number of replicas: a batch first reads the pending transfers it
  references (immutable rows), then row-locks every account it can touch in id order
  (PostgreSQL ``FOR NO KEY UPDATE`` at READ COMMITTED; SQLite's ``BEGIN IMMEDIATE``
  already serializes writers), and only then reads which ids exist and which pending
  transfers are resolved. The pure rules decide; the store writes.
* Races the locks cannot cover (the same transfer id submitted with different accounts,
  so no lock is shared) are decided by the database: the primary key on the transfer id
  and the unique ``pending_id``. Every write checks what it did (rows inserted, balances
  compared-and-set); anything unexpected raises a ``TransactionConflict`` and the unit of
  work re-runs the whole batch, which then sees the winner and answers ``exists`` or
  ``exists_with_different_*``. So no transfer takes effect twice and no limit is passed.
* ``create_transfers(..., also=...)`` runs the caller's own writes in the same transaction,
  after the batch, with the records it created: facts that must commit exactly when their
  money does (the usage records of a settlement) never drift from the ledger.
* Timestamps come from the injected clock, strictly increasing per store (one microsecond
  apart within a batch); pending timeouts count from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.ledger import _queries as q
from tenantgate.ledger._batch import LedgerState, run_accounts, run_transfers
from tenantgate.ledger.invariants import balances_from_transfers, find_violations
from tenantgate.ledger.model import (
    Account,
    AccountBalance,
    AccountRecord,
    Clock,
    Transfer,
    TransferFlags,
    TransferRecord,
)
from tenantgate.ledger.results import AccountResult, CreateTransferResult, TransferResult
from tenantgate.ledger.rules import expire
from tenantgate.storage.database import Database
from tenantgate.storage.errors import TransactionConflict

LIMIT_MAX = 10_000
_TICK = timedelta(microseconds=1)
_SETTLES = int(TransferFlags.POST_PENDING_TRANSFER | TransferFlags.VOID_PENDING_TRANSFER)


AlsoWrite = Callable[[AsyncConnection, Mapping[str, TransferRecord]], Awaitable[None]]
"""Writes that belong to a batch's transaction; given the transfers it created, by id."""


class _LostRace(TransactionConflict):
    """Another transaction committed what this batch was about to write; re-run the batch."""


class LedgerStore:
    """Creates and reads accounts and transfers; expires pending transfers whose timeout passed."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._last_timestamp: datetime | None = None

    async def create_accounts(self, accounts: Sequence[Account]) -> list[AccountResult]:
        """Create ``accounts`` in one transaction; an identical existing account is ``exists``."""
        batch = list(accounts)
        if not batch:
            return []

        async def work(conn: AsyncConnection) -> list[AccountResult]:
            stored = await q.select_accounts(conn, [a.id for a in batch if a.id], lock=False)
            results, created = run_accounts(batch, stored, self._timestamps(1)[0])
            if await q.insert_accounts(conn, created) != {r.id for r in created}:
                raise _LostRace("an account id was created concurrently")
            return [AccountResult(a.id, r) for a, r in zip(batch, results, strict=True)]

        return await self._db.run_write(work)

    async def create_transfers(
        self, transfers: Sequence[Transfer], *, also: AlsoWrite | None = None
    ) -> list[TransferResult]:
        """Apply ``transfers`` in order, in one transaction; one result per transfer.

        ``also`` runs last in that transaction (re-run with it if the batch is re-run).
        """
        batch = list(transfers)
        if not batch and also is None:
            return []

        async def work(conn: AsyncConnection) -> list[CreateTransferResult]:
            state = await _load_for(conn, batch) if batch else LedgerState()
            results = run_transfers(batch, state, self._timestamps(len(batch))) if batch else []
            await _persist(conn, state)
            if also is not None:
                await also(conn, {record.id: record for record in state.created})
            return results

        results = await self._db.run_write(work)
        return [TransferResult(t.id, r) for t, r in zip(batch, results, strict=True)]

    async def expire_pending(self, now: datetime | None = None, *, batch_size: int = 500) -> int:
        """Expire every unresolved pending transfer whose timeout is at or before ``now``.

        Each expiry is recorded as a transfer (id ``~`` + the pending id) that releases the
        held amount. Returns how many this call expired; safe to run from several replicas.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        due_at = now if now is not None else self._clock()
        expired_total = 0
        while True:
            expired, seen = await self._db.run_write(lambda conn: self._expire_some(conn, due_at, batch_size))
            expired_total += expired
            if seen < batch_size:
                return expired_total

    async def lookup_accounts(self, ids: Sequence[str]) -> list[AccountRecord]:
        """The accounts that exist among ``ids``, in the order asked."""
        found = await self._db.run_read(lambda conn: q.select_accounts(conn, ids, lock=False))
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def lookup_transfers(self, ids: Sequence[str]) -> list[TransferRecord]:
        """The transfers that exist among ``ids``, in the order asked."""
        found = await self._db.run_read(lambda conn: q.select_transfers(conn, ids))
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def get_account_transfers(
        self, account_id: str, *, since: datetime | None = None, limit: int = 100
    ) -> list[TransferRecord]:
        """Transfers debiting or crediting ``account_id``, oldest first, from ``since`` inclusive."""
        _check_limit(limit)
        return await self._db.run_read(
            lambda conn: q.select_account_transfers(conn, account_id, since, limit)
        )

    async def pending_transfers(
        self, *, older_than: datetime | None = None, limit: int = 1_000
    ) -> list[TransferRecord]:
        """Unresolved pending transfers, oldest first, for a crash-recovery pass."""
        _check_limit(limit)
        return await self._db.run_read(
            lambda conn: q.select_open_pending(conn, older_than=older_than, limit=limit)
        )

    async def recompute_balances(
        self, account_ids: Collection[str] | None = None
    ) -> dict[str, AccountBalance]:
        """Balances recomputed from transfer rows alone (every account touched, or those given)."""
        transfers = await self._db.run_read(lambda conn: q.select_touching(conn, account_ids))
        recomputed = balances_from_transfers(transfers)
        if account_ids is None:
            return recomputed
        return {i: recomputed.get(i, AccountBalance()) for i in account_ids}

    async def find_invariant_violations(self, account_ids: Collection[str] | None = None) -> list[str]:
        """Check every invariant on one snapshot of the whole ledger (or a closed set of accounts)."""

        async def work(conn: AsyncConnection) -> list[str]:
            if account_ids is None:
                accounts = await q.select_all_accounts(conn)
            else:
                accounts = list((await q.select_accounts(conn, account_ids, lock=False)).values())
            transfers = await q.select_touching(conn, account_ids)
            open_ids = await q.select_open_pending_ids(
                conn, None if account_ids is None else [t.id for t in transfers]
            )
            return find_violations(accounts, transfers, open_ids)

        return await self._db.run_read(work)

    async def _expire_some(self, conn: AsyncConnection, due_at: datetime, limit: int) -> tuple[int, int]:
        due = await q.select_open_pending(conn, due_at=due_at, limit=limit)
        if not due:
            return 0, 0
        accounts = await q.select_accounts(
            conn,
            {i for r in due for i in (r.transfer.debit_account_id, r.transfer.credit_account_id)},
            lock=True,
        )
        still_open = await q.select_open_pending_ids(conn, [r.id for r in due])  # re-read under the locks
        expiring = [r for r in due if r.id in still_open]
        state = LedgerState(accounts=accounts.values(), transfers=due)
        for record, timestamp in zip(expiring, self._timestamps(len(expiring), at_least=due_at), strict=True):
            state.apply(expire(record, state, timestamp))
        await _persist(conn, state)
        return len(expiring), len(due)

    def _timestamps(self, count: int, *, at_least: datetime | None = None) -> list[datetime]:
        """``count`` timestamps after every one this store has issued, from the clock."""
        start = self._clock()
        if self._last_timestamp is not None and start <= self._last_timestamp:
            start = self._last_timestamp + _TICK
        if at_least is not None and start < at_least:
            start = at_least
        stamps = [start + i * _TICK for i in range(max(count, 1))]
        self._last_timestamp = stamps[-1]
        return stamps[:count]


async def _load_for(conn: AsyncConnection, batch: Sequence[Transfer]) -> LedgerState:
    """Everything ``batch`` can read, with its accounts locked before anything mutable is read.

    On SQLite the write transaction itself is the lock (``BEGIN IMMEDIATE``), so every
    transfer row is read at once, already under it; PostgreSQL reads the pending transfers
    (immutable) first, locks their accounts, and only then the batch's ids and settlements.
    """
    pending_ids = {t.pending_id for t in batch if t.pending_id is not None}
    ids = {t.id for t in batch if t.id}
    serialized = conn.dialect.name == "sqlite"
    if serialized:
        transfers, settlements = await q.select_transfers_and_settlements(
            conn, ids | pending_ids, pending_ids
        )
        referenced = {i: transfers[i] for i in pending_ids if i in transfers}
    else:
        referenced = await q.select_transfers(conn, pending_ids)
    account_ids = {
        i for t in batch if not int(t.flags) & _SETTLES for i in (t.debit_account_id, t.credit_account_id)
    }
    account_ids |= {
        i for r in referenced.values() for i in (r.transfer.debit_account_id, r.transfer.credit_account_id)
    }
    accounts = await q.select_accounts(conn, account_ids - {""}, lock=True)
    if not serialized:
        found, settlements = await q.select_transfers_and_settlements(conn, ids, pending_ids)
        transfers = {**referenced, **found}
    for pending_id in pending_ids & transfers.keys():
        p = transfers[pending_id].transfer
        if p.debit_account_id not in accounts or p.credit_account_id not in accounts:
            raise _LostRace(f"pending transfer {pending_id!r} appeared after its accounts were locked")
    return LedgerState(accounts=accounts.values(), transfers=transfers.values(), settlements=settlements)


async def _persist(conn: AsyncConnection, state: LedgerState) -> None:
    """Write what ``state`` changed, checking that each write did exactly what was planned."""
    created = state.created
    if created and await q.insert_transfers(conn, created) != {r.id for r in created}:
        raise _LostRace("a transfer id or pending transfer was taken concurrently")
    changed = state.changed_balances()
    if changed and not await q.update_balances(conn, changed):
        raise _LostRace(f"the balance of one of {len(changed)} accounts changed concurrently")
    opened = state.opened_pending()
    if opened:
        await q.open_pending(conn, opened)
    closed = state.closed_pending_ids()
    if closed and await q.close_pending(conn, closed) != len(closed):
        raise _LostRace("a pending transfer was resolved concurrently")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= LIMIT_MAX:
        raise ValueError(f"limit must be between 1 and {LIMIT_MAX}")

"""The ledger's SQL, one small function per statement, shared by both dialects.

Every function takes the connection of a unit of work the store has opened; none commits.
Writes report what they actually did (ids inserted, rows matched) so the store can tell a
lost race from success instead of assuming; see ``store.py`` for how races are resolved.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.ledger.model import (
    Account,
    AccountBalance,
    AccountFlags,
    AccountRecord,
    Transfer,
    TransferFlags,
    TransferRecord,
)
from tenantgate.ledger.tables import ledger_accounts, ledger_open_pending, ledger_transfers

_CHUNK = 500  # ids per IN list / rows per INSERT: far below both drivers' parameter limits
_BALANCE_COLUMNS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
T = TypeVar("T")


async def select_accounts(
    conn: AsyncConnection, ids: Collection[str], *, lock: bool
) -> dict[str, AccountRecord]:
    """Accounts by id; with ``lock``, row-locked in id order so concurrent batches never deadlock.

    ``FOR NO KEY UPDATE`` (PostgreSQL) still lets other transactions insert transfers that
    reference these rows; SQLite renders no lock, its ``BEGIN IMMEDIATE`` already serializes.
    """
    found: dict[str, AccountRecord] = {}
    for chunk in _chunks(sorted(set(ids))):
        query = (
            sa.select(ledger_accounts).where(ledger_accounts.c.id.in_(chunk)).order_by(ledger_accounts.c.id)
        )
        if lock:
            query = query.with_for_update(key_share=True)
        found.update((row.id, _account(row)) for row in await conn.execute(query))
    return found


async def select_all_accounts(conn: AsyncConnection) -> list[AccountRecord]:
    """Every account, by id (for audits of a whole ledger)."""
    query = sa.select(ledger_accounts).order_by(ledger_accounts.c.id)
    return [_account(row) for row in await conn.execute(query)]


async def select_transfers(conn: AsyncConnection, ids: Collection[str]) -> dict[str, TransferRecord]:
    """Transfers by id (rows are immutable, so no lock is needed to read them)."""
    found: dict[str, TransferRecord] = {}
    for chunk in _chunks(sorted(set(ids))):
        query = sa.select(ledger_transfers).where(ledger_transfers.c.id.in_(chunk))
        found.update((row.id, _transfer(row)) for row in await conn.execute(query))
    return found


async def select_settlements(conn: AsyncConnection, pending_ids: Collection[str]) -> list[TransferRecord]:
    """The posts, voids and expiries that resolved any of ``pending_ids``."""
    found: list[TransferRecord] = []
    for chunk in _chunks(sorted(set(pending_ids))):
        query = sa.select(ledger_transfers).where(ledger_transfers.c.pending_id.in_(chunk))
        found += [_transfer(row) for row in await conn.execute(query)]
    return found


async def select_touching(conn: AsyncConnection, account_ids: Collection[str] | None) -> list[TransferRecord]:
    """Every transfer debiting or crediting one of ``account_ids`` (all transfers for None)."""
    c = ledger_transfers.c
    query = sa.select(ledger_transfers).order_by(c.timestamp, c.id)
    if account_ids is None:
        return [_transfer(row) for row in await conn.execute(query)]
    found: dict[str, TransferRecord] = {}
    for chunk in _chunks(sorted(set(account_ids))):
        rows = await conn.execute(
            query.where(sa.or_(c.debit_account_id.in_(chunk), c.credit_account_id.in_(chunk)))
        )
        found.update((row.id, _transfer(row)) for row in rows)
    return sorted(found.values(), key=lambda r: (r.timestamp, r.id))


async def select_account_transfers(
    conn: AsyncConnection, account_id: str, since: datetime | None, limit: int
) -> list[TransferRecord]:
    """One account's transfers, oldest first, from ``since`` (inclusive)."""
    c = ledger_transfers.c
    query = sa.select(ledger_transfers).where(
        sa.or_(c.debit_account_id == account_id, c.credit_account_id == account_id)
    )
    if since is not None:
        query = query.where(c.timestamp >= since)
    query = query.order_by(c.timestamp, c.id).limit(limit)
    return [_transfer(row) for row in await conn.execute(query)]


async def select_open_pending(
    conn: AsyncConnection, *, due_at: datetime | None = None, older_than: datetime | None = None, limit: int
) -> list[TransferRecord]:
    """Unresolved pending transfers: expired by ``due_at``, or created before ``older_than``."""
    o, c = ledger_open_pending.c, ledger_transfers.c
    query = sa.select(ledger_transfers).join(ledger_open_pending, o.transfer_id == c.id)
    if due_at is not None:
        query = query.where(o.expires_at <= due_at).order_by(o.expires_at, c.id)
    else:
        query = query.order_by(c.timestamp, c.id)
    if older_than is not None:
        query = query.where(c.timestamp < older_than)
    return [_transfer(row) for row in await conn.execute(query.limit(limit))]


async def select_open_pending_ids(conn: AsyncConnection, ids: Collection[str] | None) -> set[str]:
    """Which of ``ids`` (all, for None) are still listed as unresolved pending transfers."""
    column = ledger_open_pending.c.transfer_id
    if ids is None:
        return {row[0] for row in await conn.execute(sa.select(column))}
    found: set[str] = set()
    for chunk in _chunks(sorted(set(ids))):
        found |= {row[0] for row in await conn.execute(sa.select(column).where(column.in_(chunk)))}
    return found


async def insert_accounts(conn: AsyncConnection, records: Sequence[AccountRecord]) -> set[str]:
    """Insert accounts, skipping ids taken meanwhile; return the ids actually inserted."""
    return await _insert_new(conn, ledger_accounts, [_account_row(r) for r in records])


async def insert_transfers(conn: AsyncConnection, records: Sequence[TransferRecord]) -> set[str]:
    """Insert transfers in order, skipping any whose id or pending_id is taken; return ids inserted."""
    return await _insert_new(conn, ledger_transfers, [_transfer_row(r) for r in records])


async def update_balance(
    conn: AsyncConnection, account_id: str, before: AccountBalance, after: AccountBalance
) -> bool:
    """Compare-and-set one account's balance; False if it was not ``before`` (a lost race)."""
    c = ledger_accounts.c
    matches = [c[name] == getattr(before, name) for name in _BALANCE_COLUMNS]
    values = {name: getattr(after, name) for name in _BALANCE_COLUMNS}
    result = await conn.execute(sa.update(ledger_accounts).where(c.id == account_id, *matches).values(values))
    return result.rowcount == 1


async def open_pending(conn: AsyncConnection, records: Sequence[TransferRecord]) -> None:
    """List new pending transfers as unresolved."""
    rows = [{"transfer_id": r.id, "expires_at": r.expires_at} for r in records]
    for chunk in _chunks(rows):
        await conn.execute(sa.insert(ledger_open_pending), chunk)


async def close_pending(conn: AsyncConnection, ids: Sequence[str]) -> int:
    """Unlist resolved pending transfers; return how many were listed."""
    deleted = 0
    for chunk in _chunks(ids):
        column = ledger_open_pending.c.transfer_id
        deleted += (await conn.execute(sa.delete(ledger_open_pending).where(column.in_(chunk)))).rowcount
    return deleted


async def _insert_new(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> set[str]:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    inserted: set[str] = set()
    for chunk in _chunks(rows):
        statement = insert(table).values(chunk).on_conflict_do_nothing().returning(table.c.id)
        inserted |= {row[0] for row in await conn.execute(statement)}
    return inserted


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _account_row(record: AccountRecord) -> dict[str, Any]:
    a, b = record.account, record.balance
    balances = {name: getattr(b, name) for name in _BALANCE_COLUMNS}
    return {
        "id": a.id,
        "ledger": a.ledger,
        "code": a.code,
        "flags": int(a.flags),
        "user_data": a.user_data,
        "created_at": record.created_at,
        **balances,
    }


def _account(row: sa.Row[Any]) -> AccountRecord:
    account = Account(
        id=row.id, ledger=row.ledger, code=row.code, flags=AccountFlags(row.flags), user_data=row.user_data
    )
    balance = AccountBalance(*(int(getattr(row, name)) for name in _BALANCE_COLUMNS))
    return AccountRecord(account=account, balance=balance, created_at=row.created_at)


def _transfer_row(record: TransferRecord) -> dict[str, Any]:
    t = record.transfer
    return {
        "id": t.id,
        "debit_account_id": t.debit_account_id,
        "credit_account_id": t.credit_account_id,
        "amount": t.amount,
        "ledger": t.ledger,
        "code": t.code,
        "flags": int(t.flags),
        "pending_id": t.pending_id,
        "timeout_s": t.timeout_s,
        "user_data": t.user_data,
        "timestamp": record.timestamp,
    }


def _transfer(row: sa.Row[Any]) -> TransferRecord:
    transfer = Transfer(
        id=row.id,
        amount=int(row.amount),
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        ledger=row.ledger,
        code=row.code,
        flags=TransferFlags(row.flags),
        pending_id=row.pending_id,
        timeout_s=row.timeout_s,
        user_data=row.user_data,
    )
    return TransferRecord(transfer=transfer, timestamp=row.timestamp)

"""The ledger's SQL, one small function per statement, shared by both dialects.

Every function takes the connection of a unit of work the store has opened; none commits.
Writes report what they actually did (ids inserted, rows matched) so the store can tell a
lost race from success instead of assuming; see ``store.py`` for how races are resolved.

The statements a batch runs are built once, per dialect: building and hashing a statement
cost more CPU than running it. On PostgreSQL a set of ids is one array parameter, so the
statement's text, and asyncpg's prepared statement, is the same for any number of ids.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.ledger._rows import (
    BALANCE_COLUMNS,
    CHANGE_COLUMNS,
    account_record,
    account_row,
    balance_change,
    transfer_record,
    transfer_row,
)
from tenantgate.ledger.model import AccountBalance, AccountRecord, TransferRecord
from tenantgate.ledger.tables import ledger_accounts, ledger_open_pending, ledger_transfers

_CHUNK = 500  # ids per IN list / rows per INSERT: far below both drivers' parameter limits
_DIALECTS = ("postgresql", "sqlite")
T = TypeVar("T")
_a, _t, _o = ledger_accounts.c, ledger_transfers.c, ledger_open_pending.c


def _one_of(column: sa.Column[Any], name: str, dialect: str) -> sa.ColumnElement[bool]:
    """``column`` is one of the ids in the list bound to ``name``."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(sa.String())))
    return column.in_(sa.bindparam(name, expanding=True))  # an IN list, one parameter per id


_ACCOUNTS = {d: sa.select(ledger_accounts).where(_one_of(_a.id, "ids", d)).order_by(_a.id) for d in _DIALECTS}
_ACCOUNTS_LOCKED = {d: query.with_for_update(key_share=True) for d, query in _ACCOUNTS.items()}
_TRANSFERS = {d: sa.select(ledger_transfers).where(_one_of(_t.id, "ids", d)) for d in _DIALECTS}
_TRANSFERS_OR_SETTLEMENTS = {
    d: sa.select(ledger_transfers).where(
        sa.or_(_one_of(_t.id, "ids", d), _one_of(_t.pending_id, "pending_ids", d))
    )
    for d in _DIALECTS
}
_CLOSE_PENDING = {
    d: sa.delete(ledger_open_pending).where(_one_of(_o.transfer_id, "ids", d)) for d in _DIALECTS
}
_OPEN_PENDING = sa.insert(ledger_open_pending)
_INSERT_NEW = {
    (dialect, table.name): insert(table).on_conflict_do_nothing().returning(table.c.id)
    for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
    for table in (ledger_accounts, ledger_transfers)
}
_UPDATE_BALANCE = (  # SQLite, as an executemany: its rowcount is the sum over the rows
    sa.update(ledger_accounts)
    .where(_a.id == sa.bindparam("account_id"))
    .where(*(_a[n] == sa.bindparam(f"old_{n}") for n in BALANCE_COLUMNS))
    .values({n: sa.bindparam(f"new_{n}") for n in BALANCE_COLUMNS})
)
_changes = (  # PostgreSQL, where asyncpg cannot count an executemany: one row per account
    sa.func.unnest(
        *(
            sa.cast(sa.bindparam(n), postgresql.ARRAY(sa.String() if n == "account_id" else sa.BigInteger()))
            for n in CHANGE_COLUMNS
        )
    )
    .table_valued(*CHANGE_COLUMNS)
    .render_derived()
)
_UPDATE_BALANCES_FROM_ARRAYS = (
    sa.update(ledger_accounts)
    .where(_a.id == _changes.c.account_id)
    .where(*(_a[n] == _changes.c[f"old_{n}"] for n in BALANCE_COLUMNS))
    .values({n: _changes.c[f"new_{n}"] for n in BALANCE_COLUMNS})
    .returning(_a.id)
)


async def select_accounts(
    conn: AsyncConnection, ids: Collection[str], *, lock: bool
) -> dict[str, AccountRecord]:
    """Accounts by id; with ``lock``, row-locked in id order so concurrent batches never deadlock.

    ``FOR NO KEY UPDATE`` (PostgreSQL) still lets other transactions insert transfers that
    reference these rows; SQLite renders no lock, its ``BEGIN IMMEDIATE`` already serializes.
    """
    found: dict[str, AccountRecord] = {}
    query = (_ACCOUNTS_LOCKED if lock else _ACCOUNTS)[conn.dialect.name]
    for chunk in _chunks(sorted(set(ids))):
        found.update((row.id, account_record(row)) for row in await conn.execute(query, {"ids": chunk}))
    return found


async def select_all_accounts(conn: AsyncConnection) -> list[AccountRecord]:
    """Every account, by id (for audits of a whole ledger)."""
    query = sa.select(ledger_accounts).order_by(ledger_accounts.c.id)
    return [account_record(row) for row in await conn.execute(query)]


async def select_transfers(conn: AsyncConnection, ids: Collection[str]) -> dict[str, TransferRecord]:
    """Transfers by id (rows are immutable, so no lock is needed to read them)."""
    found: dict[str, TransferRecord] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = await conn.execute(_TRANSFERS[conn.dialect.name], {"ids": chunk})
        found.update((r.id, r) for r in map(transfer_record, rows))
    return found


async def select_transfers_and_settlements(
    conn: AsyncConnection, ids: Collection[str], pending_ids: Collection[str]
) -> tuple[dict[str, TransferRecord], list[TransferRecord]]:
    """Transfers by id, and the posts, voids and expiries that resolved any of ``pending_ids``:
    one statement (per ``_CHUNK`` of each) where two would cost two round trips."""
    wanted_ids, wanted_pending_ids = set(ids), set(pending_ids)
    id_chunks, pending_chunks = list(_chunks(sorted(wanted_ids))), list(_chunks(sorted(wanted_pending_ids)))
    found: dict[str, TransferRecord] = {}
    for i in range(max(len(id_chunks), len(pending_chunks))):
        params = {
            "ids": id_chunks[i] if i < len(id_chunks) else [],
            "pending_ids": pending_chunks[i] if i < len(pending_chunks) else [],
        }
        rows = await conn.execute(_TRANSFERS_OR_SETTLEMENTS[conn.dialect.name], params)
        found.update((r.id, r) for r in map(transfer_record, rows))
    by_id = {i: r for i, r in found.items() if i in wanted_ids}
    return by_id, [r for r in found.values() if r.transfer.pending_id in wanted_pending_ids]


async def select_touching(conn: AsyncConnection, account_ids: Collection[str] | None) -> list[TransferRecord]:
    """Every transfer debiting or crediting one of ``account_ids`` (all transfers for None)."""
    c = ledger_transfers.c
    query = sa.select(ledger_transfers).order_by(c.timestamp, c.id)
    if account_ids is None:
        return [transfer_record(row) for row in await conn.execute(query)]
    found: dict[str, TransferRecord] = {}
    for chunk in _chunks(sorted(set(account_ids))):
        rows = await conn.execute(
            query.where(sa.or_(c.debit_account_id.in_(chunk), c.credit_account_id.in_(chunk)))
        )
        found.update((row.id, transfer_record(row)) for row in rows)
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
    return [transfer_record(row) for row in await conn.execute(query)]


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
    return [transfer_record(row) for row in await conn.execute(query.limit(limit))]


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
    return await _insert_new(conn, ledger_accounts, [account_row(r) for r in records])


async def insert_transfers(conn: AsyncConnection, records: Sequence[TransferRecord]) -> set[str]:
    """Insert transfers in order, skipping any whose id or pending_id is taken; return ids inserted."""
    return await _insert_new(conn, ledger_transfers, [transfer_row(r) for r in records])


async def update_balances(
    conn: AsyncConnection, changes: Sequence[tuple[str, AccountBalance, AccountBalance]]
) -> bool:
    """Compare-and-set ``(account_id, before, after)`` balances; False if any account was not
    at ``before`` (a lost race). One statement however many accounts the batch moved."""
    rows = [balance_change(*change) for change in changes]
    if conn.dialect.name == "postgresql":
        columns = {name: [row[name] for row in rows] for name in CHANGE_COLUMNS}
        updated = {row[0] for row in await conn.execute(_UPDATE_BALANCES_FROM_ARRAYS, columns)}
        return updated == set(columns["account_id"])
    for chunk in _chunks(rows):
        result = await conn.execute(_UPDATE_BALANCE, list(chunk) if len(chunk) > 1 else chunk[0])
        if result.rowcount != len(chunk):
            return False
    return True


async def open_pending(conn: AsyncConnection, records: Sequence[TransferRecord]) -> None:
    """List new pending transfers as unresolved."""
    rows = [{"transfer_id": r.id, "expires_at": r.expires_at} for r in records]
    for chunk in _chunks(rows):
        await conn.execute(_OPEN_PENDING, list(chunk))


async def close_pending(conn: AsyncConnection, ids: Sequence[str]) -> int:
    """Unlist resolved pending transfers; return how many were listed."""
    deleted = 0
    for chunk in _chunks(ids):
        deleted += (await conn.execute(_CLOSE_PENDING[conn.dialect.name], {"ids": list(chunk)})).rowcount
    return deleted


async def _insert_new(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> set[str]:
    statement = _INSERT_NEW[conn.dialect.name, table.name]
    inserted: set[str] = set()
    for chunk in _chunks(rows):
        # executemany ("insertmanyvalues"): the statement compiles once and is cached, instead
        # of a fresh multi-row VALUES compile per batch (which cost more than the SQL itself)
        inserted |= {row[0] for row in await conn.execute(statement, list(chunk))}
    return inserted


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]

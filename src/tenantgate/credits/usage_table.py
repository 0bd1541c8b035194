"""The ``usage_records`` table (migration ``0009``): one row per metered request, written with its charge.

The ledger holds money; this table holds the facts behind it, one row per request: who
called (principal, key, user, compartment), what (operation, model, deployment, region),
what it used (tokens in, cached, out; ``estimated`` when the upstream reported none), what
it cost, how it went (``status``, latency, attempts) and which settlement paid it.

A billed record is inserted in the same transaction as the ledger transfers that charge it
(``LedgerStore.create_transfers(..., also=...)``) and takes their timestamp as
``booked_at``, so a report summed from these rows equals the ledger to the micro-credit, in
every time bucket. Requests that were refused or failed before any token are recorded too
(``refused`` / ``released``, cost 0), so every request leaves a trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.credits.usage_record import UsageRecord
from tenantgate.ledger.model import TransferRecord
from tenantgate.ledger.store import AlsoWrite
from tenantgate.storage.column_types import UtcDateTime
from tenantgate.storage.metadata import metadata

ID_LENGTH = 32
TEXT_LENGTH = 128


usage_records = sa.Table(
    "usage_records",
    metadata,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("booked_at", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("request_id", sa.String(TEXT_LENGTH), nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("model", sa.String(TEXT_LENGTH), nullable=False),
    sa.Column("deployment", sa.String(TEXT_LENGTH), nullable=True),
    sa.Column("region", sa.String(64), nullable=True),
    sa.Column("principal_type", sa.String(16), nullable=False),
    sa.Column("principal_id", sa.String(TEXT_LENGTH), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=True),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("compartment_id", sa.String(64), nullable=True),
    sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
    sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
    sa.Column("estimated", sa.Boolean(), nullable=False),
    sa.Column("cost_micros", sa.BigInteger(), nullable=False),
    sa.Column("paid_by", sa.String(TEXT_LENGTH), nullable=True),
    sa.Column("settlement_id", sa.String(TEXT_LENGTH), nullable=True),
    sa.Column("latency_ms", sa.Integer(), nullable=True),
    sa.Column("attempts", sa.JSON(none_as_null=True), nullable=True),
    sa.Index("ix_usage_records_booked_at", "booked_at", "id"),
)


_FIELDS = tuple(name for name in UsageRecord._fields if name != "booked_at")
_COLUMN_NAMES = (*_FIELDS, "booked_at")
_PLACEHOLDERS: dict[str, Callable[[int], str]] = {
    "qmark": lambda n: "?",
    "numeric_dollar": lambda n: f"${n}",
    "format": lambda n: "%s",
    "pyformat": lambda n: "%s",
}


@functools.cache
def _statement(paramstyle: str) -> str:
    """The insert for the driver's paramstyle; an id already there (a re-run) is kept."""
    mark = _PLACEHOLDERS[paramstyle]
    values = ", ".join(mark(i + 1) for i in range(len(_COLUMN_NAMES)))
    columns = ", ".join(_COLUMN_NAMES)  # constants of this module, never input
    return f"INSERT INTO usage_records ({columns}) VALUES ({values}) ON CONFLICT (id) DO NOTHING"  # noqa: S608


def _bind(dialect: Dialect, column: str) -> Callable[[Any], Any]:
    processor = usage_records.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return processor or (lambda value: value)


ROWS_PER_CALL = 64
"""Rows per driver call. SQLite's driver runs a call in one burst on its own thread (~5 us a
row) that holds the core the event loop needs: a request arriving meanwhile waits for the
whole call. A roll of 500 records in one call delayed about 1 % of requests by 2.5 ms; in
calls of 64 no wait exceeds ~0.4 ms, for a few more round trips per roll (docs/performance.md)."""


async def insert_records(conn: AsyncConnection, records: Sequence[UsageRecord], booked_at: datetime) -> None:
    """Insert ``records`` booked at ``booked_at``; a record already there (a re-run) is kept.

    Driver-level ``executemany`` calls of ``ROWS_PER_CALL`` rows, values bound by the columns'
    own types once per batch where they are the same for every row: settlement writes a row
    per request, and compiling parameters row by row would cost more than the row itself.
    """
    if not records:
        return
    dialect = conn.dialect
    to_bool = _bind(dialect, "estimated")
    booked = _bind(dialect, "booked_at")(booked_at)
    rows = []
    width = len(_FIELDS)
    for record in records:
        row = list(record[:width])
        row[_ESTIMATED] = to_bool(row[_ESTIMATED])
        attempts = row[_ATTEMPTS]
        row[_ATTEMPTS] = None if attempts is None else _json_text(attempts).decode()  # the JSON column's text
        row.append(booked)
        rows.append(tuple(row))
    statement = _statement(dialect.paramstyle)
    for start in range(0, len(rows), ROWS_PER_CALL):
        await conn.exec_driver_sql(statement, rows[start:start + ROWS_PER_CALL])


_json_text = msgspec.json.Encoder().encode
_ESTIMATED = _FIELDS.index("estimated")
_ATTEMPTS = _FIELDS.index("attempts")


def booked_with(records: Sequence[UsageRecord], settlement_id: str) -> AlsoWrite:
    """An ``also`` write for a settlement: insert ``records`` if it created ``settlement_id``.

    A re-run of a batch that already committed finds the transfer existing, not created, and
    its records already there, so nothing is written twice.
    """

    async def write(conn: AsyncConnection, created: Mapping[str, TransferRecord]) -> None:
        settled = created.get(settlement_id)
        if settled is not None:
            await insert_records(conn, records, settled.timestamp)

    return write


def recorded_at(records: Sequence[UsageRecord], at: datetime) -> AlsoWrite:
    """An ``also`` write for records that move no money (refused, released)."""

    async def write(conn: AsyncConnection, created: Mapping[str, TransferRecord]) -> None:
        await insert_records(conn, records, at)

    return write

"""Read the billed usage records of a time range, page by page, as report entries.

One statement on the index ``(booked_at, id)`` of ``usage_records``: every request that was
charged, booked in the same transaction as the ledger transfers that charged it and at their
timestamp, so these sums equal the ledger's usage transfers in every bucket. Rows come in
``(booked_at, id)`` order in pages of ``page_size`` (keyset pagination, each page its own
short read), so a long range is streamed and never held in memory. A settlement committed
later with an earlier timestamp (another replica's, still in flight) shows up on the next
read, not this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.credits.usage_record import UsageStatus
from tenantgate.credits.usage_report import (
    Bucket,
    BucketFold,
    Span,
    UsageEntry,
    UsageFilter,
    entry_of,
    from_unix,
)
from tenantgate.credits.usage_table import usage_records
from tenantgate.storage import Database

PAGE_SIZE = 5_000
_u = usage_records.c
_COLUMNS = (_u.id, _u.booked_at, _u.cost_micros, _u.operation, _u.model, _u.region, _u.deployment,
            _u.key_id, _u.user_id, _u.compartment_id, _u.prompt_tokens, _u.cached_tokens,
            _u.completion_tokens, _u.estimated)
_BILLED = _u.status == UsageStatus.BILLED.value


def _page_query(start: datetime, end: datetime, after: tuple[datetime, str] | None, limit: int) -> Any:
    query = sa.select(*_COLUMNS).where(_BILLED, _u.booked_at >= start, _u.booked_at < end)
    if after is not None:
        moment, last_id = after
        query = query.where(sa.or_(_u.booked_at > moment, sa.and_(_u.booked_at == moment, _u.id > last_id)))
    return query.order_by(_u.booked_at, _u.id).limit(limit)


async def usage_entries(
    db: Database, *, start: datetime, end: datetime, page_size: int = PAGE_SIZE
) -> AsyncIterator[UsageEntry]:
    """Every billed record with ``start <= booked_at < end``, oldest first, as report entries."""
    if page_size < 1:
        raise ValueError("page_size must be positive")
    after: tuple[datetime, str] | None = None
    while True:
        query = _page_query(start, end, after, page_size)

        async def page(conn: AsyncConnection, query: Any = query) -> list[Any]:
            return list(await conn.execute(query))

        rows = await db.run_read(page)
        for row in rows:
            record = row._asdict()
            yield entry_of(timestamp=row.booked_at, amount=int(row.cost_micros), is_post=True,
                           user_data={k: v for k, v in record.items() if k not in ("booked_at", "id")})
        if len(rows) < page_size:
            return
        after = (rows[-1].booked_at, rows[-1].id)


async def fold_usage(
    db: Database, windows: Sequence[Span], *, group_by: Sequence[str], keep: UsageFilter
) -> list[Bucket]:
    """The buckets of ``windows`` (contiguous, from ``spans``) with what ``keep`` admits, grouped."""
    fold = BucketFold(windows, group_by=group_by, keep=keep)
    if windows:
        start, end = from_unix(windows[0].start_s), from_unix(windows[-1].end_s)
        async for entry in usage_entries(db, start=start, end=end):
            fold.add(entry)
    return fold.buckets

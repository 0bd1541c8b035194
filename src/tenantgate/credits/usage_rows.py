"""Read the commitment-side settlement transfers of a time range from the ledger, page by page.

One statement, on the index ``(credit_account_id, timestamp)``: every transfer a commitment
(or ``tg:overage``) pays for usage credits ``tg:spend`` — request posts (flag
``post_pending_transfer``) and overages (code ``OVERAGE``) — and grants and forfeits never
do, so the range scan touches only usage. Rows come in ``(timestamp, id)`` order in pages of
``page_size`` (keyset pagination, each page its own short read), so a long range is streamed
and never held in memory. A settlement committed later with an earlier timestamp (another
replica's, still in flight) shows up on the next read, not this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.credits.accounts import OVERAGE, SPEND, TransferCode
from tenantgate.credits.usage_report import (
    Bucket,
    BucketFold,
    Span,
    UsageEntry,
    UsageFilter,
    entry_of,
    from_unix,
)
from tenantgate.ledger.model import TransferFlags
from tenantgate.ledger.tables import ledger_transfers
from tenantgate.storage import Database

PAGE_SIZE = 5_000
_POST = int(TransferFlags.POST_PENDING_TRANSFER)
_t = ledger_transfers.c
_COLUMNS = (_t.id, _t.timestamp, _t.amount, _t.flags, _t.user_data)
_USAGE = sa.and_(
    _t.credit_account_id == SPEND,
    sa.or_(_t.debit_account_id.like("cmt:%"), _t.debit_account_id == OVERAGE),
    sa.or_(_t.flags.op("&")(_POST) != 0, _t.code == int(TransferCode.OVERAGE)),
)


def _page_query(start: datetime, end: datetime, after: tuple[datetime, str] | None, limit: int) -> Any:
    query = sa.select(*_COLUMNS).where(_USAGE, _t.timestamp >= start, _t.timestamp < end)
    if after is not None:
        moment, last_id = after
        query = query.where(sa.or_(_t.timestamp > moment, sa.and_(_t.timestamp == moment, _t.id > last_id)))
    return query.order_by(_t.timestamp, _t.id).limit(limit)


async def usage_entries(
    db: Database, *, start: datetime, end: datetime, page_size: int = PAGE_SIZE
) -> AsyncIterator[UsageEntry]:
    """Every usage transfer with ``start <= timestamp < end``, oldest first, as report entries."""
    if page_size < 1:
        raise ValueError("page_size must be positive")
    after: tuple[datetime, str] | None = None
    while True:
        query = _page_query(start, end, after, page_size)

        async def page(conn: AsyncConnection, query: Any = query) -> list[Any]:
            return list(await conn.execute(query))

        rows = await db.run_read(page)
        for row in rows:
            yield entry_of(timestamp=row.timestamp, amount=int(row.amount),
                           is_post=bool(row.flags & _POST), user_data=row.user_data)
        if len(rows) < page_size:
            return
        after = (rows[-1].timestamp, rows[-1].id)


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

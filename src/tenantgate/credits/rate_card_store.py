"""``RateCardStore``: administered rate-card entries in ``rate_card_entries``, the only I/O they need.

Entries are immutable once written. Withdrawing one (only while it is still in the future)
stamps ``withdrawn_at`` rather than deleting the row, by a conditional update that
re-checks "not withdrawn, not yet in effect" inside the statement, so a withdrawal racing
the entry's start, or another withdrawal, cannot succeed late. Because rows are never
deleted, ``revision()`` — ``count(*)`` and ``count(withdrawn_at)`` — changes with every
addition and every withdrawal, and replicas poll it to know when to reload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.credits import rate_card_entries as rules
from tenantgate.credits.pricing import DeploymentType, Price, RateEntry
from tenantgate.credits.tables import rate_card_entries as table
from tenantgate.errors import InternalError, RateCardEntryNotFound
from tenantgate.iam.model import Clock, new_id
from tenantgate.storage.database import Database

Revision = tuple[int, int]
"""(entries ever added, entries ever withdrawn): changes whenever the card does."""
ID_PREFIX = "rce"
_c = table.c


class RateCardStore:
    """Adds, lists and withdraws administered rate-card entries on one database."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(
        self, *, model: str, price: Price, created_by: str, region: str | None = None,
        deployment_type: DeploymentType | None = None, effective_from: datetime | None = None,
    ) -> RateEntry:
        """Record a new entry from ``effective_from`` (default now); 400 if that is in the past."""
        now = self._clock()
        entry = RateEntry(model=model, price=price, effective_from=rules.start_of(effective_from, now),
                          region=region, deployment_type=deployment_type, source="api",
                          entry_id=new_id(ID_PREFIX), created_at=now, created_by=created_by)
        await self._db.run_write(lambda conn: conn.execute(table.insert().values(_values(entry))))
        return entry

    async def list_entries(self, *, model: str | None = None) -> list[RateEntry]:
        """Every entry not withdrawn (optionally of one model), by key then ``effective_from``."""
        query = sa.select(table).where(_c.withdrawn_at.is_(None))
        if model is not None:
            query = query.where(_c.model == model)
        query = query.order_by(_c.model, _c.region, _c.deployment_type, _c.effective_from, _c.id)

        async def read(conn: AsyncConnection) -> list[RateEntry]:
            return [_entry(row) for row in await conn.execute(query)]

        return await self._db.run_read(read)

    async def get(self, entry_id: str) -> RateEntry:
        """One entry not withdrawn; ``RateCardEntryNotFound`` otherwise."""
        query = sa.select(table).where(_c.id == entry_id, _c.withdrawn_at.is_(None))

        async def read(conn: AsyncConnection) -> sa.Row[Any] | None:
            return (await conn.execute(query)).first()

        row = await self._db.run_read(read)
        if row is None:
            raise RateCardEntryNotFound(f"No rate-card entry has the id {entry_id!r}.", param="id")
        return _entry(row)

    async def withdraw(self, entry_id: str, *, by: str) -> RateEntry:
        """Withdraw a future entry; 404 if there is none, 409 once it is in effect."""
        entry = await self.get(entry_id)
        now = self._clock()
        rules.check_withdrawable(entry, now)
        statement = table.update().where(
            _c.id == entry_id, _c.withdrawn_at.is_(None), _c.effective_from > now,
        ).values(withdrawn_at=now, withdrawn_by=by)

        async def write(conn: AsyncConnection) -> int:
            return (await conn.execute(statement)).rowcount

        if await self._db.run_write(write) != 1:  # lost a race: say why, as it stands now
            rules.check_withdrawable(await self.get(entry_id), self._clock())
            raise InternalError(f"The rate-card entry {entry_id} could not be withdrawn.")
        return entry

    async def revision(self) -> Revision:
        """(entries added, entries withdrawn), in one cheap aggregate query."""
        query = sa.select(sa.func.count(), sa.func.count(_c.withdrawn_at)).select_from(table)

        async def read(conn: AsyncConnection) -> Revision:
            added, withdrawn = (await conn.execute(query)).one()
            return int(added), int(withdrawn)

        return await self._db.run_read(read)


def _values(entry: RateEntry) -> dict[str, Any]:
    price = entry.price
    return {"id": entry.entry_id, "model": entry.model, "region": entry.region,
            "deployment_type": entry.deployment_type, "input_per_1m_micros": price.input,
            "cached_input_per_1m_micros": price.cached_input, "output_per_1m_micros": price.output,
            "embedding_per_1m_micros": price.embedding, "effective_from": entry.effective_from,
            "created_at": entry.created_at, "created_by": entry.created_by}


def _entry(row: sa.Row[Any]) -> RateEntry:
    price = Price(row.input_per_1m_micros, row.output_per_1m_micros, row.cached_input_per_1m_micros,
                  row.embedding_per_1m_micros)
    return RateEntry(model=row.model, price=price, effective_from=row.effective_from, region=row.region,
                     deployment_type=row.deployment_type, source="api", entry_id=row.id,
                     created_at=row.created_at, created_by=row.created_by)

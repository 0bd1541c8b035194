"""``AuditStore``: appends to, lists and verifies the audit chain on SQLite or PostgreSQL.

Contracts:

* ``append`` writes a whole batch in one transaction holding the chain's head row: on
  PostgreSQL ``SELECT … FOR UPDATE`` (READ COMMITTED suffices, as the lock serializes
  appenders); on SQLite every write transaction is ``BEGIN IMMEDIATE``. Any number of
  replicas therefore append to one gapless chain, and a failed batch leaves no trace.
* The head row is created by the first append, race-safely (insert-or-ignore, then lock).
* ``verify`` reads one consistent snapshot, page by page, so memory stays flat and rows
  committed during the check cannot look like tampering.
* ``occurred_at`` is stamped by the store's clock when the batch is committed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.audit.chain import GENESIS_HASH, ChainReport, ChainVerifier, seal
from tenantgate.audit.model import AuditEntry, AuditEvent, ChainHead, Clock, RandomChoice, new_event_id
from tenantgate.audit.tables import audit_chain_head, audit_events
from tenantgate.storage.database import Database

LIST_LIMIT_MAX = 1_000
_HEAD_KEY = 1


class AuditStore:
    """The chain's one writer API (``append``) and its readers (``list_events``, ``verify``, ``head``)."""

    def __init__(self, db: Database, *, clock: Clock, choice: RandomChoice = secrets.choice) -> None:
        self._db = db
        self._clock = clock
        self._choice = choice

    async def append(self, entries: Sequence[AuditEntry]) -> list[AuditEvent]:
        """Chain ``entries``, in order, after the current head in one transaction; return the events."""
        if not entries:
            return []
        event_ids = [new_event_id(self._choice) for _ in entries]

        async def work(conn: AsyncConnection) -> list[AuditEvent]:
            now = self._clock()
            last_seq, last_hash = await _lock_head(conn, now)
            events: list[AuditEvent] = []
            for entry, event_id in zip(entries, event_ids, strict=True):
                last_seq += 1
                event = seal(entry, seq=last_seq, event_id=event_id, occurred_at=now, prev_hash=last_hash)
                events.append(event)
                last_hash = event.hash
            await conn.execute(audit_events.insert(), [_row(event) for event in events])
            await conn.execute(
                audit_chain_head.update()
                .where(audit_chain_head.c.singleton == _HEAD_KEY)
                .values(last_seq=last_seq, last_hash=last_hash, updated_at=now)
            )
            return events

        return await self._db.run_write(work)

    async def head(self) -> ChainHead | None:
        """The head record, or None before the first append."""
        return await self._db.run_read(_read_head)

    async def list_events(
        self,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
        action: str | None = None,
        actor_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = False,
    ) -> list[AuditEvent]:
        """Events matching every filter given, oldest first (``newest_first`` flips it).

        Page forward with ``after_seq`` (the last seq seen) or backward with ``before_seq``.
        ``action`` matches exactly, or by prefix when it ends in ``.*`` (``iam.*``).
        ``since`` is inclusive and ``until`` exclusive.
        """
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise ValueError(f"limit must be between 1 and {LIST_LIMIT_MAX}")
        columns = audit_events.c
        query = sa.select(audit_events)
        if after_seq is not None:
            query = query.where(columns.seq > after_seq)
        if before_seq is not None:
            query = query.where(columns.seq < before_seq)
        if action is not None and action.endswith(".*"):
            query = query.where(columns.action.startswith(action[:-1], autoescape=True))
        elif action is not None:
            query = query.where(columns.action == action)
        if actor_id is not None:
            query = query.where(columns.actor_id == actor_id)
        if since is not None:
            query = query.where(columns.occurred_at >= since)
        if until is not None:
            query = query.where(columns.occurred_at < until)
        query = query.order_by(columns.seq.desc() if newest_first else columns.seq).limit(limit)

        async def work(conn: AsyncConnection) -> list[AuditEvent]:
            return [_event(row) for row in await conn.execute(query)]

        return await self._db.run_read(work)

    async def verify(self, *, page_size: int = 1_000) -> ChainReport:
        """Check the whole chain against the head record; report the first break, if any."""
        if page_size < 1:
            raise ValueError("page_size must be positive")

        async def work(conn: AsyncConnection) -> ChainReport:
            head = await _read_head(conn)
            # No head row but events present means the head was deleted: expect an empty chain.
            verifier = ChainVerifier(expected_head=(head.seq, head.hash) if head else (0, GENESIS_HASH))
            query = sa.select(audit_events).order_by(audit_events.c.seq).limit(page_size)
            page_query = query
            while True:
                rows = (await conn.execute(page_query)).all()
                for row in rows:
                    if verifier.feed(_event(row)) is not None:
                        return verifier.finish()
                if len(rows) < page_size:
                    return verifier.finish()
                page_query = query.where(audit_events.c.seq > rows[-1].seq)

        return await self._db.run_read(work)


async def _lock_head(conn: AsyncConnection, now: datetime) -> tuple[int, str]:
    """Lock the head row (creating it at genesis on first use) and return (last_seq, last_hash)."""
    query = (
        sa.select(audit_chain_head.c.last_seq, audit_chain_head.c.last_hash)
        .where(audit_chain_head.c.singleton == _HEAD_KEY)
        .with_for_update()  # SQLite renders nothing here: BEGIN IMMEDIATE already holds the lock
    )
    row = (await conn.execute(query)).first()
    if row is None:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        await conn.execute(
            insert(audit_chain_head)
            .values(singleton=_HEAD_KEY, last_seq=0, last_hash=GENESIS_HASH, updated_at=now)
            .on_conflict_do_nothing(index_elements=["singleton"])
        )
        row = (await conn.execute(query)).one()
    return int(row.last_seq), str(row.last_hash)


async def _read_head(conn: AsyncConnection) -> ChainHead | None:
    row = (await conn.execute(sa.select(audit_chain_head))).first()
    return None if row is None else ChainHead(row.last_seq, row.last_hash, row.updated_at)


def _row(event: AuditEvent) -> dict[str, Any]:
    values = {name: getattr(event, name) for name in AuditEvent.__slots__}
    values["statement_ids"] = list(event.statement_ids)
    values["details"] = dict(event.details)
    return values


def _event(row: sa.Row[Any]) -> AuditEvent:
    """The event exactly as stored: values are not coerced, so tampering cannot be normalised away."""
    values = row._asdict()
    if isinstance(values["statement_ids"], list):
        values["statement_ids"] = tuple(values["statement_ids"])
    return AuditEvent(**values)

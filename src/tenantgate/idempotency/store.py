"""``IdempotencyStore``: claims, completes and releases idempotency records on SQLite or PostgreSQL.

Contracts:

* ``claim`` is one short write transaction: insert-or-ignore on the (scope, key) primary
  key, then read the row and ``decide``. Of any number of replicas racing, exactly one
  insert wins (on PostgreSQL the losers' inserts wait for the winner's commit, then find
  its row; on SQLite ``BEGIN IMMEDIATE`` serializes them).
* Taking over an expired record, or an in-flight one whose lease ran out, is a
  compare-and-set on the old ``owner``: two retries racing for a dead claim get one winner.
* ``complete``, ``renew`` and ``release`` act only on the caller's own claim (its ``owner``
  token), so a request whose lease was taken over cannot overwrite or delete its successor.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.idempotency.model import (
    Clock,
    Conflict,
    IdempotencyRecord,
    Mismatch,
    RecordState,
    Replay,
    ReplayUnavailable,
    Run,
    StoredResponse,
    decide,
)
from tenantgate.idempotency.tables import idempotency_records
from tenantgate.storage.database import Database

PURGE_BATCH = 1_000
_TAKEOVER_ATTEMPTS = 3
_c = idempotency_records.c


@dataclass(frozen=True, slots=True)
class Claim:
    """This request owns the key: it runs, then completes or releases the record."""

    scope: str
    key: str
    owner: str


ClaimResult = Claim | Replay | Conflict | Mismatch | ReplayUnavailable


def _new_owner() -> str:
    return secrets.token_hex(16)


class IdempotencyStore:
    """The idempotency records of every replica, in the shared database."""

    def __init__(self, db: Database, *, clock: Clock, new_owner: Callable[[], str] = _new_owner) -> None:
        self._db = db
        self._clock = clock
        self._new_owner = new_owner

    async def claim(
        self, scope: str, key: str, fingerprint: str, *, lease_s: float, ttl_s: float
    ) -> ClaimResult:
        """Claim (scope, key) for a request with ``fingerprint``, or say what it gets instead."""
        owner = self._new_owner()

        async def work(conn: AsyncConnection) -> ClaimResult:
            now = self._clock()
            values = {
                "scope": scope, "idempotency_key": key, "fingerprint": fingerprint, "owner": owner,
                "state": RecordState.IN_FLIGHT.value, "status": None, "headers": None, "body": None,
                "created_at": now, "locked_until": now + timedelta(seconds=lease_s),
                "expires_at": now + timedelta(seconds=ttl_s),
            }
            if await _insert_if_absent(conn, values):
                return Claim(scope, key, owner)
            for _ in range(_TAKEOVER_ATTEMPTS):
                existing = await _read(conn, scope, key)
                decision = decide(existing, fingerprint, now)
                if not isinstance(decision, Run):
                    return decision
                if existing is None:
                    if await _insert_if_absent(conn, values):
                        return Claim(scope, key, owner)
                elif await _take_over(conn, existing.owner, values):
                    return Claim(scope, key, owner)
            return Conflict()  # the row kept changing under us: someone else is on it

        return await self._db.run_write(work)

    async def complete(self, claim: Claim, response: StoredResponse | None) -> bool:
        """Record the claim's answer (None: completed, too large to replay); False if not ours."""
        if response is None:
            values: dict[str, Any] = {"state": RecordState.UNREPLAYABLE.value}
        else:
            values = {"state": RecordState.DONE.value, "status": response.status,
                      "headers": [list(pair) for pair in response.headers], "body": response.body}
        statement = _own(claim).values(**values)

        async def work(conn: AsyncConnection) -> bool:
            return bool((await conn.execute(statement)).rowcount == 1)

        return await self._db.run_write(work)

    async def renew(self, claim: Claim, *, lease_s: float) -> bool:
        """Extend the claim's lease from now; False once the claim is no longer ours."""

        async def work(conn: AsyncConnection) -> bool:
            until = self._clock() + timedelta(seconds=lease_s)
            return bool((await conn.execute(_own(claim).values(locked_until=until))).rowcount == 1)

        return await self._db.run_write(work)

    async def release(self, claim: Claim) -> bool:
        """Delete the claim's in-flight record, so a retry runs for real; False if not ours."""
        statement = idempotency_records.delete().where(*_own_row(claim))

        async def work(conn: AsyncConnection) -> bool:
            return bool((await conn.execute(statement)).rowcount == 1)

        return await self._db.run_write(work)

    async def purge_expired(self, *, limit: int = PURGE_BATCH) -> int:
        """Delete up to ``limit`` records past their expiry; return how many went."""

        async def work(conn: AsyncConnection) -> int:
            now = self._clock()
            expired = sa.select(_c.scope, _c.idempotency_key).where(_c.expires_at <= now).limit(limit)
            # The outer condition is re-checked on rows changed meanwhile (a takeover renews them).
            statement = idempotency_records.delete().where(
                sa.tuple_(_c.scope, _c.idempotency_key).in_(expired), _c.expires_at <= now
            )
            return int((await conn.execute(statement)).rowcount)

        return await self._db.run_write(work)

    async def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        """The record for (scope, key) as stored, expired or not (for tests and operators)."""

        async def work(conn: AsyncConnection) -> IdempotencyRecord | None:
            return await _read(conn, scope, key)

        return await self._db.run_read(work)


def _own_row(claim: Claim) -> tuple[sa.ColumnElement[bool], ...]:
    return (_c.scope == claim.scope, _c.idempotency_key == claim.key, _c.owner == claim.owner,
            _c.state == RecordState.IN_FLIGHT.value)


def _own(claim: Claim) -> sa.Update:
    return idempotency_records.update().where(*_own_row(claim))


async def _insert_if_absent(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(idempotency_records).values(**values).on_conflict_do_nothing()
    return bool((await conn.execute(statement)).rowcount == 1)


async def _take_over(conn: AsyncConnection, old_owner: str, values: dict[str, Any]) -> bool:
    """Replace a dead record (expired, or in flight past its lease) if nobody else did first."""
    statement = (
        idempotency_records.update()
        .where(_c.scope == values["scope"], _c.idempotency_key == values["idempotency_key"],
               _c.owner == old_owner)
        .values({k: v for k, v in values.items() if k not in ("scope", "idempotency_key")})
    )
    return bool((await conn.execute(statement)).rowcount == 1)


async def _read(conn: AsyncConnection, scope: str, key: str) -> IdempotencyRecord | None:
    query = sa.select(idempotency_records).where(_c.scope == scope, _c.idempotency_key == key)
    row = (await conn.execute(query)).first()
    return None if row is None else _record(row)


def _record(row: sa.Row[Any]) -> IdempotencyRecord:
    state = RecordState(row.state)
    response = None
    if state is RecordState.DONE:
        headers = tuple((str(name), str(value)) for name, value in row.headers or [])
        response = StoredResponse(int(row.status), headers, bytes(row.body or b""))
    return IdempotencyRecord(
        scope=row.scope, key=row.idempotency_key, fingerprint=row.fingerprint, owner=row.owner,
        state=state, response=response, created_at=row.created_at, locked_until=row.locked_until,
        expires_at=row.expires_at,
    )

"""The API-key half of ``IdentityStore``: mint, rotate, revoke, expire and authenticate.

Part of ``store.py`` (split out only to keep modules small). Authentication is one read
of the key and its two secret rows plus a constant-time digest comparison; it writes only
when ``last_used_at`` is over a minute old, with a conditional UPDATE so concurrent
replicas write it once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.errors import (
    ApiKeyNotFound,
    ApiKeySecretsInUse,
    ExpiredApiKey,
    InvalidApiKey,
    InvalidParameterValue,
)
from tenantgate.iam import _identity_rows as rows
from tenantgate.iam.api_keys import SLOTS, RandomChoice, matches, mint_secret, new_key_id, parse_presented
from tenantgate.iam.model import (
    LAST_USED_RESOLUTION,
    ApiKey,
    AuthenticatedKey,
    Clock,
    CreatedApiKey,
    SecretSlot,
    check_name,
    parse_ip_ranges,
)
from tenantgate.iam.tables import api_key_secrets, api_keys
from tenantgate.storage.database import Database
from tenantgate.storage.unit_of_work import T, Work, WriteIsolation


class ApiKeyStore:
    """API keys owned by a user or a compartment, each with two interchangeable secrets."""

    def __init__(self, db: Database, *, clock: Clock, choice: RandomChoice = secrets.choice) -> None:
        self._db = db
        self._clock = clock
        self._choice = choice

    async def _write(self, work: Work[T], *, isolation: WriteIsolation = "read_committed") -> T:
        """Run an identity change and bump the revision in the same transaction.

        Every replica's access cache polls that revision, so no change (a revoked key, a
        narrowed policy) can commit without the caches learning of it.
        """

        async def changed(conn: AsyncConnection) -> T:
            result = await work(conn)
            await rows.bump_revision(conn)
            return result

        return await self._db.run_write(changed, isolation=isolation)

    async def revision(self) -> int:
        """The identity revision: changes whenever anything an access decision reads changes."""
        return await self._db.run_read(rows.read_revision)

    async def create_api_key(
        self, name: str, *, owner_user_id: str | None = None, owner_compartment_id: str | None = None,
        allowed_models: Sequence[str] | None = None, allowed_ip_ranges: Sequence[str] | None = None,
        expires_at: datetime | None = None, compartment_id: str | None = None,
    ) -> CreatedApiKey:
        """A new key with secret slot 1 minted; the token is in the result and nowhere else.

        ``compartment_id`` is a user key's project (default: the tenancy); a service key's
        is always its owner.
        """
        check_name(name)
        if (owner_user_id is None) == (owner_compartment_id is None):
            raise InvalidParameterValue(
                "A key has exactly one owner: a user or a compartment.", param="owner"
            )
        if owner_compartment_id is not None:
            if compartment_id not in (None, owner_compartment_id):
                raise InvalidParameterValue(
                    "A service key's requests target its own compartment.", param="compartment_id"
                )
            compartment_id = owner_compartment_id
        ranges = parse_ip_ranges(tuple(allowed_ip_ranges) if allowed_ip_ranges is not None else None)
        minted, now = mint_secret(new_key_id(self._choice), 1, self._choice), self._clock()
        key_id = f"key_{minted.key_id}"

        async def work(conn: AsyncConnection) -> ApiKey:
            if owner_user_id is not None:
                await rows.read_user(conn, owner_user_id)
            if compartment_id is not None:
                await rows.read_compartment(conn, compartment_id)
            await conn.execute(api_keys.insert().values(
                id=key_id, name=name, owner_user_id=owner_user_id,
                owner_compartment_id=owner_compartment_id, compartment_id=compartment_id,
                allowed_models=list(allowed_models) if allowed_models is not None else None,
                allowed_ip_ranges=[str(net) for net in ranges] if ranges is not None else None,
                created_at=now, revoked_at=None))
            await conn.execute(api_key_secrets.insert().values(
                key_id=key_id, slot=1, digest_sha256=minted.digest_sha256, hint=minted.hint,
                created_at=now, expires_at=expires_at))
            return await _read_key(conn, key_id)

        return CreatedApiKey(minted.token, await self._write(work))

    async def get_api_key(self, key_id: str) -> ApiKey:
        """The key's record and both slots' metadata (never a secret)."""
        return await self._db.run_read(lambda conn: _read_key(conn, key_id))

    async def list_api_keys(
        self, *, owner_user_id: str | None = None, owner_compartment_id: str | None = None
    ) -> list[ApiKey]:
        """Keys, optionally only those of one owner, by creation time."""
        query = sa.select(api_keys.c.id).order_by(api_keys.c.created_at, api_keys.c.id)
        if owner_user_id is not None:
            query = query.where(api_keys.c.owner_user_id == owner_user_id)
        if owner_compartment_id is not None:
            query = query.where(api_keys.c.owner_compartment_id == owner_compartment_id)

        async def work(conn: AsyncConnection) -> list[ApiKey]:
            return [await _read_key(conn, row.id) for row in await conn.execute(query)]

        return await self._db.run_read(work)

    async def rotate_api_key(
        self, key_id: str, *, slot: int | None = None, expires_at: datetime | None = None
    ) -> CreatedApiKey:
        """Mint a secret in ``slot``, or in the slot not in use, leaving the other secret working.

        With ``slot=None`` the free slot (never minted, revoked or expired) is chosen, and
        ApiKeySecretsInUse is raised when both secrets are active, so rotation never
        silently breaks clients that still use the older secret.
        """
        if slot is not None and slot not in SLOTS:
            raise InvalidParameterValue(f"A key's secret slots are {SLOTS}.", param="slot")
        now = self._clock()

        async def work(conn: AsyncConnection) -> tuple[str, ApiKey]:
            key = await _read_key(conn, key_id, for_update=True)
            if key.revoked_at is not None:
                raise ApiKeyNotFound("This API key is revoked.", param="key_id")
            chosen = slot if slot is not None else _free_slot(key, now)
            minted = mint_secret(key.key_id, chosen, self._choice)
            await conn.execute(api_key_secrets.delete().where(
                api_key_secrets.c.key_id == key_id, api_key_secrets.c.slot == chosen))
            await conn.execute(api_key_secrets.insert().values(
                key_id=key_id, slot=chosen, digest_sha256=minted.digest_sha256, hint=minted.hint,
                created_at=now, expires_at=expires_at))
            return minted.token, await _read_key(conn, key_id)

        token, key = await self._write(work)
        return CreatedApiKey(token, key)

    async def revoke_api_key(self, key_id: str, *, slot: int | None = None) -> ApiKey:
        """Revoke one secret (the other keeps working) or, with ``slot=None``, the whole key."""
        now = self._clock()

        async def work(conn: AsyncConnection) -> ApiKey:
            key = await _read_key(conn, key_id, for_update=True)
            if slot is None:
                if key.revoked_at is None:
                    revoke = api_keys.update().where(api_keys.c.id == key_id)
                    await conn.execute(revoke.values(revoked_at=now))
            else:
                _require_slot(key, slot)
                await conn.execute(api_key_secrets.update().where(
                    api_key_secrets.c.key_id == key_id, api_key_secrets.c.slot == slot,
                    api_key_secrets.c.revoked_at.is_(None)).values(revoked_at=now))
            return await _read_key(conn, key_id)

        return await self._write(work)

    async def set_secret_expiry(self, key_id: str, slot: int, expires_at: datetime | None) -> ApiKey:
        """Give one secret an expiry (or remove it with None); the other secret is unaffected."""

        async def work(conn: AsyncConnection) -> ApiKey:
            _require_slot(await _read_key(conn, key_id, for_update=True), slot)
            await conn.execute(api_key_secrets.update().where(
                api_key_secrets.c.key_id == key_id, api_key_secrets.c.slot == slot
            ).values(expires_at=expires_at))
            return await _read_key(conn, key_id)

        return await self._write(work)

    async def authenticate(self, token: str, now: datetime) -> AuthenticatedKey:
        """The key a presented token belongs to, with its owner; InvalidApiKey or ExpiredApiKey.

        Unknown, malformed, revoked and wrong secrets are all InvalidApiKey. Expiry is
        checked only after the digest matched, so only the secret's holder learns it.
        """
        presented = parse_presented(token)
        key_id = f"key_{presented.key_id}"

        async def work(conn: AsyncConnection) -> tuple[AuthenticatedKey, bool]:
            row = (await conn.execute(sa.select(api_key_secrets.c.digest_sha256).where(
                api_key_secrets.c.key_id == key_id, api_key_secrets.c.slot == presented.slot))).first()
            if row is None or not matches(presented, row.digest_sha256):
                raise InvalidApiKey()
            key = await _read_key(conn, key_id)
            secret = key.slot(presented.slot)
            if key.revoked_at is not None or secret is None or secret.state(now) == "revoked":
                raise InvalidApiKey()
            if secret.state(now) == "expired":
                raise ExpiredApiKey()
            owner = (await rows.read_user(conn, key.owner_user_id) if key.owner_user_id is not None
                     else await rows.read_compartment(conn, str(key.owner_compartment_id)))
            return AuthenticatedKey(key, owner, presented.slot), secret.needs_touch(now)

        found, touch = await self._db.run_read(work)
        if touch:
            await self._db.run_write(lambda conn: _touch(conn, key_id, presented.slot, now))
        return found


def _free_slot(key: ApiKey, now: datetime) -> int:
    for number in SLOTS:
        existing = key.slot(number)
        if existing is None or existing.state(now) != "active":
            return number
    raise ApiKeySecretsInUse(param="slot")


def _require_slot(key: ApiKey, slot: int) -> None:
    if key.slot(slot) is None:
        raise InvalidParameterValue(f"Secret slot {slot} of this key was never minted.", param="slot")


async def _touch(conn: AsyncConnection, key_id: str, slot: int, now: datetime) -> None:
    """Record use; the condition makes racing replicas (and stale reads) write at most once."""
    await conn.execute(api_key_secrets.update().where(
        api_key_secrets.c.key_id == key_id, api_key_secrets.c.slot == slot,
        sa.or_(api_key_secrets.c.last_used_at.is_(None),
               api_key_secrets.c.last_used_at <= now - LAST_USED_RESOLUTION),
    ).values(last_used_at=now))


async def _read_key(conn: AsyncConnection, key_id: str, *, for_update: bool = False) -> ApiKey:
    """The key and its slots; ``for_update`` locks the key row so slot changes serialize."""
    query = sa.select(api_keys).where(api_keys.c.id == key_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise ApiKeyNotFound(param="key_id")
    slot_rows = await conn.execute(
        sa.select(api_key_secrets).where(api_key_secrets.c.key_id == key_id).order_by(api_key_secrets.c.slot)
    )
    return _key(row, [_slot(slot_row) for slot_row in slot_rows])


def _slot(row: sa.Row[Any]) -> SecretSlot:
    return SecretSlot(row.slot, row.hint, row.created_at, row.expires_at, row.revoked_at, row.last_used_at)


def _key(row: sa.Row[Any], slots: list[SecretSlot]) -> ApiKey:
    models = tuple(row.allowed_models) if row.allowed_models is not None else None
    return ApiKey(
        row.id, row.name, row.owner_user_id, row.owner_compartment_id, row.compartment_id, models,
        parse_ip_ranges(row.allowed_ip_ranges), row.created_at, row.revoked_at, tuple(slots),
    )


async def read_all_keys(conn: AsyncConnection) -> list[ApiKey]:
    """Every key with its slots in two queries, by creation time (for snapshots and listings)."""
    slots: dict[str, list[SecretSlot]] = {}
    for row in await conn.execute(sa.select(api_key_secrets).order_by(api_key_secrets.c.slot)):
        slots.setdefault(row.key_id, []).append(_slot(row))
    query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    return [_key(row, slots.get(row.id, [])) for row in await conn.execute(query)]


async def record_uses(conn: AsyncConnection, used: Iterable[tuple[str, int]], now: datetime) -> None:
    """Stamp ``last_used_at`` on every (key id, slot) used since the last flush, in one transaction."""
    for key_id, slot in sorted(used):  # a fixed order: concurrent replicas never deadlock
        await _touch(conn, key_id, slot, now)

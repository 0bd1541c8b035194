"""Renames, deletions and guarded membership changes: the admin API's half of ``IdentityStore``.

Part of ``store.py`` (split out only to keep modules one size), under the same contracts:
every change runs through ``_write`` (so it bumps the identity revision), names stay unique
by constraint, and unknown ids raise the matching ``…NotFound``. The Administrators
invariant (the built-in group exists and keeps at least one member) is checked inside the
transaction that would break it, never before it.
"""

from __future__ import annotations

from collections.abc import Awaitable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.errors import AdministratorsProtected, NameTaken
from tenantgate.iam import _identity_rows as rows
from tenantgate.iam._key_store import ApiKeyStore, read_all_keys
from tenantgate.iam.model import ApiKey, Compartment, User, check_name
from tenantgate.iam.tables import (
    api_key_secrets,
    api_keys,
    compartments,
    group_members,
    groups,
    tenancy,
    users,
)
from tenantgate.storage.unit_of_work import T


class IdentityChanges(ApiKeyStore):
    """Update and delete compartments, users and groups; list the keys of one compartment."""

    async def update_compartment(
        self, compartment_id: str, *, name: str | None = None, description: str | None = None
    ) -> Compartment:
        """Rename or re-describe a compartment; renaming the root renames the tenancy too."""
        values: dict[str, str] = {}
        if name is not None:
            values["name"] = check_name(name)
        if description is not None:
            values["description"] = description

        async def work(conn: AsyncConnection) -> Compartment:
            compartment = await rows.read_compartment(conn, compartment_id)
            if values:
                await conn.execute(compartments.update().where(
                    compartments.c.id == compartment_id).values(**values))
            if compartment.is_root and name is not None:
                await conn.execute(tenancy.update().values(name=name))
            return await rows.read_compartment(conn, compartment_id)

        return await _unique_name(self._write(work, isolation="serializable"), "compartment")

    async def update_user(
        self, user_id: str, *, name: str | None = None, description: str | None = None
    ) -> User:
        """Rename or re-describe a user; names stay unique in the tenancy."""
        values: dict[str, str] = {}
        if name is not None:
            values["name"] = check_name(name)
        if description is not None:
            values["description"] = description

        async def work(conn: AsyncConnection) -> User:
            await rows.read_user(conn, user_id)
            if values:
                await conn.execute(users.update().where(users.c.id == user_id).values(**values))
            return await rows.read_user(conn, user_id)

        return await _unique_name(self._write(work), "user")

    async def delete_user(self, user_id: str) -> None:
        """Delete a user with their API keys (secrets included) and memberships.

        Refused with AdministratorsProtected when the user is the last administrator.
        """

        async def work(conn: AsyncConnection) -> None:
            await rows.read_user(conn, user_id)
            await _keep_an_administrator(conn, user_id)
            owned = sa.select(api_keys.c.id).where(api_keys.c.owner_user_id == user_id)
            await conn.execute(api_key_secrets.delete().where(api_key_secrets.c.key_id.in_(owned)))
            await conn.execute(api_keys.delete().where(api_keys.c.owner_user_id == user_id))
            await conn.execute(group_members.delete().where(group_members.c.user_id == user_id))
            await conn.execute(users.delete().where(users.c.id == user_id))

        await self._write(work, isolation="serializable")

    async def delete_group(self, group_id: str) -> None:
        """Delete a group and its memberships; the built-in Administrators group is refused."""

        async def work(conn: AsyncConnection) -> None:
            group = await rows.read_group(conn, group_id)
            if group.built_in:
                raise AdministratorsProtected("The built-in Administrators group cannot be deleted.")
            await conn.execute(group_members.delete().where(group_members.c.group_id == group_id))
            await conn.execute(groups.delete().where(groups.c.id == group_id))

        await self._write(work)

    async def remove_member_checked(self, group_id: str, user_id: str) -> None:
        """``remove_member`` that refuses to take the last member out of Administrators."""

        async def work(conn: AsyncConnection) -> None:
            group = await rows.read_group(conn, group_id)
            await rows.read_user(conn, user_id)
            if group.built_in:
                await _keep_an_administrator(conn, user_id)
            await conn.execute(group_members.delete().where(
                group_members.c.group_id == group_id, group_members.c.user_id == user_id))

        await self._write(work, isolation="serializable")

    async def list_compartment_keys(self, compartment_id: str) -> list[ApiKey]:
        """The keys whose requests target ``compartment_id``: its service keys and user keys with it
        as project (a user key without a project targets the root)."""

        async def work(conn: AsyncConnection) -> list[ApiKey]:
            found = await rows.read_tenancy(conn)
            root_id = found.id if found is not None else None
            return [key for key in await read_all_keys(conn)
                    if (key.compartment_id or key.owner_compartment_id or root_id) == compartment_id]

        return await self._db.run_read(work)


async def _keep_an_administrator(conn: AsyncConnection, user_id: str) -> None:
    """Refuse when ``user_id`` is the only member of the built-in Administrators group."""
    query = (sa.select(group_members.c.user_id)
             .join(groups, groups.c.id == group_members.c.group_id)
             .where(groups.c.built_in.is_(True)))
    members = {row.user_id for row in await conn.execute(query)}
    if members == {user_id}:
        raise AdministratorsProtected(
            "This user is the last member of Administrators; add another administrator first."
        )


async def _unique_name(pending: Awaitable[T], kind: str) -> T:
    """Await ``pending``; a unique-constraint violation becomes ``NameTaken`` naming ``kind``."""
    try:
        return await pending
    except IntegrityError as exc:
        if rows.is_unique_violation(exc):
            raise NameTaken(f"A {kind} with this name already exists here.", param="name") from exc
        raise

"""Read queries of the identity store and the row -> model conversions they share.

Part of ``store.py`` (split out only to keep modules small): every function takes the
connection of a unit of work the store opened, so it runs inside that transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.errors import CompartmentNotFound, GroupNotFound, PolicyNotFound, UserNotFound
from tenantgate.iam._compartment_tree import Node, Tree, path_of
from tenantgate.iam.model import Compartment, Group, Policy, Tenancy, User
from tenantgate.iam.tables import (
    api_keys,
    compartments,
    group_members,
    groups,
    identity_revision,
    policies,
    tenancy,
    users,
)

_SQLITE_UNIQUE_CODES = frozenset({1555, 2067})  # SQLITE_CONSTRAINT_PRIMARYKEY, _UNIQUE
_PG_UNIQUE_VIOLATION = "23505"


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether a driver's integrity error is a unique/primary-key clash, by code, not message."""
    orig: Any = exc.orig
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) in _SQLITE_UNIQUE_CODES
    return getattr(orig, "sqlstate", None) == _PG_UNIQUE_VIOLATION


async def read_tenancy(conn: AsyncConnection) -> Tenancy | None:
    """The tenancy row, or None before bootstrap."""
    row = (await conn.execute(sa.select(tenancy))).first()
    if row is None:
        return None
    return Tenancy(row.root_compartment_id, row.name, row.administrators_group_id, row.created_at)


async def load_tree(conn: AsyncConnection) -> dict[str, Node]:
    """Every compartment as a tree node: one small query, so path rules run in pure code."""
    query = sa.select(compartments.c.id, compartments.c.parent_id, compartments.c.name)
    return {row.id: Node(row.id, row.parent_id, row.name) for row in await conn.execute(query)}


def _compartment(row: sa.Row[Any], tree: Tree) -> Compartment:
    return Compartment(
        row.id, row.name, row.parent_id, path_of(tree, row.id), row.description, row.created_at
    )


async def read_compartment(conn: AsyncConnection, compartment_id: str) -> Compartment:
    """The compartment with its path; CompartmentNotFound when there is none."""
    query = sa.select(compartments).where(compartments.c.id == compartment_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise CompartmentNotFound(param="compartment_id")
    return _compartment(row, await load_tree(conn))


async def read_all_compartments(conn: AsyncConnection) -> list[Compartment]:
    """Every compartment with its path."""
    tree = await load_tree(conn)
    return [_compartment(row, tree) for row in await conn.execute(sa.select(compartments))]


async def compartment_holds_anything(conn: AsyncConnection, compartment_id: str) -> bool:
    """Whether a child compartment, service key or policy still refers to the compartment."""
    probes = (
        sa.select(compartments.c.id).where(compartments.c.parent_id == compartment_id),
        sa.select(api_keys.c.id).where(sa.or_(api_keys.c.owner_compartment_id == compartment_id,
                                              api_keys.c.compartment_id == compartment_id)),
        sa.select(policies.c.id).where(policies.c.compartment_id == compartment_id),
    )
    for probe in probes:
        if (await conn.execute(probe.limit(1))).first() is not None:
            return True
    return False


def _user(row: sa.Row[Any]) -> User:
    return User(row.id, row.name, row.description, row.created_at)


def _group(row: sa.Row[Any]) -> Group:
    return Group(row.id, row.name, row.description, bool(row.built_in), row.created_at)


async def read_user(conn: AsyncConnection, user_id: str) -> User:
    """The user; UserNotFound when there is none."""
    row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
    if row is None:
        raise UserNotFound(param="user_id")
    return _user(row)


async def read_users(conn: AsyncConnection, group_id: str | None = None) -> list[User]:
    """Every user by name, or the members of ``group_id``."""
    query = sa.select(users).order_by(users.c.name)
    if group_id is not None:
        query = query.join(group_members, group_members.c.user_id == users.c.id).where(
            group_members.c.group_id == group_id
        )
    return [_user(row) for row in await conn.execute(query)]


async def read_group(conn: AsyncConnection, group_id: str) -> Group:
    """The group; GroupNotFound when there is none."""
    row = (await conn.execute(sa.select(groups).where(groups.c.id == group_id))).first()
    if row is None:
        raise GroupNotFound(param="group_id")
    return _group(row)


async def read_groups(conn: AsyncConnection, member_id: str | None = None) -> list[Group]:
    """Every group by name, or the groups ``member_id`` belongs to."""
    query = sa.select(groups).order_by(groups.c.name)
    if member_id is not None:
        await read_user(conn, member_id)
        query = query.join(group_members, group_members.c.group_id == groups.c.id).where(
            group_members.c.user_id == member_id
        )
    return [_group(row) for row in await conn.execute(query)]


async def is_member(conn: AsyncConnection, group_id: str, user_id: str) -> bool:
    """Whether the membership row exists."""
    query = sa.select(group_members.c.user_id).where(
        group_members.c.group_id == group_id, group_members.c.user_id == user_id
    )
    return (await conn.execute(query)).first() is not None


def _policy(row: sa.Row[Any], tree: Tree) -> Policy:
    return Policy(
        row.id, row.name, row.compartment_id, path_of(tree, row.compartment_id), row.text,
        row.description, row.created_at, row.updated_at,
    )


async def read_policy(conn: AsyncConnection, policy_id: str) -> Policy:
    """The policy with its compartment's current path; PolicyNotFound when there is none."""
    row = (await conn.execute(sa.select(policies).where(policies.c.id == policy_id))).first()
    if row is None:
        raise PolicyNotFound(param="policy_id")
    return _policy(row, await load_tree(conn))


async def read_policies(conn: AsyncConnection) -> list[Policy]:
    """Every policy, by compartment path then name (so statement order is stable)."""
    tree = await load_tree(conn)
    found = [_policy(row, tree) for row in await conn.execute(sa.select(policies))]
    return sorted(found, key=lambda policy: (policy.attached_to, policy.name, policy.id))


async def bump_revision(conn: AsyncConnection) -> None:
    """Advance the identity revision inside the caller's write transaction."""
    await conn.execute(identity_revision.update().values(revision=identity_revision.c.revision + 1))


async def read_revision(conn: AsyncConnection) -> int:
    """The current identity revision."""
    return int((await conn.execute(sa.select(identity_revision.c.revision))).scalar_one())

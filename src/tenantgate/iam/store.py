"""``IdentityStore``: the identity model's queries, over ``storage.Database`` on SQLite or PostgreSQL.

Contracts every method keeps:

* Names are unique by constraint (siblings for compartments, the tenancy for users and
  groups, the compartment for policies); a lost race surfaces as ``NameTaken``, never as a
  driver error, because the constraint decides, not a read-then-insert check.
* Changes to the compartment tree run SERIALIZABLE (``BEGIN IMMEDIATE`` on SQLite), so two
  concurrent moves cannot build a cycle or exceed the depth limit between them.
* Unknown ids raise the matching ``…NotFound``; nothing says whether the id exists elsewhere.
* Secrets are minted by ``api_keys.mint_secret``; only their digests reach the database, and
  the token leaves this module once, in ``CreatedApiKey``.

API keys live in ``_key_store.py`` and the admin API's renames and deletions in
``_identity_changes.py`` (same contracts), to keep each module one size.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.errors import (
    CompartmentNotEmpty,
    CompartmentNotFound,
    GroupNotFound,
    InvalidCompartmentChange,
    NameTaken,
    PolicyNotFound,
    UserNotFound,
)
from tenantgate.iam import _compartment_tree as tree_rules
from tenantgate.iam import _identity_rows as rows
from tenantgate.iam._identity_changes import IdentityChanges
from tenantgate.iam.api_keys import RandomChoice
from tenantgate.iam.model import (
    ADMINISTRATORS_GROUP,
    Clock,
    Compartment,
    Group,
    Policy,
    Tenancy,
    User,
    check_name,
    new_id,
    parse_path,
)
from tenantgate.iam.policy_model import Statement
from tenantgate.iam.policy_parser import parse_policy
from tenantgate.iam.tables import compartments, group_members, groups, policies, tenancy, users
from tenantgate.storage.database import Database
from tenantgate.storage.unit_of_work import T


class IdentityStore(IdentityChanges):
    """Tenancy, compartments, users, groups, memberships, API keys and policies."""

    def __init__(self, db: Database, *, clock: Clock, choice: RandomChoice = secrets.choice) -> None:
        super().__init__(db, clock=clock, choice=choice)

    # Tenancy

    async def create_tenancy(self, name: str = "tenancy") -> Tenancy:
        """Create the root compartment and the Administrators group once; later calls return them.

        Safe to call from every replica at startup: a concurrent loser collides on the
        tenancy's singleton key and reads the winner's tenancy instead.
        """
        check_name(name)
        existing = await self._db.run_read(rows.read_tenancy)
        if existing is not None:
            return existing
        root_id, group_id, now = new_id("cmp", self._choice), new_id("grp", self._choice), self._clock()

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(compartments.insert().values(
                id=root_id, parent_id=None, name=name, description="", created_at=now))
            await conn.execute(groups.insert().values(
                id=group_id, name=ADMINISTRATORS_GROUP, built_in=True,
                description="Members administer the whole tenancy.", created_at=now))
            await conn.execute(tenancy.insert().values(
                singleton=1, name=name, root_compartment_id=root_id,
                administrators_group_id=group_id, created_at=now))

        try:
            await self._write(work, isolation="serializable")
        except IntegrityError as exc:
            if not rows.is_unique_violation(exc):
                raise  # anything but "another replica bootstrapped first" is a real failure
        return await self.get_tenancy()

    async def get_tenancy(self) -> Tenancy:
        """The installation's tenancy; CompartmentNotFound before ``create_tenancy``."""
        found = await self._db.run_read(rows.read_tenancy)
        if found is None:
            raise CompartmentNotFound("The tenancy has not been created yet.")
        return found

    async def find_tenancy(self) -> Tenancy | None:
        """The tenancy, or None before ``create_tenancy``: lets ``tenantgate init`` refuse a re-run."""
        return await self._db.run_read(rows.read_tenancy)

    async def ensure_administrator(self, name: str) -> User:
        """The user ``name`` (created if missing) as a member of the built-in Administrators group.

        Idempotent so a re-run of bootstrap (``init --new-admin-key``) reuses the admin user
        instead of failing on the taken name.
        """
        admins = (await self.get_tenancy()).administrators_group_id
        try:
            user = await self.find_user(name)
        except UserNotFound:
            user = await self.create_user(name, description="Created by tenantgate init.")
        await self.add_member(admins, user.id)
        return user

    # Compartments

    async def create_compartment(self, name: str, *, parent_id: str, description: str = "") -> Compartment:
        """A new compartment under ``parent_id``, at most six levels below the root."""
        check_name(name)
        compartment_id, now = new_id("cmp", self._choice), self._clock()

        async def work(conn: AsyncConnection) -> Compartment:
            tree = await rows.load_tree(conn)
            if parent_id not in tree:
                raise CompartmentNotFound(param="parent_id")
            tree_rules.check_depth(tree_rules.path_of(tree, parent_id))
            await conn.execute(compartments.insert().values(
                id=compartment_id, parent_id=parent_id, name=name,
                description=description, created_at=now))
            return await rows.read_compartment(conn, compartment_id)

        return await self._unique(self._write(work, isolation="serializable"), "compartment")

    async def get_compartment(self, compartment_id: str) -> Compartment:
        """The compartment with this id, with its current path."""
        return await self._db.run_read(lambda conn: rows.read_compartment(conn, compartment_id))

    async def resolve_compartment(self, path: str) -> Compartment:
        """The compartment at ``"A:B:C"`` (``""`` is the root); CompartmentNotFound otherwise."""
        names = parse_path(path)

        async def work(conn: AsyncConnection) -> Compartment:
            found = tree_rules.resolve(await rows.load_tree(conn), names)
            if found is None:
                raise CompartmentNotFound(f"No compartment at path {path!r}.", param="compartment")
            return await rows.read_compartment(conn, found)

        return await self._db.run_read(work)

    async def list_compartments(self) -> list[Compartment]:
        """Every compartment, the root first, then ordered by path."""
        found = await self._db.run_read(rows.read_all_compartments)
        return sorted(found, key=lambda c: c.path)

    async def move_compartment(self, compartment_id: str, *, new_parent_id: str) -> Compartment:
        """Re-parent a compartment and its subtree; paths below it change, ids do not."""

        async def work(conn: AsyncConnection) -> Compartment:
            tree = await rows.load_tree(conn)
            if compartment_id not in tree:
                raise CompartmentNotFound(param="compartment_id")
            if new_parent_id not in tree:
                raise CompartmentNotFound(param="new_parent_id")
            tree_rules.check_move(tree, compartment_id, new_parent_id)
            await conn.execute(compartments.update().where(
                compartments.c.id == compartment_id).values(parent_id=new_parent_id))
            return await rows.read_compartment(conn, compartment_id)

        return await self._unique(self._write(work, isolation="serializable"), "compartment")

    async def delete_compartment(self, compartment_id: str) -> None:
        """Delete an empty compartment: no child compartments, service keys or policies."""

        async def work(conn: AsyncConnection) -> None:
            compartment = await rows.read_compartment(conn, compartment_id)
            if compartment.is_root:
                raise InvalidCompartmentChange("The root compartment cannot be deleted.")
            if await rows.compartment_holds_anything(conn, compartment_id):
                raise CompartmentNotEmpty(param="compartment_id")
            await conn.execute(compartments.delete().where(compartments.c.id == compartment_id))

        await self._write(work, isolation="serializable")

    # Users, groups and memberships

    async def create_user(self, name: str, *, description: str = "") -> User:
        """A new user; names are unique in the tenancy."""
        user = User(new_id("usr", self._choice), check_name(name), description, self._clock())

        async def work(conn: AsyncConnection) -> User:
            await conn.execute(users.insert().values(
                id=user.id, name=user.name, description=description, created_at=user.created_at))
            return user

        return await self._unique(self._write(work), "user")

    async def get_user(self, user_id: str) -> User:
        """The user with this id."""
        return await self._db.run_read(lambda conn: rows.read_user(conn, user_id))

    async def find_user(self, name: str) -> User:
        """The user called ``name``: people type names, the store's other methods take ids."""
        query = sa.select(users.c.id).where(users.c.name == name)
        found = await self._db.run_read(lambda conn: _scalar(conn, query))
        if found is None:
            raise UserNotFound(f"No user named {name!r}.", param="name")
        return await self.get_user(found)

    async def list_users(self) -> list[User]:
        """Every user, by name."""
        return await self._db.run_read(rows.read_users)

    async def create_group(self, name: str, *, description: str = "") -> Group:
        """A new (not built-in) group; names are unique in the tenancy."""
        group = Group(new_id("grp", self._choice), check_name(name), description, False, self._clock())

        async def work(conn: AsyncConnection) -> Group:
            await conn.execute(groups.insert().values(
                id=group.id, name=group.name, description=description,
                built_in=False, created_at=group.created_at))
            return group

        return await self._unique(self._write(work), "group")

    async def get_group(self, group_id: str) -> Group:
        """The group with this id."""
        return await self._db.run_read(lambda conn: rows.read_group(conn, group_id))

    async def find_group(self, name: str) -> Group:
        """The group called ``name``."""
        query = sa.select(groups.c.id).where(groups.c.name == name)
        found = await self._db.run_read(lambda conn: _scalar(conn, query))
        if found is None:
            raise GroupNotFound(f"No group named {name!r}.", param="name")
        return await self.get_group(found)

    async def list_groups(self, *, member_id: str | None = None) -> list[Group]:
        """Every group by name, or only those ``member_id`` belongs to."""
        return await self._db.run_read(lambda conn: rows.read_groups(conn, member_id))

    async def list_members(self, group_id: str) -> list[User]:
        """The users in a group, by name."""

        async def work(conn: AsyncConnection) -> list[User]:
            await rows.read_group(conn, group_id)
            return await rows.read_users(conn, group_id)

        return await self._db.run_read(work)

    async def add_member(self, group_id: str, user_id: str) -> None:
        """Put a user in a group; adding an existing member changes nothing."""
        now = self._clock()

        async def work(conn: AsyncConnection) -> None:
            await rows.read_group(conn, group_id)
            await rows.read_user(conn, user_id)
            if not await rows.is_member(conn, group_id, user_id):
                await conn.execute(group_members.insert().values(
                    group_id=group_id, user_id=user_id, created_at=now))

        try:
            await self._write(work)
        except IntegrityError as exc:
            if not rows.is_unique_violation(exc):
                raise  # a unique clash means a concurrent add won: the membership exists

    async def remove_member(self, group_id: str, user_id: str) -> None:
        """Take a user out of a group; removing a non-member changes nothing."""

        async def work(conn: AsyncConnection) -> None:
            await rows.read_group(conn, group_id)
            await rows.read_user(conn, user_id)
            await conn.execute(group_members.delete().where(
                group_members.c.group_id == group_id, group_members.c.user_id == user_id))

        await self._write(work)

    # Policies

    async def save_policy(
        self, name: str, text: str, *, compartment_id: str, description: str = "",
        policy_id: str | None = None,
    ) -> Policy:
        """Validate ``text`` against its compartment's path and store it (new, or replacing ``policy_id``).

        Parsing here, not at request time, means a stored policy always compiles:
        PolicySyntaxError names the line and column of the first mistake.
        """
        check_name(name)
        now = self._clock()
        saved_id = policy_id or new_id("pol", self._choice)

        async def work(conn: AsyncConnection) -> Policy:
            compartment = await rows.read_compartment(conn, compartment_id)
            parse_policy(text, policy_id=saved_id, attached_to=compartment.path)
            values = {"name": name, "compartment_id": compartment_id, "text": text,
                      "description": description, "updated_at": now}
            if policy_id is None:
                await conn.execute(policies.insert().values(id=saved_id, created_at=now, **values))
            else:
                update = policies.update().where(policies.c.id == policy_id)
                done = await conn.execute(update.values(**values))
                if done.rowcount != 1:
                    raise PolicyNotFound(param="policy_id")
            return await rows.read_policy(conn, saved_id)

        return await self._unique(self._write(work), "policy")

    async def get_policy(self, policy_id: str) -> Policy:
        """The policy with this id, with its compartment's current path."""
        return await self._db.run_read(lambda conn: rows.read_policy(conn, policy_id))

    async def find_policy(self, name: str, *, compartment_id: str) -> Policy | None:
        """The policy called ``name`` in a compartment, or None: ``policies set`` replaces by name."""
        query = sa.select(policies.c.id).where(
            policies.c.name == name, policies.c.compartment_id == compartment_id)
        found = await self._db.run_read(lambda conn: _scalar(conn, query))
        return None if found is None else await self.get_policy(found)

    async def list_policies(self) -> list[Policy]:
        """Every policy, by compartment path then name."""
        return await self._db.run_read(rows.read_policies)

    async def delete_policy(self, policy_id: str) -> None:
        """Remove a policy; its statements stop granting at the next compile."""

        async def work(conn: AsyncConnection) -> None:
            done = await conn.execute(policies.delete().where(policies.c.id == policy_id))
            if done.rowcount != 1:
                raise PolicyNotFound(param="policy_id")

        await self._write(work)

    async def list_statements(self) -> list[Statement]:
        """Every stored statement, parsed against its compartment's current path, for ``CompiledPolicies``."""
        statements: list[Statement] = []
        for policy in await self.list_policies():
            statements += parse_policy(policy.text, policy_id=policy.id, attached_to=policy.attached_to)
        return statements

    async def _unique(self, pending: Awaitable[T], kind: str) -> T:
        """Await ``pending``; a unique-constraint violation becomes ``NameTaken`` naming ``kind``."""
        try:
            return await pending
        except IntegrityError as exc:
            if rows.is_unique_violation(exc):
                raise NameTaken(f"A {kind} with this name already exists here.", param="name") from exc
            raise



async def _scalar(conn: AsyncConnection, query: sa.Select[tuple[str]]) -> str | None:
    """The first column of the first row, or None."""
    found = (await conn.execute(query)).scalar()
    return None if found is None else str(found)

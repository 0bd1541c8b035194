"""The admin API's store methods (``_identity_changes.py``) on SQLite and PostgreSQL (the ``store`` fixture)."""

import asyncio

import pytest
import sqlalchemy as sa

from tenantgate.errors import (
    AdministratorsProtected,
    CompartmentNotFound,
    GroupNotFound,
    InvalidParameterValue,
    NameTaken,
    UserNotFound,
)
from tenantgate.iam import tables
from tenantgate.iam.store import IdentityStore

SQL_NAME = "x'; DROP TABLE iam_users; --"


async def _table_count(store: IdentityStore, table: sa.Table) -> int:
    async with store._db.read() as conn:
        return len((await conn.execute(sa.select(table))).all())


# Compartments


async def test_update_compartment_renames_and_redescribes_and_paths_follow(store):
    root = await store.get_tenancy()
    finance = await store.create_compartment("Finance", parent_id=root.id)
    risk = await store.create_compartment("Risk", parent_id=finance.id)
    before = await store.revision()
    renamed = await store.update_compartment(finance.id, name="Money", description="all of it")
    assert (renamed.name, renamed.description, renamed.path) == ("Money", "all of it", ("Money",))
    assert (await store.get_compartment(risk.id)).path == ("Money", "Risk")
    assert await store.revision() > before


async def test_update_compartment_with_nothing_keeps_it(store):
    root = await store.get_tenancy()
    ops = await store.create_compartment("Ops", parent_id=root.id, description="d")
    assert await store.update_compartment(ops.id) == ops


async def test_renaming_the_root_renames_the_tenancy(store):
    root = await store.get_tenancy()
    await store.update_compartment(root.id, name="globex")
    assert (await store.get_tenancy()).name == "globex"
    assert (await store.get_compartment(root.id)).name == "globex"


async def test_update_compartment_refuses_a_sibling_name_and_bad_names(store):
    root = await store.get_tenancy()
    await store.create_compartment("A", parent_id=root.id)
    b = await store.create_compartment("B", parent_id=root.id)
    with pytest.raises(NameTaken):
        await store.update_compartment(b.id, name="A")
    with pytest.raises(InvalidParameterValue):
        await store.update_compartment(b.id, name="A:B")
    with pytest.raises(CompartmentNotFound):
        await store.update_compartment("cmp_missing", name="C")


# Users


async def test_update_user_and_sql_metacharacters_are_stored_verbatim(store):
    user = await store.create_user("ann")
    updated = await store.update_user(user.id, name=SQL_NAME, description="'; --")
    assert (updated.name, updated.description) == (SQL_NAME, "'; --")
    assert (await store.find_user(SQL_NAME)).id == user.id
    assert await _table_count(store, tables.users) == 1


async def test_update_user_refuses_a_taken_name_and_unknown_ids(store):
    await store.create_user("ann")
    bob = await store.create_user("bob")
    with pytest.raises(NameTaken):
        await store.update_user(bob.id, name="ann")
    with pytest.raises(UserNotFound):
        await store.update_user("usr_missing", name="x")


async def test_delete_user_removes_their_keys_secrets_and_memberships(store):
    ops = await store.create_group("ops")
    ann = await store.create_user("ann")
    await store.add_member(ops.id, ann.id)
    created = await store.create_api_key("k", owner_user_id=ann.id)
    await store.rotate_api_key(created.key.id)
    before = await store.revision()
    await store.delete_user(ann.id)
    with pytest.raises(UserNotFound):
        await store.get_user(ann.id)
    assert await store.list_api_keys() == []
    assert await _table_count(store, tables.api_key_secrets) == 0
    assert await store.list_members(ops.id) == []
    assert await store.revision() > before


async def test_the_last_administrator_cannot_be_deleted_but_one_of_two_can(store):
    first = await store.ensure_administrator("admin")
    with pytest.raises(AdministratorsProtected):
        await store.delete_user(first.id)
    second = await store.ensure_administrator("admin2")
    await store.delete_user(first.id)
    with pytest.raises(AdministratorsProtected):
        await store.delete_user(second.id)


async def test_concurrent_deletes_of_the_two_last_administrators_leave_one(store):
    one = await store.ensure_administrator("one")
    two = await store.ensure_administrator("two")
    outcomes = await asyncio.gather(store.delete_user(one.id), store.delete_user(two.id),
                                    return_exceptions=True)
    admins = (await store.get_tenancy()).administrators_group_id
    assert len(await store.list_members(admins)) == 1
    assert sum(isinstance(o, Exception) for o in outcomes) == 1


# Groups


async def test_delete_group_removes_memberships_and_refuses_administrators(store):
    ops = await store.create_group("ops")
    ann = await store.create_user("ann")
    await store.add_member(ops.id, ann.id)
    await store.delete_group(ops.id)
    with pytest.raises(GroupNotFound):
        await store.get_group(ops.id)
    assert await store.list_groups(member_id=ann.id) == []
    admins = (await store.get_tenancy()).administrators_group_id
    with pytest.raises(AdministratorsProtected):
        await store.delete_group(admins)
    with pytest.raises(GroupNotFound):
        await store.delete_group("grp_missing")


async def test_remove_member_checked_keeps_one_administrator(store):
    admins = (await store.get_tenancy()).administrators_group_id
    first = await store.ensure_administrator("admin")
    with pytest.raises(AdministratorsProtected):
        await store.remove_member_checked(admins, first.id)
    second = await store.ensure_administrator("admin2")
    await store.remove_member_checked(admins, first.id)
    assert [u.id for u in await store.list_members(admins)] == [second.id]
    ops = await store.create_group("ops")
    await store.add_member(ops.id, second.id)
    await store.remove_member_checked(ops.id, second.id)  # any other group may be emptied
    assert await store.list_members(ops.id) == []


# Keys by compartment


async def test_list_compartment_keys_finds_service_keys_and_projects(store):
    root = await store.get_tenancy()
    a = await store.create_compartment("A", parent_id=root.id)
    ann = await store.create_user("ann")
    service = await store.create_api_key("svc", owner_compartment_id=a.id)
    project_key = await store.create_api_key("proj", owner_user_id=ann.id, compartment_id=a.id)
    tenancy_key = await store.create_api_key("home", owner_user_id=ann.id)
    in_a = {key.id for key in await store.list_compartment_keys(a.id)}
    assert in_a == {service.key.id, project_key.key.id}
    assert [key.id for key in await store.list_compartment_keys(root.id)] == [tenancy_key.key.id]

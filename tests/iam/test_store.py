"""IdentityStore on SQLite and PostgreSQL: every test runs once per engine (the ``database`` fixture)."""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tenantgate.errors import (
    ApiKeyNotFound,
    ApiKeySecretsInUse,
    CompartmentNotEmpty,
    CompartmentNotFound,
    CompartmentTooDeep,
    ExpiredApiKey,
    GroupNotFound,
    InvalidApiKey,
    InvalidCompartmentChange,
    InvalidParameterValue,
    NameTaken,
    PolicySyntaxError,
    UserNotFound,
)
from tenantgate.iam import tables
from tenantgate.iam.model import ADMINISTRATORS_GROUP, Compartment
from tenantgate.iam.policy_evaluator import CompiledPolicies
from tenantgate.iam.policy_model import CompartmentPath, Groups, Tenancy
from tenantgate.iam.store import IdentityStore


async def _chain(store: IdentityStore, names: list[str]) -> list[Compartment]:
    parent = (await store.get_tenancy()).id
    made = []
    for name in names:
        made.append(await store.create_compartment(name, parent_id=parent))
        parent = made[-1].id
    return made


async def _all_rows_text(store: IdentityStore) -> str:
    async with store._db.read() as conn:
        dumped = []
        for table in (tables.tenancy, tables.compartments, tables.users, tables.groups,
                      tables.group_members, tables.api_keys, tables.api_key_secrets, tables.policies):
            dumped += [repr(tuple(row)) for row in await conn.execute(sa.select(table))]
    return "\n".join(dumped)


# Tenancy


async def test_bootstrap_is_idempotent_and_creates_root_and_administrators(database, clock):
    first = await IdentityStore(database, clock=clock).create_tenancy("acme")
    again = await IdentityStore(database, clock=clock).create_tenancy("acme")
    assert again == first
    root = await IdentityStore(database, clock=clock).resolve_compartment("")
    assert (root.id, root.is_root, root.path) == (first.id, True, ())
    groups = await IdentityStore(database, clock=clock).list_groups()
    assert [(g.name, g.built_in, g.id) for g in groups] == [(ADMINISTRATORS_GROUP, True, first.administrators_group_id)]
    assert first.id.startswith("cmp_")
    assert first.administrators_group_id.startswith("grp_")


async def test_concurrent_bootstraps_yield_one_tenancy(database, clock):
    replicas = [IdentityStore(database, clock=clock) for _ in range(4)]
    made = await asyncio.gather(*(replica.create_tenancy("acme") for replica in replicas))
    assert len({tenancy.id for tenancy in made}) == 1
    assert len(await replicas[0].list_compartments()) == 1


async def test_store_before_bootstrap_reports_no_tenancy(database, clock):
    with pytest.raises(CompartmentNotFound):
        await IdentityStore(database, clock=clock).get_tenancy()


# Compartments


async def test_nested_compartments_resolve_by_path_and_back(store):
    finance, risk, models = await _chain(store, ["Finance", "Risk", "Models"])
    found = await store.resolve_compartment("Finance:Risk:Models")
    assert found.id == models.id
    assert found.parent_id == risk.id
    assert (await store.get_compartment(models.id)).path_text == "Finance:Risk:Models"
    assert [c.path_text for c in await store.list_compartments()] == [
        "", "Finance", "Finance:Risk", "Finance:Risk:Models"]
    with pytest.raises(CompartmentNotFound):
        await store.resolve_compartment("Finance:Models")
    assert finance.created_at.tzinfo is not None


async def test_compartments_nest_six_levels_and_no_deeper(store):
    chain = await _chain(store, ["L1", "L2", "L3", "L4", "L5", "L6"])
    assert chain[-1].path == ("L1", "L2", "L3", "L4", "L5", "L6")
    with pytest.raises(CompartmentTooDeep):
        await store.create_compartment("L7", parent_id=chain[-1].id)


async def test_duplicate_names_are_refused_per_parent_only(store):
    a, b = await _chain(store, ["A"]) + await _chain(store, ["B"])
    await store.create_compartment("Models", parent_id=a.id)
    await store.create_compartment("Models", parent_id=b.id)
    with pytest.raises(NameTaken):
        await store.create_compartment("Models", parent_id=a.id)
    with pytest.raises(NameTaken):
        await store.create_compartment("A", parent_id=(await store.get_tenancy()).id)


async def test_names_with_separator_or_control_characters_are_refused(store):
    root = (await store.get_tenancy()).id
    for bad in ["A:B", "", " padded", "tab\there", "x" * 101]:
        with pytest.raises(InvalidParameterValue):
            await store.create_compartment(bad, parent_id=root)


async def test_move_updates_paths_of_the_whole_subtree(store):
    finance, risk, models = await _chain(store, ["Finance", "Risk", "Models"])
    (ops,) = await _chain(store, ["Ops"])
    moved = await store.move_compartment(risk.id, new_parent_id=ops.id)
    assert moved.path_text == "Ops:Risk"
    assert (await store.get_compartment(models.id)).path_text == "Ops:Risk:Models"
    assert (await store.resolve_compartment("Ops:Risk:Models")).id == models.id
    assert finance.id in {c.id for c in await store.list_compartments()}


async def test_move_refuses_cycles_the_root_and_too_deep_subtrees(store):
    a, b, c = await _chain(store, ["A", "B", "C"])
    deep = await _chain(store, ["D1", "D2", "D3", "D4"])
    tenancy = await store.get_tenancy()
    with pytest.raises(InvalidCompartmentChange):
        await store.move_compartment(a.id, new_parent_id=c.id)
    with pytest.raises(InvalidCompartmentChange):
        await store.move_compartment(a.id, new_parent_id=a.id)
    with pytest.raises(InvalidCompartmentChange):
        await store.move_compartment(tenancy.id, new_parent_id=a.id)
    with pytest.raises(CompartmentTooDeep):  # 4 levels + a 3-level subtree = 7
        await store.move_compartment(a.id, new_parent_id=deep[-1].id)
    await store.move_compartment(b.id, new_parent_id=deep[2].id)  # 3 + 2 = 5: fine
    assert (await store.get_compartment(c.id)).path_text == "D1:D2:D3:B:C"


async def test_move_onto_a_sibling_with_the_same_name_is_name_taken(store):
    a, _ = await _chain(store, ["A", "Shared"])
    (b,) = await _chain(store, ["B"])
    other = await store.create_compartment("Shared", parent_id=b.id)
    with pytest.raises(NameTaken):
        await store.move_compartment(other.id, new_parent_id=a.id)


async def test_delete_refuses_compartments_holding_children_keys_or_policies(store):
    parent, child = await _chain(store, ["Parent", "Child"])
    with pytest.raises(CompartmentNotEmpty):
        await store.delete_compartment(parent.id)
    created = await store.create_api_key("svc", owner_compartment_id=child.id)
    with pytest.raises(CompartmentNotEmpty):
        await store.delete_compartment(child.id)
    await store.revoke_api_key(created.key.id)
    with pytest.raises(CompartmentNotEmpty):  # a revoked key still names its owner
        await store.delete_compartment(child.id)
    (solo,) = await _chain(store, ["Solo"])
    await store.save_policy("p", "Allow any-user to read users in compartment Solo", compartment_id=solo.id)
    with pytest.raises(CompartmentNotEmpty):
        await store.delete_compartment(solo.id)
    (empty,) = await _chain(store, ["Empty"])
    await store.delete_compartment(empty.id)
    with pytest.raises(CompartmentNotFound):
        await store.get_compartment(empty.id)
    with pytest.raises(InvalidCompartmentChange):
        await store.delete_compartment((await store.get_tenancy()).id)


async def test_concurrent_creation_of_one_name_has_exactly_one_winner(database, clock):
    root = (await IdentityStore(database, clock=clock).create_tenancy()).id
    replicas = [IdentityStore(database, clock=clock) for _ in range(5)]
    outcomes = await asyncio.gather(
        *(replica.create_compartment("Race", parent_id=root) for replica in replicas),
        *(replica.create_user("racer") for replica in replicas),
        return_exceptions=True,
    )
    for kind in (outcomes[:5], outcomes[5:]):
        assert sum(not isinstance(o, BaseException) for o in kind) == 1
        assert all(isinstance(o, NameTaken) for o in kind if isinstance(o, BaseException))


# Users, groups, membership


async def test_memberships_are_many_to_many_and_idempotent(store):
    ann, bob = await store.create_user("ann"), await store.create_user("bob")
    ops, dev = await store.create_group("ops"), await store.create_group("dev")
    for group, user in [(ops, ann), (ops, bob), (dev, ann), (ops, ann)]:
        await store.add_member(group.id, user.id)
    assert [u.name for u in await store.list_members(ops.id)] == ["ann", "bob"]
    assert [g.name for g in await store.list_groups(member_id=ann.id)] == ["dev", "ops"]
    await store.remove_member(ops.id, ann.id)
    await store.remove_member(ops.id, ann.id)
    assert [u.name for u in await store.list_members(ops.id)] == ["bob"]
    with pytest.raises(NameTaken):
        await store.create_group("ops")
    with pytest.raises(NameTaken):
        await store.create_user("ann")
    with pytest.raises(UserNotFound):
        await store.add_member(ops.id, "usr_nobody")
    assert ann.id.startswith("usr_")
    assert ops.id.startswith("grp_")


async def test_sql_metacharacters_in_names_are_stored_verbatim(store):
    nasty = "x'); DROP TABLE iam_users; -- %_\"\\"
    user = await store.create_user(nasty)
    compartment = await store.create_compartment(nasty, parent_id=(await store.get_tenancy()).id)
    assert (await store.get_user(user.id)).name == nasty
    assert (await store.resolve_compartment(nasty)).id == compartment.id
    assert [u.name for u in await store.list_users()] == [nasty]
    with pytest.raises(CompartmentNotFound):
        await store.resolve_compartment("%")


# API keys


async def test_key_token_is_shown_once_and_stored_only_as_a_digest(store):
    user = await store.create_user("ann")
    created = await store.create_api_key("laptop", owner_user_id=user.id)
    rotated = await store.rotate_api_key(created.key.id)
    assert created.token.startswith("tg-")
    assert created.key.id.startswith("key_")
    assert created.token not in repr(created)
    text = await _all_rows_text(store)
    for token in (created.token, rotated.token):
        assert token not in text
        assert token.split("_", 1)[1] not in text
    assert created.token not in repr(await store.get_api_key(created.key.id))


async def test_both_secrets_authenticate_and_revoking_one_keeps_the_other(store, clock):
    user = await store.create_user("ann")
    first = await store.create_api_key("k", owner_user_id=user.id)
    second = await store.rotate_api_key(first.key.id)
    assert (second.key.slot(1) is not None, second.key.slot(2) is not None) == (True, True)
    one = await store.authenticate(first.token, clock())
    two = await store.authenticate(second.token, clock())
    assert (one.slot, two.slot, one.key.id, one.owner) == (1, 2, first.key.id, user)
    await store.revoke_api_key(first.key.id, slot=1)
    with pytest.raises(InvalidApiKey) as caught:
        await store.authenticate(first.token, clock())
    assert type(caught.value) is InvalidApiKey
    assert (await store.authenticate(second.token, clock())).slot == 2
    await store.revoke_api_key(first.key.id)
    with pytest.raises(InvalidApiKey):
        await store.authenticate(second.token, clock())


async def test_rotation_fills_the_free_slot_and_refuses_when_both_are_active(store, clock):
    user = await store.create_user("ann")
    first = await store.create_api_key("k", owner_user_id=user.id)
    await store.rotate_api_key(first.key.id)
    with pytest.raises(ApiKeySecretsInUse):
        await store.rotate_api_key(first.key.id)
    await store.revoke_api_key(first.key.id, slot=1)
    third = await store.rotate_api_key(first.key.id)
    assert (await store.authenticate(third.token, clock())).slot == 1
    with pytest.raises(InvalidApiKey):
        await store.authenticate(first.token, clock())


async def test_expired_secret_is_expired_api_key_and_the_other_slot_works(store, clock):
    (svc,) = await _chain(store, ["Svc"])
    first = await store.create_api_key("svc", owner_compartment_id=svc.id,
                                       expires_at=clock() + timedelta(days=1))
    second = await store.rotate_api_key(first.key.id)
    assert (await store.authenticate(first.token, clock())).owner.id == svc.id
    later = clock.advance(days=2)
    with pytest.raises(ExpiredApiKey):
        await store.authenticate(first.token, later)
    assert (await store.authenticate(second.token, later)).slot == 2
    await store.set_secret_expiry(first.key.id, 2, later)
    with pytest.raises(ExpiredApiKey):
        await store.authenticate(second.token, later)
    await store.set_secret_expiry(first.key.id, 1, None)
    assert (await store.authenticate(first.token, later)).slot == 1


async def test_malformed_unknown_and_tampered_tokens_are_invalid(store, clock):
    user = await store.create_user("ann")
    created = await store.create_api_key("k", owner_user_id=user.id)
    tampered = created.token[:-1] + ("A" if created.token[-1] != "A" else "B")
    other_slot = created.token.replace(f"{created.key.key_id}1_", f"{created.key.key_id}2_")
    unknown = "tg-" + "a" * 12 + "1_" + "A" * 43
    for token in ["", "tg-", "sk-abc", tampered, other_slot, unknown, created.token + "x",
                  "tg-' OR '1'='1", f"{created.token}'; --", created.token.upper()]:
        with pytest.raises(InvalidApiKey) as caught:
            await store.authenticate(token, clock())
        assert type(caught.value) is InvalidApiKey, token
    assert (await store.authenticate(created.token, clock())).key.id == created.key.id


async def test_last_used_is_recorded_at_most_once_a_minute(store, clock):
    user = await store.create_user("ann")
    created = await store.create_api_key("k", owner_user_id=user.id)
    assert (await store.get_api_key(created.key.id)).last_used_at is None
    start = clock()
    await store.authenticate(created.token, start)
    await store.authenticate(created.token, start + timedelta(seconds=30))
    assert (await store.get_api_key(created.key.id)).last_used_at == start
    await store.authenticate(created.token, start + timedelta(seconds=61))
    assert (await store.get_api_key(created.key.id)).last_used_at == start + timedelta(seconds=61)


async def test_key_scopes_and_owners_are_validated_and_kept(store):
    user = await store.create_user("ann")
    created = await store.create_api_key(
        "scoped", owner_user_id=user.id, allowed_models=["gpt-4o"], allowed_ip_ranges=["10.0.0.0/8", "::1"])
    key = await store.get_api_key(created.key.id)
    assert key.allowed_models == ("gpt-4o",)
    assert [str(net) for net in key.allowed_ip_ranges or ()] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(InvalidParameterValue):
        await store.create_api_key("bad", owner_user_id=user.id, allowed_ip_ranges=["nope"])
    with pytest.raises(InvalidParameterValue):
        await store.create_api_key("none")
    with pytest.raises(UserNotFound):
        await store.create_api_key("ghost", owner_user_id="usr_ghost")
    with pytest.raises(ApiKeyNotFound):
        await store.get_api_key("key_aaaaaaaaaaaa")
    assert [k.id for k in await store.list_api_keys(owner_user_id=user.id)] == [created.key.id]


# Policies


async def test_policy_is_validated_on_save_naming_line_and_column(store):
    (finance,) = await _chain(store, ["Finance"])
    with pytest.raises(PolicySyntaxError) as caught:
        await store.save_policy("bad", "Allow group ops to read users in tenancy\nAllow group ops too read users",
                                compartment_id=finance.id)
    assert caught.value.line is not None
    assert caught.value.column is not None
    assert str(caught.value).startswith(f"line {caught.value.line}, column {caught.value.column}")
    assert await store.list_policies() == []


async def test_policies_list_as_statements_attached_to_their_compartment(store, clock):
    finance, risk = await _chain(store, ["Finance", "Risk"])
    tenancy = await store.get_tenancy()
    top = await store.save_policy("admins", "Allow group Administrators to manage all-resources in tenancy",
                                  compartment_id=tenancy.id)
    local = await store.save_policy("risk", "Allow group analysts to use generative-ai-chat in compartment Risk",
                                    compartment_id=finance.id)
    statements = await store.list_statements()
    assert [s.id for s in statements] == [f"{top.id}#1", f"{local.id}#1"]
    assert statements[0].location == Tenancy()
    assert statements[1].attached_to == ("Finance",)
    assert statements[1].location == CompartmentPath(("Finance", "Risk"))
    assert statements[1].subject == Groups(names=("analysts",))
    CompiledPolicies(statements)
    clock.advance(minutes=5)
    updated = await store.save_policy("risk", "Allow any-user to read users in compartment Risk",
                                      compartment_id=finance.id, policy_id=local.id)
    assert updated.created_at == local.created_at
    assert updated.updated_at > local.updated_at
    with pytest.raises(NameTaken):
        await store.save_policy("risk", "Allow any-user to read users in compartment Risk",
                                compartment_id=finance.id)
    assert local.id.startswith("pol_")
    assert risk.parent_id == finance.id


# Lookups by name and bootstrap of an administrator (used by the CLI)


async def test_find_tenancy_is_none_before_bootstrap(database, clock):
    fresh = IdentityStore(database, clock=clock)
    assert await fresh.find_tenancy() is None
    made = await fresh.create_tenancy("acme")
    assert await fresh.find_tenancy() == made


async def test_find_user_and_group_by_name(store):
    bob = await store.create_user("bob")
    eng = await store.create_group("eng")
    assert await store.find_user("bob") == bob
    assert await store.find_group("eng") == eng
    with pytest.raises(UserNotFound):
        await store.find_user("alice")
    with pytest.raises(GroupNotFound):
        await store.find_group("ops")


async def test_find_policy_by_name_within_one_compartment(store):
    (finance,) = await _chain(store, ["Finance"])
    root = (await store.get_tenancy()).id
    text = "Allow group eng to inspect all-resources in tenancy"
    saved = await store.save_policy("p1", text, compartment_id=root)
    assert await store.find_policy("p1", compartment_id=root) == saved
    assert await store.find_policy("p1", compartment_id=finance.id) is None


async def test_ensure_administrator_is_idempotent(store):
    admins = (await store.get_tenancy()).administrators_group_id
    first = await store.ensure_administrator("admin")
    again = await store.ensure_administrator("admin")
    assert again == first
    assert [u.id for u in await store.list_members(admins)] == [first.id]
    existing = await store.create_user("carol")
    assert await store.ensure_administrator("carol") == existing
    assert [u.name for u in await store.list_members(admins)] == ["admin", "carol"]

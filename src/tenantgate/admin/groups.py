"""``/admin/v1/groups`` and their members: groups live in the tenancy (``… groups in tenancy``).

Memberships need ``manage groups in tenancy``, and two rules guard against escalation:
nobody changes their own memberships unless they are an Administrator, and only
Administrators change who is in Administrators. The built-in group itself cannot be
deleted and keeps at least one member (409 ``administrators_protected``).
"""

from __future__ import annotations

from tenantgate.admin.authorization import not_found
from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.schemas import GroupCreate
from tenantgate.admin.users import is_self
from tenantgate.admin.views import Deleted, MembershipView, group_view, page, user_view
from tenantgate.iam.policy_model import ResourceType, Verb

GROUPS = ResourceType.GROUPS


def _group(call: AdminCall, verb: Verb) -> str:
    """The path's group id, once the caller may see it and ``verb`` it."""
    group_id = call.params["id"]
    call.reveal((GROUPS,), call.root, "group", group_id)
    if group_id not in call.snapshot.group_names:
        raise not_found("group")
    call.require(verb, GROUPS, call.root, "group", group_id)
    return group_id


def _membership_change(call: AdminCall) -> tuple[str, str]:
    """The (group, user) of a membership change the caller may make."""
    group_id = _group(call, Verb.MANAGE)
    user_id = call.params["user_id"]
    if user_id not in call.snapshot.users:
        raise not_found("user")
    tenancy = call.snapshot.tenancy
    if not call.is_administrator:
        if is_self(call, user_id):
            call.refuse("own_membership", "You cannot change your own group memberships; "
                        "ask an administrator.", "group", group_id, call.root.id)
        if tenancy is not None and group_id == tenancy.administrators_group_id:
            call.refuse("administrators_only", "Only members of Administrators may change who is in it.",
                        "group", group_id, call.root.id)
    return group_id, user_id


async def list_groups(call: AdminCall) -> Reply:
    """``GET /admin/v1/groups``."""
    call.require(Verb.INSPECT, GROUPS, call.root, "group", None)
    return Reply(200, page([group_view(group) for group in await call.identity.list_groups()]))


async def get_group(call: AdminCall) -> Reply:
    """``GET /admin/v1/groups/{id}``."""
    return Reply(200, group_view(await call.identity.get_group(_group(call, Verb.READ))))


async def create_group(call: AdminCall) -> Reply:
    """``POST /admin/v1/groups``."""
    body = call.body_as(GroupCreate)
    call.require(Verb.MANAGE, GROUPS, call.root, "group", None)
    made = await call.identity.create_group(body.name, description=body.description)
    await call.changed("group", made.id, call.root.id, name=made.name)
    return Reply(201, group_view(made))


async def delete_group(call: AdminCall) -> Reply:
    """``DELETE /admin/v1/groups/{id}``: memberships go with the group."""
    group_id = _group(call, Verb.MANAGE)
    await call.identity.delete_group(group_id)
    await call.changed("group", group_id, call.root.id)
    return Reply(200, Deleted(id=group_id, object="group.deleted"))


async def list_members(call: AdminCall) -> Reply:
    """``GET /admin/v1/groups/{id}/members``."""
    members = await call.identity.list_members(_group(call, Verb.READ))
    return Reply(200, page([user_view(user) for user in members]))


async def add_member(call: AdminCall) -> Reply:
    """``PUT /admin/v1/groups/{id}/members/{user_id}`` (adding a member twice changes nothing)."""
    group_id, user_id = _membership_change(call)
    await call.identity.add_member(group_id, user_id)
    await call.changed("group", group_id, call.root.id, added_user_id=user_id)
    return Reply(200, MembershipView(group_id=group_id, user_id=user_id))


async def remove_member(call: AdminCall) -> Reply:
    """``DELETE /admin/v1/groups/{id}/members/{user_id}``."""
    group_id, user_id = _membership_change(call)
    await call.identity.remove_member_checked(group_id, user_id)
    await call.changed("group", group_id, call.root.id, removed_user_id=user_id)
    return Reply(200, MembershipView(group_id=group_id, user_id=user_id, deleted=True))

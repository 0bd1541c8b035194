"""``/admin/v1/users``: users live in the tenancy, so every check is ``… users in tenancy``.

Anyone may read their own user. Only Administrators may change or delete a member of
Administrators, so ``manage users`` cannot be used to take over an administrator, and the
last administrator cannot be deleted (409 ``administrators_protected``).
"""

from __future__ import annotations

from tenantgate.admin.authorization import not_found
from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.schemas import UserCreate, UserUpdate, changes_of, given
from tenantgate.admin.views import Deleted, page, user_view
from tenantgate.iam.model import User
from tenantgate.iam.policy_model import ResourceType, Verb

USERS = ResourceType.USERS


def is_self(call: AdminCall, user_id: str) -> bool:
    """Whether ``user_id`` is the calling user."""
    return call.principal.type == "user" and call.principal.id == user_id


def holds_administrator(call: AdminCall, user_id: str) -> bool:
    """Whether ``user_id`` is a member of the built-in Administrators group."""
    record = call.snapshot.users.get(user_id)
    tenancy = call.snapshot.tenancy
    return record is not None and tenancy is not None and tenancy.administrators_group_id in record.group_ids


def require_administrator_for(call: AdminCall, user_id: str, target_type: str, target_id: str) -> None:
    """403 unless the caller is an Administrator, when ``user_id`` is one."""
    if holds_administrator(call, user_id) and not call.is_administrator:
        call.refuse("administrators_only", "Only members of Administrators may do this to an administrator.",
                    target_type, target_id, call.root.id)


async def visible(call: AdminCall) -> list[User]:
    """Every user, when the caller may ``inspect users in tenancy`` (else 403)."""
    call.require(Verb.INSPECT, USERS, call.root, "user", None)
    return await call.identity.list_users()


async def read(call: AdminCall, user_id: str) -> User:
    """A user: oneself always, others with ``read users`` (404 without ``inspect users``)."""
    if is_self(call, user_id):
        return await call.identity.get_user(user_id)
    call.reveal((USERS,), call.root, "user", user_id)
    _exists(call, user_id)
    call.require(Verb.READ, USERS, call.root, "user", user_id)
    return await call.identity.get_user(user_id)


def managed(call: AdminCall, user_id: str) -> None:
    """Check the caller may change ``user_id``: visible, ``manage users``, and the admin rule."""
    call.reveal((USERS,), call.root, "user", user_id)
    _exists(call, user_id)
    call.require(Verb.MANAGE, USERS, call.root, "user", user_id)
    require_administrator_for(call, user_id, "user", user_id)


def _exists(call: AdminCall, user_id: str) -> None:
    if user_id not in call.snapshot.users:
        raise not_found("user")


async def list_users(call: AdminCall) -> Reply:
    """``GET /admin/v1/users``."""
    return Reply(200, page([user_view(user) for user in await visible(call)]))


async def get_user(call: AdminCall) -> Reply:
    """``GET /admin/v1/users/{id}``."""
    return Reply(200, user_view(await read(call, call.params["id"])))


async def create_user(call: AdminCall) -> Reply:
    """``POST /admin/v1/users``."""
    body = call.body_as(UserCreate)
    call.require(Verb.MANAGE, USERS, call.root, "user", None)
    made = await call.identity.create_user(body.name, description=body.description)
    await call.changed("user", made.id, call.root.id, name=made.name)
    return Reply(201, user_view(made))


async def update_user(call: AdminCall) -> Reply:
    """``PATCH /admin/v1/users/{id}``."""
    body = call.body_as(UserUpdate)
    user_id = call.params["id"]
    managed(call, user_id)
    name, description = given(body.name), given(body.description)
    updated = await call.identity.update_user(user_id, name=name, description=description)
    await call.changed("user", user_id, call.root.id, **changes_of(name=name, description=description))
    return Reply(200, user_view(updated))


async def delete_user(call: AdminCall) -> Reply:
    """``DELETE /admin/v1/users/{id}``: the user's keys and memberships go with them."""
    user_id = call.params["id"]
    managed(call, user_id)
    await call.identity.delete_user(user_id)
    await call.changed("user", user_id, call.root.id)
    return Reply(200, Deleted(id=user_id, object="user.deleted"))

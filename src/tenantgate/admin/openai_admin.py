"""``/v1/organization/...``: OpenAI's Admin API over the same objects and the same checks.

Each handler calls the operation of the native admin API (``compartments``, ``keys``,
``users``), so authorization, hiding and audit are identical; only the JSON differs
(``openai_views``). Projects are compartments below the tenancy; creating one puts it
directly under the root; archiving deletes it when empty (409 otherwise). A service
account created by a non-administrator gets the models its creator may use there.
"""

from __future__ import annotations

from tenantgate.admin import authorization as rules
from tenantgate.admin import compartments, keys, users
from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.openai_views import (
    OpenAIProjectApiKey,
    OpenAIProjectApiKeyDeleted,
    openai_list,
    project_key_view,
    project_view,
    service_account_created_view,
    service_account_view,
    user_view,
)
from tenantgate.admin.schemas import ProjectCreate, ProjectUpdate, ServiceAccountCreate
from tenantgate.admin.views import unix
from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.model import ApiKey, User
from tenantgate.iam.policy_model import ResourceType, Verb


def _project_record(call: AdminCall) -> CompartmentRecord:
    """The path's project: any compartment but the tenancy itself."""
    record = call.compartment(call.params["project_id"], "project")
    if record.parent_id is None:
        raise rules.not_found("project")
    return record


def _project(call: AdminCall) -> CompartmentRecord:
    """The path's project, once the caller may see it or its keys."""
    record = _project_record(call)
    call.reveal((ResourceType.COMPARTMENTS, keys.APIKEY), record, "project", record.id)
    return record


async def _project_key(call: AdminCall, verb: Verb) -> ApiKey:
    """The path's key, when it belongs to the project and the caller may ``verb`` it."""
    project = _project(call)
    key, home = await keys.fetch(call, call.params["key_id"])
    if home.id != project.id or key.revoked_at is not None:
        raise rules.not_found("key")
    found, _ = await keys.authorized(call, key.id, verb)
    return found


async def _key_view_of(call: AdminCall, key: ApiKey) -> OpenAIProjectApiKey:
    owner: User | None = None
    if key.owner_user_id is not None:
        owner = await call.identity.get_user(key.owner_user_id)
    administrator = owner is not None and users.holds_administrator(call, owner.id)
    return project_key_view(key, owner, administrator=administrator)


async def list_projects(call: AdminCall) -> Reply:
    """``GET /v1/organization/projects``."""
    found = [c for c in await compartments.visible(call) if not c.is_root]
    return Reply(200, openai_list([project_view(c) for c in found], [c.id for c in found]))


async def create_project(call: AdminCall) -> Reply:
    """``POST /v1/organization/projects``."""
    body = call.body_as(ProjectCreate)
    made = await compartments.create(call, name=body.name, parent_id=call.root.id)
    return Reply(200, project_view(made))


async def get_project(call: AdminCall) -> Reply:
    """``GET /v1/organization/projects/{project_id}``."""
    record = _project_record(call)
    return Reply(200, project_view(await compartments.read(call, record.id)))


async def modify_project(call: AdminCall) -> Reply:
    """``POST /v1/organization/projects/{project_id}``: renames the compartment."""
    body = call.body_as(ProjectUpdate)
    record = _project_record(call)
    updated = await compartments.update(call, record.id, name=body.name, description=None)
    return Reply(200, project_view(updated))


async def archive_project(call: AdminCall) -> Reply:
    """``POST /v1/organization/projects/{project_id}/archive``: deletes the empty compartment."""
    record = _project_record(call)
    compartment = await compartments.read(call, record.id)
    await compartments.delete(call, record.id)
    return Reply(200, project_view(compartment, archived_at=unix(call.now)))


async def list_project_keys(call: AdminCall) -> Reply:
    """``GET /v1/organization/projects/{project_id}/api_keys``: the live keys the caller may see."""
    project = _project(call)
    live = [key for key in await call.identity.list_compartment_keys(project.id) if key.revoked_at is None]
    shown = keys.visible(call, live)
    views = [await _key_view_of(call, key) for key in shown]
    return Reply(200, openai_list(views, [key.id for key in shown]))


async def get_project_key(call: AdminCall) -> Reply:
    """``GET /v1/organization/projects/{project_id}/api_keys/{key_id}``."""
    return Reply(200, await _key_view_of(call, await _project_key(call, Verb.READ)))


async def delete_project_key(call: AdminCall) -> Reply:
    """``DELETE /v1/organization/projects/{project_id}/api_keys/{key_id}``: revokes the key."""
    key = await _project_key(call, Verb.MANAGE)
    await keys.revoke(call, key.id)
    return Reply(200, OpenAIProjectApiKeyDeleted(id=key.id))


async def list_service_accounts(call: AdminCall) -> Reply:
    """``GET /v1/organization/projects/{project_id}/service_accounts``."""
    project = _project(call)
    call.require(Verb.INSPECT, keys.APIKEY, project, "key", None)
    found = [key for key in await call.identity.list_compartment_keys(project.id)
             if key.owner_compartment_id == project.id and key.revoked_at is None]
    return Reply(200, openai_list([service_account_view(key) for key in found], [key.id for key in found]))


async def create_service_account(call: AdminCall) -> Reply:
    """``POST /v1/organization/projects/{project_id}/service_accounts``: a service key, token once."""
    body = call.body_as(ServiceAccountCreate)
    project = _project(call)
    models: list[str] | None = None
    if not call.is_administrator:
        models = rules.usable_models(call.snapshot, call.principal, project, keys.model_offers(call),
                                     ip=call.caller.ip, now=call.now)
    created = await keys.mint_service_key(call, name=body.name, compartment_id=project.id,
                                          allowed_models=models)
    return Reply(200, service_account_created_view(created))


async def list_users(call: AdminCall) -> Reply:
    """``GET /v1/organization/users``."""
    found = await users.visible(call)
    views = [user_view(user, administrator=users.holds_administrator(call, user.id)) for user in found]
    return Reply(200, openai_list(views, [user.id for user in found]))


async def get_user(call: AdminCall) -> Reply:
    """``GET /v1/organization/users/{user_id}``."""
    user = await users.read(call, call.params["user_id"])
    return Reply(200, user_view(user, administrator=users.holds_administrator(call, user.id)))

"""``/admin/v1/compartments``: list, read, create, rename, move and delete compartments.

A compartment is read where it is (``inspect``/``read compartments`` in it, which a grant on
any ancestor gives) and managed in its parent: renaming, moving or deleting ``A:Child``
needs ``manage compartments`` in ``A``, creating under ``A`` too, and moving also needs it
in the new parent. The functions without a route are shared with OpenAI's project routes.
"""

from __future__ import annotations

from tenantgate.admin import authorization as rules
from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.schemas import CompartmentCreate, CompartmentMove, CompartmentUpdate, changes_of, given
from tenantgate.admin.views import Deleted, compartment_view, page
from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.model import Compartment
from tenantgate.iam.policy_model import ResourceType, Verb

COMPARTMENTS = ResourceType.COMPARTMENTS


async def visible(call: AdminCall) -> list[Compartment]:
    """Every compartment the caller may inspect, root first, then by path."""
    return [
        found for found in await call.identity.list_compartments()
        if (record := call.snapshot.compartments.get(found.id)) is not None
        and call.can(Verb.INSPECT, COMPARTMENTS, record)
    ]


async def read(call: AdminCall, compartment_id: str) -> Compartment:
    """The compartment, if the caller may read it (404 when they may not even see it)."""
    record = call.compartment(compartment_id)
    call.reveal((COMPARTMENTS,), record, "compartment", record.id)
    call.require(Verb.READ, COMPARTMENTS, record, "compartment", record.id)
    return await call.identity.get_compartment(record.id)


def managed(call: AdminCall, compartment_id: str) -> CompartmentRecord:
    """The compartment, visible to the caller and managed by them in its parent."""
    record = call.compartment(compartment_id)
    call.reveal((COMPARTMENTS,), record, "compartment", record.id)
    call.require(Verb.MANAGE, COMPARTMENTS, rules.manager_of(call.snapshot, record), "compartment", record.id)
    return record


def managed_parent(call: AdminCall, parent_id: str) -> CompartmentRecord:
    """A compartment the caller may create compartments in (or move them into)."""
    parent = call.compartment(parent_id)
    call.reveal_place((COMPARTMENTS,), parent)
    call.require(Verb.MANAGE, COMPARTMENTS, parent, "compartment", parent.id)
    return parent


async def create(call: AdminCall, *, name: str, parent_id: str, description: str = "") -> Compartment:
    """A new compartment under ``parent_id``."""
    parent = managed_parent(call, parent_id)
    made = await call.identity.create_compartment(name, parent_id=parent.id, description=description)
    await call.changed("compartment", made.id, parent.id, name=made.name, parent_id=parent.id)
    return made


async def update(
    call: AdminCall, compartment_id: str, *, name: str | None, description: str | None
) -> Compartment:
    """Rename or re-describe a compartment the caller manages."""
    record = managed(call, compartment_id)
    updated = await call.identity.update_compartment(record.id, name=name, description=description)
    details = changes_of(name=name, description=description)
    await call.changed("compartment", record.id, record.parent_id, **details)
    return updated


async def delete(call: AdminCall, compartment_id: str) -> CompartmentRecord:
    """Delete an empty compartment the caller manages (409 ``compartment_not_empty`` otherwise)."""
    record = managed(call, compartment_id)
    await call.identity.delete_compartment(record.id)
    await call.changed("compartment", record.id, record.parent_id, path=record.path_text)
    return record


async def list_compartments(call: AdminCall) -> Reply:
    """``GET /admin/v1/compartments``."""
    return Reply(200, page([compartment_view(found) for found in await visible(call)]))


async def get_compartment(call: AdminCall) -> Reply:
    """``GET /admin/v1/compartments/{id}``."""
    return Reply(200, compartment_view(await read(call, call.params["id"])))


async def create_compartment(call: AdminCall) -> Reply:
    """``POST /admin/v1/compartments``."""
    body = call.body_as(CompartmentCreate)
    made = await create(call, name=body.name, parent_id=body.parent_id or call.root.id,
                        description=body.description)
    return Reply(201, compartment_view(made))


async def update_compartment(call: AdminCall) -> Reply:
    """``PATCH /admin/v1/compartments/{id}``."""
    body = call.body_as(CompartmentUpdate)
    updated = await update(call, call.params["id"], name=given(body.name),
                           description=given(body.description))
    return Reply(200, compartment_view(updated))


async def move_compartment(call: AdminCall) -> Reply:
    """``POST /admin/v1/compartments/{id}/move``."""
    body = call.body_as(CompartmentMove)
    record = managed(call, call.params["id"])
    target = managed_parent(call, body.parent_id)
    moved = await call.identity.move_compartment(record.id, new_parent_id=target.id)
    await call.changed("compartment", record.id, target.id, from_parent_id=record.parent_id,
                       parent_id=target.id)
    return Reply(200, compartment_view(moved))


async def delete_compartment(call: AdminCall) -> Reply:
    """``DELETE /admin/v1/compartments/{id}``."""
    record = await delete(call, call.params["id"])
    return Reply(200, Deleted(id=record.id, object="compartment.deleted"))

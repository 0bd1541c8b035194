"""``/admin/v1/policies``: policies are managed in the compartment they are attached to.

Attaching, replacing or deleting a policy needs ``manage policies`` there (and, when a
replacement moves it, in the new compartment too), so nobody can attach a policy where
they do not already manage policies; the parser keeps each policy's statements inside
its compartment. Listing shows the policies of compartments where the caller may
``inspect policies``. ``explain`` answers with the evaluator the gateway decides with.
"""

from __future__ import annotations

from tenantgate.admin.authorization import not_found
from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.schemas import PolicyCreate, PolicyExplain, PolicyReplace
from tenantgate.admin.views import Deleted, explanation_view, page, policy_view
from tenantgate.errors import InvalidApiKey, InvalidRequest, PolicyNotFound
from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.explain import explain
from tenantgate.iam.key_authentication import principal_of
from tenantgate.iam.model import Policy
from tenantgate.iam.policy_model import ResourceType, Verb
from tenantgate.iam.principal import Principal

POLICIES = ResourceType.POLICIES
_PLACES = (ResourceType.COMPARTMENTS, POLICIES)


async def _policy(call: AdminCall, verb: Verb) -> tuple[Policy, CompartmentRecord]:
    """The path's policy and its compartment, once the caller may see it and ``verb`` it."""
    try:
        policy = await call.identity.get_policy(call.params["id"])
    except PolicyNotFound:
        raise not_found("policy") from None
    compartment = call.compartment(policy.compartment_id, "policy")
    call.reveal((POLICIES,), compartment, "policy", policy.id)
    call.require(verb, POLICIES, compartment, "policy", policy.id)
    return policy, compartment


def _attachable(call: AdminCall, compartment_id: str) -> CompartmentRecord:
    """A compartment the caller may attach policies to."""
    compartment = call.compartment(compartment_id)
    call.reveal_place(_PLACES, compartment)
    call.require(Verb.MANAGE, POLICIES, compartment, "policy", None)
    return compartment


async def list_policies(call: AdminCall) -> Reply:
    """``GET /admin/v1/policies``."""
    shown = [
        policy for policy in await call.identity.list_policies()
        if (record := call.snapshot.compartments.get(policy.compartment_id)) is not None
        and call.can(Verb.INSPECT, POLICIES, record)
    ]
    return Reply(200, page([policy_view(policy) for policy in shown]))


async def get_policy(call: AdminCall) -> Reply:
    """``GET /admin/v1/policies/{id}``."""
    policy, _ = await _policy(call, Verb.READ)
    return Reply(200, policy_view(policy))


async def create_policy(call: AdminCall) -> Reply:
    """``POST /admin/v1/policies``: 400 ``invalid_policy`` names the line and column of a mistake."""
    body = call.body_as(PolicyCreate)
    compartment = _attachable(call, body.compartment_id or call.root.id)
    saved = await call.identity.save_policy(body.name, body.text, compartment_id=compartment.id,
                                            description=body.description)
    await call.changed("policy", saved.id, compartment.id, name=saved.name)
    return Reply(201, policy_view(saved))


async def replace_policy(call: AdminCall) -> Reply:
    """``PUT /admin/v1/policies/{id}``."""
    body = call.body_as(PolicyReplace)
    policy, compartment = await _policy(call, Verb.MANAGE)
    if body.compartment_id is not None and body.compartment_id != compartment.id:
        compartment = _attachable(call, body.compartment_id)
    saved = await call.identity.save_policy(body.name, body.text, compartment_id=compartment.id,
                                            description=body.description, policy_id=policy.id)
    await call.changed("policy", saved.id, compartment.id, name=saved.name,
                       from_compartment_id=policy.compartment_id)
    return Reply(200, policy_view(saved))


async def delete_policy(call: AdminCall) -> Reply:
    """``DELETE /admin/v1/policies/{id}``."""
    policy, compartment = await _policy(call, Verb.MANAGE)
    await call.identity.delete_policy(policy.id)
    await call.changed("policy", policy.id, compartment.id, name=policy.name)
    return Reply(200, Deleted(id=policy.id, object="policy.deleted"))


async def explain_policy(call: AdminCall) -> Reply:
    """``POST /admin/v1/policies/explain``: needs ``inspect policies`` in the compartment asked about."""
    body = call.body_as(PolicyExplain)
    compartment = call.snapshot.find_compartment(body.compartment)
    if compartment is None:
        raise not_found("compartment")
    call.reveal_place(_PLACES, compartment)
    call.require(Verb.INSPECT, POLICIES, compartment, "policy", None)
    principal = _subject(call, body)
    found = explain(
        call.snapshot, principal, compartment, verb=Verb[body.verb.upper()],
        resource_type=body.resource_type, model=body.model, operation=body.operation, region=body.region,
        ip=call.caller.ip if principal is call.principal else None, now=call.now,
    )
    return Reply(200, explanation_view(found))


def _subject(call: AdminCall, body: PolicyExplain) -> Principal:
    """Whom the question is about: a key the caller can see, a user (id or name), or the caller."""
    if body.user is not None and body.key_id is not None:
        raise InvalidRequest("Ask about a user or a key, not both.", param="key_id")
    snapshot = call.snapshot
    if body.key_id is not None:
        record = snapshot.keys.get(body.key_id.removeprefix("key_"))
        home = snapshot.compartments.get(record.compartment_id) if record is not None else None
        if record is None or home is None:
            raise not_found("key")
        own = call.principal.type == "user" and record.owner_user_id == call.principal.id
        if not own:
            call.reveal((ResourceType.GENERATIVE_AI_APIKEY,), home, "key", record.id)
        try:
            return principal_of(snapshot, record)
        except InvalidApiKey:
            raise not_found("key") from None
    if body.user is not None:
        user = snapshot.users.get(body.user) or next(
            (u for u in snapshot.users.values() if u.name == body.user), None)
        if user is None:
            raise not_found("user")
        return Principal(id=user.id, type="user", name=user.name, group_ids=user.group_ids,
                         group_names=user.group_names, governed=True)
    return call.principal


"""Pure rules of admin authorization: decisions, hiding, self-service and minting bounds.

Every admin call is decided by the same policies and evaluator as inference
(``AccessControl.evaluate`` on the current snapshot), with these rules on top:

* **Where an object lives.** Users and groups live in the tenancy; a policy in the
  compartment it is attached to; a service key in its compartment; a user key in its
  project (``compartment_id``, default the tenancy). A compartment is *read* in itself and
  *managed* in its parent (the tenancy manages the root).
* **Hiding.** An object in a compartment where the caller cannot even ``inspect`` its type
  is answered exactly like a missing id (``not_found``); one the caller can see but not
  change is 403.
* **Self-service.** A user may always see, mint, rotate and revoke their own keys, as
  OCI users manage their own API keys; a key minted or rotated that way may only narrow
  the key making the call (``narrower_than_key``), so a leaked narrow key cannot widen.
* **No minting beyond one's rights.** A non-administrator's service key must list its
  models, each one the minter may itself use there (``usable_models``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tenantgate.errors import (
    ApiKeyNotFound,
    CompartmentNotFound,
    GroupNotFound,
    InvalidApiKey,
    NotFound,
    PermissionDenied,
    PolicyNotFound,
    UserNotFound,
)
from tenantgate.iam import inference_access as inference
from tenantgate.iam.access_snapshot import CompartmentRecord, IdentitySnapshot
from tenantgate.iam.key_authentication import principal_of
from tenantgate.iam.model import ApiKey, IpNetwork
from tenantgate.iam.policy_evaluator import RequestContext
from tenantgate.iam.policy_model import ResourceType, Verb
from tenantgate.iam.principal import Principal

SELF_SERVICE_STATEMENT_ID = "builtin:self-service"
"""Cited as the reason when a user acted on their own keys (no policy was needed)."""

_NOT_FOUND: dict[str, type[NotFound]] = {
    "compartment": CompartmentNotFound,
    "project": CompartmentNotFound,
    "user": UserNotFound,
    "group": GroupNotFound,
    "policy": PolicyNotFound,
    "key": ApiKeyNotFound,
}


def not_found(kind: str) -> NotFound:
    """The one error for "no such id" and "hidden from you": the bodies must be identical."""
    return _NOT_FOUND[kind]()


def admission_error(snapshot: IdentitySnapshot, principal: Principal) -> PermissionDenied | None:
    """Why this principal may not use the admin API at all, or None when it may."""
    if snapshot.tenancy is None:
        return PermissionDenied(
            "The admin API needs a tenancy: run `tenantgate init`, then call it with the "
            "administrator key it prints."
        )
    if not principal.governed:
        return PermissionDenied(
            "The admin API needs an identity API key (a 'tg-' key from `tenantgate init` or the "
            "admin API); anonymous callers and static keys from settings cannot administer."
        )
    return None


def admin_context(
    principal: Principal, verb: Verb, resource_type: ResourceType, compartment: CompartmentRecord,
    *, ip: str | None, now: datetime,
) -> RequestContext:
    """The evaluator's view of one admin question."""
    return RequestContext(
        principal_type=principal.type, principal_id=principal.id, verb=verb, resource_type=resource_type,
        compartment_path=compartment.path, compartment_ids=compartment.ids,
        user_name=principal.name if principal.type == "user" else None,
        group_ids=principal.group_ids, group_names=principal.group_names, ip=ip, utc_timestamp=now,
    )


def is_administrator(snapshot: IdentitySnapshot, principal: Principal) -> bool:
    """Whether the principal is a member of the built-in Administrators group."""
    tenancy = snapshot.tenancy
    return tenancy is not None and tenancy.administrators_group_id in principal.group_ids


def manager_of(snapshot: IdentitySnapshot, compartment: CompartmentRecord) -> CompartmentRecord:
    """Where a compartment is managed: its parent (the root manages itself)."""
    if compartment.parent_id is None:
        return compartment
    return snapshot.compartments[compartment.parent_id]


def key_compartment_id(key: ApiKey, root_id: str) -> str:
    """The compartment a key lives in: its owner (service key), its project, else the tenancy."""
    return key.compartment_id or key.owner_compartment_id or root_id


def owns_key(principal: Principal, key: ApiKey) -> bool:
    """Self-service: the caller is the user who owns the key."""
    return principal.type == "user" and key.owner_user_id == principal.id


def where(compartment: CompartmentRecord) -> str:
    """A compartment as statements name it: ``tenancy`` or ``compartment A:B``."""
    return f"compartment {compartment.path_text}" if compartment.path else "tenancy"


def denial_message(verb: Verb, resource_type: ResourceType, compartment: CompartmentRecord) -> str:
    """Say which grant was missing where, so the caller can ask for exactly that."""
    return (
        f"You are not allowed to do this: it needs '{verb.keyword} {resource_type.value}' in "
        f"{where(compartment)}. An administrator can grant it, or explain why not with "
        "POST /admin/v1/policies/explain."
    )


def narrower_than_key(
    principal: Principal, models: Sequence[str] | None, ranges: Sequence[IpNetwork] | None
) -> str | None:
    """The field (``allowed_models`` / ``allowed_ip_ranges``) in which a new key would be broader
    than the key making the call, or None when it only narrows."""
    if principal.allowed_models is not None and (
        models is None or not set(models) <= principal.allowed_models
    ):
        return "allowed_models"
    own = principal.allowed_ip_ranges
    if own is not None and (ranges is None or not all(_inside(net, own) for net in ranges)):
        return "allowed_ip_ranges"
    return None


def _inside(network: IpNetwork, within: Sequence[IpNetwork]) -> bool:
    return any(
        network.version == outer.version and network.subnet_of(outer)  # type: ignore[arg-type]
        for outer in within
    )


@dataclass(frozen=True, slots=True)
class ModelOffer:
    """A catalog model as minting rules see it: its name, operations and regions."""

    name: str
    operations: tuple[str, ...]
    regions: tuple[str | None, ...]


def usable_models(
    snapshot: IdentitySnapshot, principal: Principal, compartment: CompartmentRecord,
    offers: Iterable[ModelOffer], *, ip: str | None, now: datetime,
) -> list[str]:
    """The models the principal may itself use in ``compartment`` (any operation, any region)."""
    found = []
    for offer in offers:
        try:
            inference.check_key_scope(principal, offer.name, ip)
        except PermissionDenied:
            continue
        if any(
            inference.decide_inference(snapshot, principal, compartment, operation=operation,
                                       model=offer.name, regions=offer.regions, ip=ip, now=now)[0]
            for operation in offer.operations if operation in inference.RESOURCE_FOR_OPERATION
        ):
            found.append(offer.name)
    return found


def current_principal(snapshot: IdentitySnapshot, principal: Principal) -> Principal | None:
    """The caller as of ``snapshot`` (groups removed a moment ago no longer count); None if the
    key is gone or revoked by now."""
    record = snapshot.keys.get((principal.key_id or "").removeprefix("key_"))
    if record is None or record.revoked:
        return None
    try:
        return principal_of(snapshot, record)
    except InvalidApiKey:
        return None

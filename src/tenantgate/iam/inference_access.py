"""May this principal run this inference here? Pure decisions over an ``IdentitySnapshot``.

An inference call needs ``use generative-ai-chat`` (chat and legacy completions) or
``use generative-ai-embedding`` in its target compartment, with the request's model,
operation, region, address and time as condition variables. A model offered in several
regions is decided per region, so ``where request.region = 'eu-frankfurt-1'`` narrows the
deployments a caller may be routed to instead of denying the model outright. The key's own
scope (allowed models and networks) is checked first: it narrows, never widens, what the
policies grant.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tenantgate.errors import AddressNotAuthorized, ModelNotAuthorized
from tenantgate.iam.access_snapshot import CompartmentRecord, IdentitySnapshot
from tenantgate.iam.policy_evaluator import Decision, RequestContext
from tenantgate.iam.policy_model import ResourceType, Verb
from tenantgate.iam.principal import Principal

RESOURCE_FOR_OPERATION: dict[str, ResourceType] = {
    "chat": ResourceType.GENERATIVE_AI_CHAT,
    "completion": ResourceType.GENERATIVE_AI_CHAT,
    "embedding": ResourceType.GENERATIVE_AI_EMBEDDING,
}


@dataclass(frozen=True, slots=True)
class InferenceGrant:
    """The outcome of an allowed check: where, in which regions, and which statements allowed it."""

    compartment: CompartmentRecord | None
    regions: frozenset[str | None]
    statement_ids: tuple[str, ...]


UNGOVERNED = InferenceGrant(compartment=None, regions=frozenset(), statement_ids=())
"""The grant of principals policies do not govern (quickstart, static keys): everything."""


def target_compartment(
    snapshot: IdentitySnapshot, principal: Principal, requested: str | None
) -> CompartmentRecord | None:
    """The compartment a call acts in: the one a header names, else the key's own (None: unknown)."""
    reference = requested if requested else principal.home_compartment_id
    return snapshot.find_compartment(reference) if reference else snapshot.root


def check_key_scope(principal: Principal, model: str | None, ip: str | None) -> None:
    """Refuse what the key itself excludes, before any policy is consulted."""
    networks = principal.allowed_ip_ranges
    if networks is not None:
        try:
            address = ipaddress.ip_address(ip or "")
        except ValueError:
            raise AddressNotAuthorized() from None
        if not any(address in network for network in networks):
            raise AddressNotAuthorized()
    if model is not None and principal.allowed_models is not None and model not in principal.allowed_models:
        raise ModelNotAuthorized(f"This API key may not use the model '{model}'.", param="model")


def place_of(compartment: CompartmentRecord | None, requested: str | None) -> str:
    """How a denial names the place: the caller's own words if they named one."""
    if requested:
        return f"compartment {requested}"
    if compartment is None or not compartment.path:
        return "the tenancy"
    return f"compartment {compartment.path_text}"


def inference_context(
    principal: Principal, compartment: CompartmentRecord, *, operation: str, model: str,
    region: str | None, ip: str | None, now: datetime,
) -> RequestContext:
    """The condition variables of one inference call, as the evaluator reads them."""
    return RequestContext(
        principal_type=principal.type,
        principal_id=principal.id,
        verb=Verb.USE,
        resource_type=RESOURCE_FOR_OPERATION[operation],
        compartment_path=compartment.path,
        compartment_ids=compartment.ids,
        user_name=principal.name if principal.type == "user" else None,
        group_ids=principal.group_ids,
        group_names=principal.group_names,
        operation=operation,
        model=model,
        region=region,
        ip=ip,
        utc_timestamp=now,
    )


def decide_inference(
    snapshot: IdentitySnapshot, principal: Principal, compartment: CompartmentRecord, *,
    operation: str, model: str, regions: Iterable[str | None], ip: str | None, now: datetime,
) -> tuple[InferenceGrant | None, Decision]:
    """The regions this call may use (None if no region is allowed) and the last decision."""
    allowed: set[str | None] = set()
    statement_ids: list[str] = []
    decision = Decision(False)
    for region in dict.fromkeys(regions):
        context = inference_context(
            principal, compartment, operation=operation, model=model, region=region, ip=ip, now=now
        )
        decision = snapshot.policies.evaluate(context)
        if decision.allowed:
            allowed.add(region)
            statement_ids += decision.matched_statement_ids
    if not allowed:
        return None, decision
    return InferenceGrant(compartment, frozenset(allowed), tuple(dict.fromkeys(statement_ids))), decision


def denial_message(operation: str, model: str, where: str) -> str:
    """Say what was needed where, so the caller can ask for exactly that grant.

    ``where`` is the compartment as the caller named it, so a compartment that does not
    exist gets the very same answer as one the caller may not use.
    """
    return (
        f"You are not allowed to use the model '{model}' in {where}: that needs "
        f"'use {RESOURCE_FOR_OPERATION[operation].value}' there. "
        "An administrator can grant it, or run `tenantgate policy explain` to see why not."
    )

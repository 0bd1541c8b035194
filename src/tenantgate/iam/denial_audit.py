"""A refused request as an audit-trail entry: who, what, from where, and the reason code sent back."""

from __future__ import annotations

from typing import cast

from tenantgate.audit import AuditEntry
from tenantgate.audit.model import ActorType, JsonValue
from tenantgate.iam.denials import Denial

_TARGETS = {"inference.denied": "model"}


def denial_entry(denial: Denial) -> AuditEntry:
    """The audit entry of a denial; the key id is kept (never a secret), so a leaked key's probing shows."""
    details: dict[str, JsonValue] = {"reason": denial.reason}
    if denial.key_id is not None:
        details["key_id"] = denial.key_id
    for name, value in denial.details.items():
        if name not in ("model", "compartment_id") and value is not None:
            details[name] = cast(JsonValue, value)
    model = denial.details.get("model")
    compartment = denial.details.get("compartment_id")
    return AuditEntry(
        actor_type=cast(ActorType, denial.principal_type),
        actor_id=denial.principal_id,
        actor_name=denial.principal_name,
        action=denial.action,
        outcome="denied",
        target_type=_TARGETS.get(denial.action) if model is not None else None,
        target_id=str(model) if model is not None else None,
        compartment_id=str(compartment) if compartment is not None else None,
        request_id=denial.request_id,
        client_ip=denial.ip,
        details=details,
    )

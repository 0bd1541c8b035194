"""``AdminEvents`` that write the audit trail: changes durably, denials through the queue.

A change is recorded with ``record_now`` after it committed, so the admin call answers only
once its audit event is durable; if the audit trail is down the caller gets 503
``audit_unavailable`` (the change itself stands, and the log says which one it was).
Denials are queued (``record``) so a flood of refused calls cannot stall the API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import cast

from tenantgate.audit import AuditEntry, AuditRecorder
from tenantgate.audit.model import ActorType, JsonValue
from tenantgate.errors import AuditUnavailable
from tenantgate.iam.principal import Caller

logger = logging.getLogger("tenantgate.admin")


def _plain(value: object) -> JsonValue:
    """A JSON value for the audit event: containers kept, anything exotic as its text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(value)


def _actor(caller: Caller) -> dict[str, object]:
    principal = caller.principal
    details: dict[str, object] = {}
    if principal.key_id is not None:
        details["key_id"] = principal.key_id
    return details


class AuditedAdminEvents:
    """Turns admin changes and refusals into chained audit events."""

    def __init__(self, recorder: AuditRecorder) -> None:
        self._recorder = recorder

    async def changed(
        self, caller: Caller, action: str, target_type: str, target_id: str,
        compartment_id: str | None, statement_ids: tuple[str, ...], details: Mapping[str, object],
    ) -> None:
        entry = self._entry(caller, action, "succeeded", target_type, target_id, compartment_id,
                            statement_ids, {**_actor(caller), **details})
        try:
            await self._recorder.record_now(entry)
        except AuditUnavailable:
            logger.error("admin change committed but its audit event was not recorded",
                         extra={"action": action, "target_id": target_id, "request_id": caller.request_id})
            raise

    def denied(
        self, caller: Caller, action: str, reason: str, target_type: str,
        target_id: str | None, compartment_id: str | None,
    ) -> None:
        self._recorder.record(self._entry(caller, action, "denied", target_type, target_id,
                                          compartment_id, (), {**_actor(caller), "reason": reason}))

    @staticmethod
    def _entry(
        caller: Caller, action: str, outcome: str, target_type: str, target_id: str | None,
        compartment_id: str | None, statement_ids: tuple[str, ...], details: Mapping[str, object],
    ) -> AuditEntry:
        principal = caller.principal
        return AuditEntry(
            actor_type=cast(ActorType, principal.type), actor_id=principal.id,
            actor_name=principal.name, action=action,
            outcome="succeeded" if outcome == "succeeded" else "denied",
            target_type=target_type, target_id=target_id, compartment_id=compartment_id,
            statement_ids=statement_ids, request_id=caller.request_id, client_ip=caller.ip,
            details={str(key): _plain(value) for key, value in details.items()},
        )

"""Where the admin API reports what it changed and what it refused: a small protocol.

The audit trail plugs in here without the admin API depending on it: the gateway wires an
implementation that turns these calls into audit entries. ``changed`` is awaited after the
change is committed (an implementation may record durably and raise to fail the request);
``denied`` must not block, so a flood of refused calls costs one function call each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tenantgate.iam.principal import Caller


class AdminEvents(Protocol):
    """Receives every admin change (with the statements that allowed it) and every denial."""

    async def changed(
        self, caller: Caller, action: str, target_type: str, target_id: str,
        compartment_id: str | None, statement_ids: tuple[str, ...], details: Mapping[str, object],
    ) -> None:
        """``action`` (e.g. ``iam.policy.update``) succeeded on the target; never given a secret."""

    def denied(
        self, caller: Caller, action: str, reason: str, target_type: str,
        target_id: str | None, compartment_id: str | None,
    ) -> None:
        """``action`` was refused with 403, or with a 404 that hides an object the caller may not see."""


class NoAdminEvents:
    """The default sink: records nothing (until the audit trail is wired in)."""

    async def changed(
        self, caller: Caller, action: str, target_type: str, target_id: str,
        compartment_id: str | None, statement_ids: tuple[str, ...], details: Mapping[str, object],
    ) -> None:
        """Ignore the change."""

    def denied(
        self, caller: Caller, action: str, reason: str, target_type: str,
        target_id: str | None, compartment_id: str | None,
    ) -> None:
        """Ignore the denial."""

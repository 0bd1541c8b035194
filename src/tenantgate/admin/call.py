"""One admin request in flight: who asks, on which snapshot, and the checks handlers run.

Handlers never evaluate policies themselves: they ask ``reveal`` (404 when the caller may
not even see the object), ``require`` (403 when they may see but not do) or ``refuse``,
which also report the denial to ``AdminEvents``; the statements of every allowing
decision are collected so ``changed`` can cite them in the audit event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from tenantgate.admin import authorization as rules
from tenantgate.admin.events import AdminEvents
from tenantgate.catalog import Catalog
from tenantgate.credits.rate_card_source import RateCardSource
from tenantgate.errors import PermissionDenied
from tenantgate.iam.access_control import AccessControl
from tenantgate.iam.access_snapshot import CompartmentRecord, IdentitySnapshot
from tenantgate.iam.policy_model import ResourceType, Verb
from tenantgate.iam.principal import Caller, Principal
from tenantgate.iam.store import IdentityStore
from tenantgate.routing.router import Router
from tenantgate.storage import Database

B = TypeVar("B")


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer: the status and the object (a view Struct) to encode as JSON, or a
    body already encoded (``bytes``) sent as it is with ``content_type``."""

    status: int
    payload: object
    content_type: bytes = b"application/json"


@dataclass(frozen=True, slots=True)
class AdminServices:
    """What admin handlers act on: the store, the access layer, the catalog, the event sink,
    the database (usage reports read the ledger's rows) and the rate card's source."""

    identity: IdentityStore
    access: AccessControl
    catalog: Catalog
    events: AdminEvents
    clock: Callable[[], datetime]
    database: Database
    rate_cards: RateCardSource
    router: Router | None = None
    """The live routing state, for ``GET /admin/v1/deployments``."""


@dataclass(slots=True)
class AdminCall:
    """A request's context; ``snapshot`` is fresh (reloaded when the call began)."""

    services: AdminServices
    action: str
    caller: Caller
    snapshot: IdentitySnapshot
    params: Mapping[str, str]
    body: Any
    now: datetime
    allowed_by: list[str] = field(default_factory=list)
    query: Any = None
    """The decoded query string, for routes that declare a query schema."""

    @property
    def principal(self) -> Principal:
        """The caller's principal, with group memberships as of ``snapshot``."""
        return self.caller.principal

    @property
    def identity(self) -> IdentityStore:
        """The identity store."""
        return self.services.identity

    @property
    def root(self) -> CompartmentRecord:
        """The tenancy's root compartment (the admin API runs only once it exists)."""
        root = self.snapshot.root
        assert root is not None, "admitted calls always have a tenancy"
        return root

    @property
    def is_administrator(self) -> bool:
        """Whether the caller is in the built-in Administrators group."""
        return rules.is_administrator(self.snapshot, self.principal)

    def body_as(self, schema: type[B]) -> B:
        """The decoded body, typed (the route table guarantees its schema)."""
        assert isinstance(self.body, schema)
        return self.body

    def query_as(self, schema: type[B]) -> B:
        """The decoded query string, typed (the route table guarantees its schema)."""
        assert isinstance(self.query, schema)
        return self.query

    def compartment(self, compartment_id: str, kind: str = "compartment") -> CompartmentRecord:
        """A compartment by id; the not-found error of ``kind`` when there is none."""
        found = self.snapshot.compartments.get(compartment_id)
        if found is None:
            raise rules.not_found(kind)
        return found

    def can(self, verb: Verb, resource_type: ResourceType, compartment: CompartmentRecord) -> bool:
        """Whether policies allow it (nothing is recorded: for filtering lists)."""
        return self._decide(verb, resource_type, compartment) is not None

    def reveal(
        self, kinds: tuple[ResourceType, ...], compartment: CompartmentRecord, target_type: str,
        target_id: str | None,
    ) -> None:
        """404 (as if missing) unless the caller may ``inspect`` one of ``kinds`` in ``compartment``."""
        if not any(self.can(Verb.INSPECT, kind, compartment) for kind in kinds):
            self.denied("not_visible", target_type, target_id, compartment.id)
            raise rules.not_found(target_type)

    def reveal_place(self, kinds: tuple[ResourceType, ...], compartment: CompartmentRecord) -> None:
        """``reveal`` for a compartment named as a place to put something; the tenancy is never
        hidden (everyone sees it as their compartments' ancestor), so it gets a plain 403."""
        if compartment.parent_id is not None:
            self.reveal(kinds, compartment, "compartment", compartment.id)

    def require(
        self, verb: Verb, resource_type: ResourceType, compartment: CompartmentRecord,
        target_type: str, target_id: str | None,
    ) -> None:
        """403 unless policies allow ``verb resource_type`` in ``compartment``; collects the statements."""
        statements = self._decide(verb, resource_type, compartment)
        if statements is None:
            self.refuse("not_authorized", rules.denial_message(verb, resource_type, compartment),
                        target_type, target_id, compartment.id)
        self.allowed_by += statements

    def self_service(self) -> None:
        """Record that the caller acted on their own keys (no policy needed)."""
        self.allowed_by.append(rules.SELF_SERVICE_STATEMENT_ID)

    def refuse(
        self, reason: str, message: str, target_type: str, target_id: str | None,
        compartment_id: str | None, *, param: str | None = None,
    ) -> NoReturn:
        """Report the denial and raise 403 with ``message``."""
        self.denied(reason, target_type, target_id, compartment_id)
        raise PermissionDenied(message, param=param)

    def denied(
        self, reason: str, target_type: str, target_id: str | None, compartment_id: str | None
    ) -> None:
        """Report a denial to the event sink (never blocks)."""
        self.services.events.denied(self.caller, self.action, reason, target_type, target_id, compartment_id)

    async def changed(
        self, target_type: str, target_id: str, compartment_id: str | None, **details: object
    ) -> None:
        """After a committed change: reload this replica's snapshot now, then report the change."""
        await self.services.access.refresh()
        await self.services.events.changed(
            self.caller, self.action, target_type, target_id, compartment_id,
            tuple(dict.fromkeys(self.allowed_by)), details,
        )

    def _decide(
        self, verb: Verb, resource_type: ResourceType, compartment: CompartmentRecord
    ) -> list[str] | None:
        context = rules.admin_context(self.principal, verb, resource_type, compartment,
                                      ip=self.caller.ip, now=self.now)
        decision = self.services.access.evaluate(context)
        return list(decision.matched_statement_ids) if decision.allowed else None


Handler = Callable[[AdminCall], Awaitable[Reply]]
"""An admin route's handler."""

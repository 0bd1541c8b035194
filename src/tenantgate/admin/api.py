"""``AdminApi``: the entry point the app calls for ``/admin/v1/…`` and ``/v1/organization/…``.

The app has already authenticated the caller (the same ``Authorization: Bearer`` as /v1).
Here each call, in order: finds its route (404/405); reloads this replica's identity
snapshot if it moved, so decisions read the current state; admits only a governed
principal (an IAM ``tg-`` key), re-read from that snapshot so a membership removed a moment
ago no longer counts; reads and decodes the body and the query string (400 before any
decision); then runs the handler, which authorizes by policy and reports changes and denials
to ``AdminEvents``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from tenantgate.admin import authorization as rules
from tenantgate.admin.call import AdminCall, AdminServices
from tenantgate.admin.events import AdminEvents, NoAdminEvents
from tenantgate.admin.query import decode_query
from tenantgate.admin.router import Router
from tenantgate.admin.routes import ROUTES, AdminRoute
from tenantgate.admin.schemas import decode_body
from tenantgate.api.http import ApiRequest, JsonResponse, read_body
from tenantgate.errors import InvalidApiKey, PermissionDenied
from tenantgate.iam.inference_access import check_key_scope
from tenantgate.iam.principal import Caller
from tenantgate.runtime import Gateway

ADMIN_BODY_MAX_BYTES = 256 * 1024
"""Admin bodies are small (a policy document is the largest); bigger ones get 413."""

_encode = msgspec.json.Encoder().encode


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AdminApi:
    """Routes, admits, decodes and dispatches admin calls for one gateway process."""

    def __init__(
        self, gateway: Gateway, *, events: AdminEvents | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._services = AdminServices(
            identity=gateway.identity, access=gateway.access, catalog=gateway.catalog,
            events=events if events is not None else NoAdminEvents(), clock=clock,
            database=gateway.database, rate_cards=gateway.rate_cards, router=gateway.router,
        )
        self._router: Router[AdminRoute] = Router(ROUTES)
        self._receive_timeout_s = gateway.settings.server.request_receive_timeout_ms / 1000

    async def handle(self, request: ApiRequest) -> JsonResponse:
        """Answer one admin request; errors raise as ``TenantgateError`` for the app to render."""
        route, params = self._router.match(request.method, request.path)
        caller = await self._admit(request.caller, route.action)
        body = None
        if route.body is not None:
            raw = await read_body(request, max_bytes=ADMIN_BODY_MAX_BYTES, timeout_s=self._receive_timeout_s)
            body = decode_body(raw, route.body)
        query = decode_query(request.query_string, route.query) if route.query is not None else None
        services = self._services
        call = AdminCall(services, route.action, caller, services.access.snapshot, params, body,
                         services.clock(), query=query)
        reply = await route.handler(call)
        payload = reply.payload
        encoded = payload if isinstance(payload, bytes) else _encode(payload)
        return JsonResponse(reply.status, encoded, content_type=reply.content_type)

    async def _admit(self, caller: Caller, action: str) -> Caller:
        """The caller re-read from a fresh snapshot; 403 for anyone but an IAM principal."""
        access, events = self._services.access, self._services.events
        await access.refresh()
        snapshot = access.snapshot
        refused = rules.admission_error(snapshot, caller.principal)
        if refused is not None:
            events.denied(caller, action, "identity_required", "admin", None, None)
            raise refused
        principal = rules.current_principal(snapshot, caller.principal)
        if principal is None:
            raise InvalidApiKey()
        admitted = Caller(principal, caller.compartment, caller.ip, caller.request_id)
        try:
            check_key_scope(principal, None, caller.ip)
        except PermissionDenied as error:
            events.denied(admitted, action, error.code, "admin", None, None)
            raise
        return admitted

"""Every admin change and denial reaches ``AdminEvents`` with the statements that decided it.

In-process: the real ``TenantgateApp`` over httpx's ASGI transport, with a recording
implementation of the ``AdminEvents`` protocol in place of the default one, on both engines.
"""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import httpx
import pytest
from admin_world import STATIC_KEY, gateway_config

from tenantgate.admin import AdminApi
from tenantgate.api.app import TenantgateApp
from tenantgate.iam.principal import Caller
from tenantgate.runtime import Gateway
from tenantgate.settings import Settings


@dataclass
class RecordingEvents:
    """An ``AdminEvents`` that keeps what it is told."""

    changes: list[tuple] = field(default_factory=list)
    denials: list[tuple] = field(default_factory=list)

    async def changed(self, caller: Caller, action: str, target_type: str, target_id: str,
                      compartment_id: str | None, statement_ids: tuple[str, ...],
                      details: Mapping[str, object]) -> None:
        self.changes.append((caller.principal.name, action, target_type, target_id, compartment_id,
                             statement_ids, dict(details)))

    def denied(self, caller: Caller, action: str, reason: str, target_type: str,
               target_id: str | None, compartment_id: str | None) -> None:
        self.denials.append((caller.principal.name, action, reason, target_type, target_id, compartment_id))


@dataclass
class InProcess:
    http: httpx.AsyncClient
    events: RecordingEvents
    admin_token: str
    root_id: str

    async def call(self, method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
        headers = {"authorization": f"Bearer {token or self.admin_token}"}
        return await self.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture
async def app(migrated_database_url: str) -> AsyncIterator[InProcess]:
    gateway = Gateway(Settings.model_validate(gateway_config(migrated_database_url)))
    tenancy = await gateway.identity.create_tenancy("acme")
    admin = await gateway.identity.ensure_administrator("admin")
    token = (await gateway.identity.create_api_key("admin", owner_user_id=admin.id)).token
    await gateway.start()
    try:
        application = TenantgateApp(gateway)
        events = RecordingEvents()
        application.admin = AdminApi(gateway, events=events)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield InProcess(http, events, token, tenancy.id)
    finally:
        await gateway.stop()


async def test_an_administrator_change_cites_the_built_in_statement(app):
    made = (await app.call("POST", "/admin/v1/compartments", json={"name": "A"})).json()
    assert app.events.changes == [("admin", "iam.compartment.create", "compartment", made["id"], app.root_id,
                                   ("builtin:administrators",), {"name": "A", "parent_id": app.root_id})]


async def test_a_policy_granted_change_cites_its_statement_and_denials_are_reported(app):
    a = (await app.call("POST", "/admin/v1/compartments", json={"name": "A"})).json()
    b = (await app.call("POST", "/admin/v1/compartments", json={"name": "B"})).json()
    user = (await app.call("POST", "/admin/v1/users", json={"name": "alice"})).json()
    group = (await app.call("POST", "/admin/v1/groups", json={"name": "AAdmins"})).json()
    await app.call("PUT", f"/admin/v1/groups/{group['id']}/members/{user['id']}")
    policy = (await app.call("POST", "/admin/v1/policies", json={
        "name": "a", "text": "Allow group AAdmins to manage all-resources in compartment A"})).json()
    alice = (await app.call("POST", "/admin/v1/keys", json={"name": "k", "user_id": user["id"]})).json()["token"]
    app.events.changes.clear()

    child = await app.call("POST", "/admin/v1/compartments", alice, json={"name": "Child", "parent_id": a["id"]})
    assert child.status_code == 201
    (change,) = app.events.changes
    assert change[:2] == ("alice", "iam.compartment.create")
    assert change[5] == (f"{policy['id']}#1",)

    assert (await app.call("GET", f"/admin/v1/compartments/{b['id']}", alice)).status_code == 404
    assert (await app.call("PATCH", f"/admin/v1/compartments/{a['id']}", alice, json={"name": "X"})).status_code == 403
    assert app.events.denials == [
        ("alice", "iam.compartment.get", "not_visible", "compartment", b["id"], b["id"]),
        ("alice", "iam.compartment.update", "not_authorized", "compartment", a["id"], app.root_id),
    ]


async def test_self_service_is_cited_and_no_token_reaches_the_events(app):
    user = (await app.call("POST", "/admin/v1/users", json={"name": "bob"})).json()
    bob = (await app.call("POST", "/admin/v1/keys", json={"name": "k", "user_id": user["id"]})).json()["token"]
    minted = (await app.call("POST", "/admin/v1/keys", bob, json={"name": "mine", "user_id": user["id"]})).json()
    rotated = (await app.call("POST", f"/admin/v1/keys/{minted['id']}/rotate", bob, json={})).json()
    assert [c[5] for c in app.events.changes[-2:]] == [("builtin:self-service",)] * 2
    recorded = repr(app.events.changes)
    for token in (bob, minted["token"], rotated["token"]):
        assert token not in recorded
        assert token.split("_", 1)[1] not in recorded


async def test_callers_without_an_identity_key_are_reported(app):
    response = await app.http.get("/admin/v1/users", headers={"authorization": f"Bearer {STATIC_KEY}"})
    assert response.status_code == 403
    assert app.events.denials == [(None, "iam.user.list", "identity_required", "admin", None, None)]
    assert app.events.changes == []

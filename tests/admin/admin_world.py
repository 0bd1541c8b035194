"""The admin suite's world and helpers: what a real gateway process per engine is built with.

The tenancy is bootstrapped in the database as ``tenantgate init`` does, then everything
else is built through the admin API itself as the administrator:

    tenancy
    ├── A            AAdmins (alice): manage all-resources in compartment A
    │   └── Child    AKeyMgrs (carol): manage generative-ai-apikey in A, use chat-a only
    └── Bravo        BAdmins (bob-of-bravo): manage all-resources in compartment Bravo
        └── BravoInner
    GroupManagers (gina): manage groups in tenancy

Tests share the module's world, so they create what they change under unique names.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa

from tenantgate.iam import tables
from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database
from tenantgate.testing.gateway_process import RunningGateway

STATIC_KEY = "sk-static-admin-test"
DEAD_UPSTREAM = "http://127.0.0.1:9/v1"
MODELS = ("chat-a", "chat-b", "embed-a")
ERROR_FIELDS = {"message", "type", "param", "code"}


def gateway_config(database_url: str) -> dict[str, Any]:
    """A gateway with three models (never called: the upstream is a dead port) and a static key."""
    return {
        "local": {"enabled": False},
        "logging": {"level": "WARNING", "access_log": False},
        "storage": {"url": database_url},
        "auth": {"api_key_sha256": [hashlib.sha256(STATIC_KEY.encode()).hexdigest()],
                 "refresh_interval_ms": 60_000},
        "models": [
            {"name": name, "deployments": [{"provider": "openai", "model": "gpt-4o-mini",
                                            "base_url": DEAD_UPSTREAM, "region": "eu-frankfurt-1"}]}
            for name in MODELS
        ],
    }


def unique(prefix: str) -> str:
    """A name no other test of the module uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(base_url: str, token: str | None) -> httpx.Client:
    """An HTTP client sending ``token`` as the bearer key."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=15)


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of a response that must have ``status``."""
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """An OpenAI-shaped error with this status (and code); returns the error object."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == ERROR_FIELDS, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def bootstrap(database_url: str) -> str:
    """What ``tenantgate init`` does: the tenancy, the admin user, their key (returned once)."""

    async def work() -> str:
        db = Database.open(database_url, pool_size=1)
        try:
            store = IdentityStore(db, clock=lambda: datetime.now(UTC))
            await store.create_tenancy("acme")
            admin = await store.ensure_administrator("admin")
            return (await store.create_api_key("admin", owner_user_id=admin.id)).token
        finally:
            await db.dispose()

    return asyncio.run(work())


def stored_text(database_url: str) -> str:
    """Every identity row as text, to check that no token was ever stored."""

    async def work() -> str:
        db = Database.open(database_url, pool_size=1)
        try:
            async with db.read() as conn:
                rows = []
                for table in (tables.api_keys, tables.api_key_secrets, tables.users, tables.groups,
                              tables.compartments, tables.policies):
                    rows += [repr(tuple(row)) for row in await conn.execute(sa.select(table))]
            return "\n".join(rows)
        finally:
            await db.dispose()

    return asyncio.run(work())


@dataclass
class World:
    """The module's gateway, its tokens and the ids of what was built (see ``build``)."""

    gateway: RunningGateway
    database_url: str
    admin_token: str
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.gateway.base_url

    def as_admin(self) -> httpx.Client:
        return client(self.base_url, self.admin_token)

    def as_user(self, name: str) -> httpx.Client:
        return client(self.base_url, self.tokens[name])

    @property
    def bravo_secrets(self) -> list[str]:
        """Ids and names that belong to Bravo's side: none may ever reach alice."""
        keys = ("Bravo", "BravoInner", "bob", "BAdmins", "bravo_policy", "bravo_key", "bob_key")
        return [self.ids[k] for k in keys] + ["Bravo", "bravo-only", "BAdmins", "bob-of-bravo"]


def build(world: World) -> None:
    """Build the world of the module docstring through the admin API, as the administrator."""
    ids = world.ids
    with world.as_admin() as admin:
        root = ok(admin.get("/admin/v1/compartments"))["data"][0]
        assert root["path"] == ""
        ids["root"] = root["id"]
        for name, parent in (("A", "root"), ("Child", "A"), ("Bravo", "root"), ("BravoInner", "Bravo")):
            ids[name] = ok(admin.post("/admin/v1/compartments",
                                      json={"name": name, "parent_id": ids[parent]}), 201)["id"]
        groups = ok(admin.get("/admin/v1/groups"))["data"]
        ids["Administrators"] = next(g["id"] for g in groups if g["built_in"])
        for user, group in (("alice", "AAdmins"), ("bob", "BAdmins"), ("carol", "AKeyMgrs"),
                            ("gina", "GroupManagers")):
            name = "bob-of-bravo" if user == "bob" else user
            ids[user] = ok(admin.post("/admin/v1/users", json={"name": name}), 201)["id"]
            ids[group] = ok(admin.post("/admin/v1/groups", json={"name": group}), 201)["id"]
            ok(admin.put(f"/admin/v1/groups/{ids[group]}/members/{ids[user]}"))
        root_policy = (
            "Allow group AAdmins to manage all-resources in compartment A\n"
            "Allow group BAdmins to manage all-resources in compartment Bravo\n"
            "Allow group AKeyMgrs to manage generative-ai-apikey in compartment A\n"
            "Allow group AKeyMgrs to use generative-ai-chat in compartment A where request.model = 'chat-a'\n"
            "Allow group GroupManagers to manage groups in tenancy\n"
        )
        ids["root_policy"] = ok(admin.post("/admin/v1/policies", json={
            "name": "grants", "text": root_policy, "compartment_id": ids["root"]}), 201)["id"]
        ids["bravo_policy"] = ok(admin.post("/admin/v1/policies", json={
            "name": "bravo-only", "compartment_id": ids["Bravo"],
            "text": "Allow group BAdmins to use generative-ai-chat in compartment Bravo"}), 201)["id"]
        for user, project in (("alice", "A"), ("bob", "Bravo"), ("carol", "A"), ("gina", None)):
            body = {"name": f"{user}-key", "user_id": ids[user]}
            if project is not None:
                body["compartment_id"] = ids[project]
            minted = ok(admin.post("/admin/v1/keys", json=body), 201)
            world.tokens[user], ids[f"{user}_key"] = minted["token"], minted["id"]
        bravo_key = ok(admin.post("/admin/v1/keys", json={
            "name": "bravo-service", "compartment_id": ids["Bravo"], "allowed_models": ["chat-b"]}), 201)
        ids["bravo_key"] = bravo_key["id"]

"""The tenancy and gateways the rate-card suite runs against, seeded straight into the database.

An administrator (every grant), "reader" (``read credits-family in tenancy``) and "nobody"
(no grant), one large commitment, and two gateway replicas on the same database with
credits on and a short rate-card refresh, so an entry added through one replica's admin API
must reach the other by polling. ``chat`` is priced in the settings file; the suite's other
models are priced only through the API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from tenantgate.credits.commitments import CommitmentKind
from tenantgate.credits.store import CreditStore
from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database
from tenantgate.testing import FakeUpstream
from tenantgate.testing.database_access import run_on

T = TypeVar("T")
UPSTREAM_KEY = "sk-rate-card"
UPSTREAM_KEY_ENV = "TG_RATE_CARD_UPSTREAM_KEY"
REFRESH_S = 0.5
CONFIG_PRICES = ("1", "2")  # chat: credits per 1M input, output tokens
ERROR_FIELDS = {"message", "type", "param", "code"}


@dataclass
class World:
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        return run_on(self.url, work)



def gateway_config(world: World, fake: FakeUpstream) -> dict[str, Any]:
    def model(name: str) -> dict[str, Any]:
        return {"name": name, "deployments": [{
            "provider": "openai", "base_url": fake.openai_base_url, "model": "gpt-4o-mini",
            "credential_env": UPSTREAM_KEY_ENV, "region": "eu-test-1"}]}

    return {
        "storage": {"url": world.url},
        "models": [model("chat"), model("other")],
        "local": {"enabled": False},
        "credits": {"enabled": True, "commit_linger_ms": 2, "rate_card_refresh_s": REFRESH_S,
                    "rate_card": [{"model": "chat", "input_per_1m": CONFIG_PRICES[0],
                                   "output_per_1m": CONFIG_PRICES[1]}]},
        "logging": {"access_log": False, "level": "WARNING"},
        "auth": {"refresh_interval_ms": 60_000},
    }


def seed(url: str) -> World:
    world = World(url)
    world.run(lambda db: _seed(db, world))
    return world


async def _seed(db: Database, world: World) -> None:
    now = datetime.now(UTC)
    iam = IdentityStore(db, clock=lambda: datetime.now(UTC))
    tenancy = await iam.create_tenancy("acme")
    world.ids["root"] = tenancy.id
    readers = await iam.create_group("Readers")
    await iam.save_policy("read-credits", "Allow group Readers to read credits-family in tenancy",
                          compartment_id=tenancy.id)
    for name in ("reader", "nobody"):
        user = await iam.create_user(name)
        world.ids[name] = user.id
        if name == "reader":
            await iam.add_member(readers.id, user.id)
        world.tokens[name] = (await iam.create_api_key(f"{name}-own", owner_user_id=user.id)).token
    admin = await iam.ensure_administrator("admin")
    world.ids["admin"] = admin.id
    world.tokens["admin"] = (await iam.create_api_key("admin", owner_user_id=admin.id)).token
    credits = CreditStore(db, clock=lambda: datetime.now(UTC))
    await credits.ensure_system_accounts()
    await credits.add_commitment(name="big", kind=CommitmentKind.ANNUAL, amount=10**12,
                                 starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=365))


def client(base_url: str, token: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=15)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def assert_error(response: httpx.Response, status: int, code: str | None = None,
                 param: str | None = None) -> dict[str, Any]:
    """An OpenAI-shaped error with this status (and code, and param); returns the error object."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == ERROR_FIELDS, body
    if code is not None:
        assert body["error"]["code"] == code, body
    if param is not None:
        assert body["error"]["param"] == param, body
    return body["error"]

"""The tenancy the authorization suite runs against, and the catalog its gateway serves.

acme (tenancy)
├── Finance          alice's key lives here; Analysts may chat with chat-small and embed
│   └── Risk         one service key, allowed by principal id
└── Marketing        Marketers may use anything, but only in eu-frankfurt-1

Every key the tests present is minted here, once per engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database
from tenantgate.testing import FakeUpstream

T = TypeVar("T")
UPSTREAM_KEY = "sk-authz-upstream"
UPSTREAM_KEY_ENV = "TG_AUTHZ_UPSTREAM_KEY"
US, EU = "us-ashburn-1", "eu-frankfurt-1"


@dataclass
class World:
    """Ids and tokens of the seeded tenancy (tokens exist only here, in test memory)."""

    url: str
    compartments: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)

    def run(self, work: Callable[[IdentityStore], Awaitable[T]]) -> T:
        """Run ``work`` on a store over the world's database, as another replica would."""
        import asyncio

        return asyncio.run(with_store(self.url, work))


async def with_store(url: str, work: Callable[[IdentityStore], Awaitable[T]]) -> T:
    return await with_store_db(url, lambda db: work(IdentityStore(db, clock=lambda: datetime.now(UTC))))


async def with_store_db(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    db = Database.open(url, pool_size=1)
    try:
        return await work(db)
    finally:
        await db.dispose()


def _deployment(fake: FakeUpstream, model: str, region: str) -> dict[str, Any]:
    return {"provider": "openai", "base_url": fake.openai_base_url, "model": model,
            "region": region, "credential_env": UPSTREAM_KEY_ENV}


def catalog(fake: FakeUpstream) -> list[dict[str, Any]]:
    """chat-small, chat-large, chat-geo (US first, then EU) and embed."""
    return [
        {"name": "chat-small", "deployments": [_deployment(fake, "gpt-4o-mini", US)]},
        {"name": "chat-large", "deployments": [_deployment(fake, "gpt-4o", US)]},
        {"name": "chat-geo", "deployments": [_deployment(fake, "gpt-4o-mini", US),
                                             _deployment(fake, "gpt-4o", EU)]},
        {"name": "embed", "deployments": [_deployment(fake, "text-embedding-3-small", US)]},
    ]


async def seed_world(url: str) -> World:
    world = World(url)
    await with_store(url, lambda store: _seed(store, world))
    return world


async def _seed(store: IdentityStore, world: World) -> None:
    tenancy = await store.create_tenancy("acme")
    root = tenancy.id
    finance = await store.create_compartment("Finance", parent_id=root)
    risk = await store.create_compartment("Risk", parent_id=finance.id)
    marketing = await store.create_compartment("Marketing", parent_id=root)
    world.compartments.update(root=root, Finance=finance.id, Risk=risk.id, Marketing=marketing.id)

    analysts = await store.create_group("Analysts")
    marketers = await store.create_group("Marketers")
    for name, group in (("alice", analysts.id), ("bob", None), ("carol", marketers.id)):
        user = await store.create_user(name)
        world.users[name] = user.id
        if group is not None:
            await store.add_member(group, user.id)

    async def mint(label: str, **options: Any) -> None:
        created = await store.create_api_key(label, **options)
        world.tokens[label], world.key_ids[label] = created.token, created.key.id

    alice, bob, carol = world.users["alice"], world.users["bob"], world.users["carol"]
    await mint("alice", owner_user_id=alice, compartment_id=finance.id)
    await mint("alice-tenancy", owner_user_id=alice)
    await mint("alice-narrow", owner_user_id=alice, compartment_id=finance.id, allowed_models=["chat-large"])
    await mint("alice-office", owner_user_id=alice, compartment_id=finance.id, allowed_ip_ranges=["10.0.0.0/8"])
    await mint("alice-expired", owner_user_id=alice, compartment_id=finance.id,
               expires_at=datetime.now(UTC) - timedelta(minutes=1))
    await mint("alice-revoked", owner_user_id=alice, compartment_id=finance.id)
    await store.revoke_api_key(world.key_ids["alice-revoked"])
    await mint("alice-rotating", owner_user_id=alice, compartment_id=finance.id)
    rotated = await store.rotate_api_key(world.key_ids["alice-rotating"])
    world.tokens["alice-rotating-2"] = rotated.token
    await mint("bob", owner_user_id=bob, compartment_id=finance.id)
    await mint("carol", owner_user_id=carol, compartment_id=marketing.id)
    await mint("risk-service", owner_compartment_id=risk.id)
    await mint("risk-other-service", owner_compartment_id=risk.id)

    policies = {
        "analysts": (root, "Allow group Analysts to use generative-ai-chat in compartment Finance "
                           "where request.model = 'chat-small'\n"
                           "Allow group Analysts to use generative-ai-embedding in compartment Finance "
                           "where request.model = 'embed'"),
        "marketers": (root, "Allow group Marketers to use generative-ai-family in compartment "
                                    f"Marketing where request.region = '{EU}'"),
        "risk-service": (finance.id, "Allow any-user to use generative-ai-family in compartment Risk "
                                     "where ALL {request.principal.type = 'generativeaiapikey', "
                                     f"request.principal.id = '{world.key_ids['risk-service']}'}}"),
    }
    for name, (compartment_id, text) in policies.items():
        policy = await store.save_policy(name, text, compartment_id=compartment_id)
        world.policies[name] = policy.id

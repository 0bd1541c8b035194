"""The tenancy and catalog of the routing end-to-end suite.

acme (tenancy)
└── Finance          ``finance`` service key: unconstrained
    ├── EU           ``eu`` service key: pinned to residency eu
    └── Strict       ``strict`` service key: no model fallback

``Allow any-user to use generative-ai-chat in tenancy`` lets every key chat; only the
administrator may inspect deployments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway_harness import UPSTREAM_KEY_ENV

from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database, upgrade_to_head
from tenantgate.testing import FakeUpstream

REPLY = "Hello! You said: hi there"
SMALL_TIMEOUTS = {"first_byte_timeout_ms": 500, "idle_timeout_ms": 500, "total_timeout_ms": 5000}
ATTEMPTS_MAX = 3
ROUTING: dict[str, Any] = {
    "breaker": {"min_requests": 4, "failure_ratio": 0.5, "cooldown_s": 60},
    "retry": {"attempts_max": ATTEMPTS_MAX, "same_deployment_retries": 1, "retry_after_max_s": 3,
              "backoff_base_ms": 20, "backoff_max_ms": 100},
    "latency": {"tie_ms": 60, "explore_ratio": 0.1},
    "compartments": [{"compartment": "Finance/EU", "residency": ["eu"]},
                     {"compartment": "Finance:Strict", "allow_model_fallback": False}],
}
MATRIX_CASES = ("429-retry-after", "429", "500-once", "503-persistent", "reset", "no-response",
                "slow-first-token", "cut", "stall-mid", "flapping", "all-down")


def up(fake: FakeUpstream, model: str, **fields: Any) -> dict[str, Any]:
    """An OpenAI deployment of the fake serving upstream ``model``."""
    return {"provider": "openai", "base_url": fake.openai_base_url, "model": model,
            "credential_env": UPSTREAM_KEY_ENV, **fields}


def catalog(fake: FakeUpstream, us: FakeUpstream) -> list[dict[str, Any]]:
    """One model per fault case, plus the residency, fallback, weighted and latency models.

    ``geo``'s US deployment is served by its own fake (``us``), the EU ones by ``fake``.
    """
    models: list[dict[str, Any]] = [
        {"name": f"matrix-{case}", "deployments": [
            up(fake, f"primary-{case}", timeouts=SMALL_TIMEOUTS),
            up(fake, f"secondary-{case}", timeouts=SMALL_TIMEOUTS)]}
        for case in MATRIX_CASES
    ]
    models += [
        {"name": "solo", "deployments": [up(fake, "solo-up")]},
        {"name": "geo", "deployments": [
            up(us, "geo-us", region="us-east-1", cloud="aws", residency=["us"]),
            up(fake, "geo-eu1", region="eu-frankfurt-1", cloud="oci", residency=["eu"]),
            up(fake, "geo-eu2", region="westeurope", cloud="azure", residency=["eu", "sovereign"],
               capacity_class="dedicated", throughput_tokens_per_min=200_000)]},
        {"name": "fb-primary", "deployments": [up(fake, "fb-a")],
         "routing": {"fallbacks": ["fb-backup"], "same_deployment_retries": 0}},
        {"name": "fb-backup", "deployments": [up(fake, "fb-b")]},
        {"name": "weighted", "routing": {"strategy": "weighted"},
         "deployments": [up(fake, "w-a", weight=3), up(fake, "w-b", weight=1)]},
        {"name": "fastest", "routing": {"strategy": ["least_latency", "priority"]},
         "deployments": [up(fake, "l-a"), up(fake, "l-b")]},
    ]
    return models


async def seed(url: str) -> dict[str, str]:
    """Migrate the database and create the tenancy; returns the keys' tokens by name."""
    db = Database.open(url, pool_size=1)
    try:
        await upgrade_to_head(db.engine)
        store = IdentityStore(db, clock=lambda: datetime.now(UTC))
        root = (await store.create_tenancy("acme")).id
        finance = await store.create_compartment("Finance", parent_id=root)
        eu = await store.create_compartment("EU", parent_id=finance.id)
        strict = await store.create_compartment("Strict", parent_id=finance.id)
        await store.save_policy("chat", "Allow any-user to use generative-ai-chat in tenancy",
                                compartment_id=root)
        admin = await store.ensure_administrator("root")
        dave = await store.create_user("dave")
        tokens = {}
        for name, options in (("finance", {"owner_compartment_id": finance.id}),
                              ("eu", {"owner_compartment_id": eu.id}),
                              ("strict", {"owner_compartment_id": strict.id}),
                              ("admin", {"owner_user_id": admin.id}),
                              ("dave", {"owner_user_id": dave.id})):
            tokens[name] = (await store.create_api_key(name, **options)).token
        return tokens
    finally:
        await db.dispose()

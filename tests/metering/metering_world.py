"""The tenancy and catalog the metering suite runs against, seeded straight into the database.

One user (alice, in Analysts, allowed to chat in compartment Team) with a key whose monthly
budget covers exactly ``ADMITTED`` requests at their maximum cost, and one commitment far
larger than that. Prices make a hold exact: prompt tokens are free and every output token
costs one micro-credit, and the fake upstream always writes the full ``max_tokens``, so
each admitted request costs exactly its hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from tenantgate.credits.accounts import Period
from tenantgate.credits.commitments import CommitmentKind
from tenantgate.credits.store import CreditStore
from tenantgate.credits.usage_table import usage_records
from tenantgate.iam.store import IdentityStore
from tenantgate.ledger import LedgerStore
from tenantgate.storage import Database
from tenantgate.testing import FakeUpstream
from tenantgate.testing.database_access import rows_of, run_on

T = TypeVar("T")
UPSTREAM_KEY = "sk-metering"
UPSTREAM_KEY_ENV = "TG_METERING_UPSTREAM_KEY"
MAX_TOKENS = 10
HOLD = MAX_TOKENS  # micro-credits: 1 per output token, prompts free
ADMITTED = 100
TRAIL_LIMIT = 1_000_000  # micro-credits: one credit, far more than the trail test spends
PROMPT = [{"role": "user", "content": " ".join(f"word{i}" for i in range(40))}]


@dataclass
class World:
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        return run_on(self.url, work)

    def ledger(self, work: Callable[[LedgerStore], Awaitable[T]]) -> T:
        return self.run(lambda db: work(LedgerStore(db, clock=lambda: datetime.now(UTC))))

    def records(self, **equal: Any) -> list[Any]:
        """The usage records whose columns equal ``equal`` (e.g. ``key_id=..., status="billed"``)."""
        query = sa.select(usage_records).where(*(usage_records.c[k] == v for k, v in equal.items()))
        return rows_of(self.url, query)

    def posted(self, account: str) -> int:
        """What ``account`` has paid so far (its posted debits)."""
        found = self.ledger(lambda ledger: ledger.lookup_accounts([account]))
        return found[0].balance.debits_posted if found else 0




def catalog(fake: FakeUpstream) -> list[dict[str, Any]]:
    def deployment(model: str) -> dict[str, Any]:
        return {"provider": "openai", "base_url": fake.openai_base_url, "model": model,
                "credential_env": UPSTREAM_KEY_ENV}

    return [
        {"name": "metered", "deployments": [deployment("gpt-4o-mini")]},
        {"name": "metered-no-usage", "deployments": [deployment("fault-missing-usage")]},
        {"name": "metered-stall", "deployments": [deployment("fault-stall-60")]},
        {"name": "metered-broken", "deployments": [deployment("fault-503")]},
    ]


def credits_settings(**extra: Any) -> dict[str, Any]:
    rates = [{"model": name, "input_per_1m": "0", "output_per_1m": "1"}
             for name in ("metered", "metered-no-usage", "metered-stall", "metered-broken")]
    return {"enabled": True, "rate_card": rates, "commit_linger_ms": 2, **extra}


def seed(url: str) -> World:
    world = World(url)
    world.run(lambda db: _seed(db, world))
    return world


async def _seed(db: Database, world: World) -> None:
    now = datetime.now(UTC)
    identity = IdentityStore(db, clock=lambda: datetime.now(UTC))
    tenancy = await identity.create_tenancy("acme")
    team = await identity.create_compartment("Team", parent_id=tenancy.id)
    group = await identity.create_group("Analysts")
    user = await identity.create_user("alice")
    await identity.add_member(group.id, user.id)
    await identity.save_policy("chat", "Allow group Analysts to use generative-ai-chat in compartment Team",
                               compartment_id=tenancy.id)
    for label in ("budgeted", "streams", "crash", "trail"):
        created = await identity.create_api_key(label, owner_user_id=user.id, compartment_id=team.id)
        world.tokens[label], world.ids[label] = created.token, created.key.id
    credits = CreditStore(db, clock=lambda: datetime.now(UTC))
    await credits.ensure_system_accounts()
    commitment = await credits.add_commitment(
        name="annual", kind=CommitmentKind.ANNUAL, amount=10**12, starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=365))
    world.ids["commitment_account"] = commitment.account_id
    budget = await credits.set_budget(scope_type="key", scope_id=world.ids["budgeted"], period=Period.MONTHLY,
                                      limit=ADMITTED * HOLD, name="exactly-100")
    world.ids["budget"] = budget.id
    await credits.set_budget(scope_type="key", scope_id=world.ids["trail"], period=Period.MONTHLY,
                             limit=TRAIL_LIMIT, name="roomy")
    world.ids["team"] = team.id


def gateway_config(world: World, upstream: FakeUpstream, **credits: Any) -> dict[str, Any]:
    return {
        "storage": {"url": world.url},
        "models": catalog(upstream),
        "local": {"enabled": False},
        "credits": credits_settings(**credits),
        "logging": {"access_log": False},
    }

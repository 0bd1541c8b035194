"""The tenancy, credits and catalog the end-to-end idempotency suite runs against.

Two users (alice and bob, both Analysts, allowed every inference family in compartment Team)
with one key each, and one commitment large enough for the whole suite, so every answered
request is held and settled against it: a charge is a billed usage record, booked together
with the ledger post that pays it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from tenantgate.credits.commitments import CommitmentKind
from tenantgate.credits.store import CreditStore
from tenantgate.credits.usage_table import usage_records
from tenantgate.iam.store import IdentityStore
from tenantgate.ledger import LedgerStore
from tenantgate.storage import Database
from tenantgate.testing import FakeUpstream
from tenantgate.testing.database_access import rows_of, run_on

T = TypeVar("T")
UPSTREAM_KEY = "sk-idempotency"
UPSTREAM_KEY_ENV = "TG_IDEMPOTENCY_UPSTREAM_KEY"
MODELS = {
    "chat": "gpt-4o-mini",
    "chat-slow": "fault-stall-1",  # one second before the upstream answers: retries arrive in flight
    "chat-cut": "fault-cut-2",  # the stream breaks after two chunks
    "embed": "text-embedding-3-small",
}


@dataclass
class World:
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        return run_on(self.url, work)

    def charges(self, request_ids: set[str]) -> list[Any]:
        """Charged requests (billed usage records, booked with their ledger posts) among ``request_ids``."""
        query = sa.select(usage_records).where(
            usage_records.c.status == "billed", usage_records.c.request_id.in_(request_ids))
        return rows_of(self.url, query)

    def pending(self) -> list[Any]:
        return self.run(lambda db: LedgerStore(db, clock=lambda: datetime.now(UTC)).pending_transfers())




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
    await identity.save_policy("inference", "Allow group Analysts to use generative-ai-family in compartment Team",
                               compartment_id=tenancy.id)
    for name in ("alice", "bob"):
        user = await identity.create_user(name)
        await identity.add_member(group.id, user.id)
        created = await identity.create_api_key(name, owner_user_id=user.id, compartment_id=team.id)
        world.tokens[name] = created.token
    credits = CreditStore(db, clock=lambda: datetime.now(UTC))
    await credits.ensure_system_accounts()
    commitment = await credits.add_commitment(
        name="annual", kind=CommitmentKind.ANNUAL, amount=10**12, starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=365))
    world.ids["commitment_account"] = commitment.account_id


def gateway_config(world: World, upstream: FakeUpstream) -> dict[str, Any]:
    catalog = [{"name": name, "deployments": [{"provider": "openai", "base_url": upstream.openai_base_url,
                                               "model": model, "credential_env": UPSTREAM_KEY_ENV}]}
               for name, model in MODELS.items()]
    rates = [{"model": name, "input_per_1m": "1", "output_per_1m": "1"} for name in MODELS]
    return {
        "storage": {"url": world.url},
        "models": catalog,
        "local": {"enabled": False},
        "credits": {"enabled": True, "rate_card": rates, "commit_linger_ms": 2},
        "logging": {"access_log": False},
    }

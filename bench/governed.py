"""The governed profile: the hot path as an enterprise runs it, every step on.

The shipped defaults (no tenancy yet: the loopback quickstart answers anyone, no credits)
measure the proxy itself. A company's gateway also authenticates an API key, evaluates its
policies, admits the call against a rate limit, holds credits against a commitment and a
compartment budget, settles the answer and writes its usage record. This profile seeds
that world in the gateway's database and configures the rest:

acme (tenancy)
└── Finance            monthly budget; ``ana``'s key acts here
group Analysts = {ana}
Allow group Analysts to use generative-ai-chat in compartment Finance
    where request.model = 'gpt-4o-mini'
rate limit: 1,000,000 requests/min per key (never refuses; it is charged on every call)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import stack
from tenantgate.credits.accounts import Period
from tenantgate.credits.commitments import CommitmentKind
from tenantgate.credits.store import CreditStore
from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database, upgrade_to_head

POLICY = ("Allow group Analysts to use generative-ai-chat in compartment Finance "
          f"where request.model = '{stack.REMOTE_MODEL}'")
NO_RUN_EXHAUSTS = 10**15
"""Micro-credits in the commitment and the budget: far more than any bounded run spends."""
CREDITS_ON = {"enabled": True, "rate_card": [
    {"model": stack.REMOTE_MODEL, "input_per_1m": "0.15", "output_per_1m": "0.60"}]}
"""The credits section of every metered bench gateway: on, with the bench model priced."""


def sqlite_url(workdir: Path) -> str:
    """The default: a SQLite file in the run's own folder, new each run."""
    return f"sqlite+aiosqlite:///{workdir / 'governed.db'}"


def config(fake: stack.FakeProcess, database_url: str) -> dict[str, Any]:
    """The shipped defaults plus credits (a rate card) and one rate-limit rule."""
    settings = stack.gateway_config(fake)
    settings["storage"] = {"url": database_url}
    settings["credits"] = CREDITS_ON
    settings["rate_limits"] = {"rules": [{"scope": "key", "requests_per_minute": 1_000_000}]}
    return settings


def seed(database_url: str) -> str:
    """Create the tenancy, policy, commitment and budget in an empty database; returns
    ``ana``'s API key."""
    return asyncio.run(_seed(database_url))


async def fund(credits: CreditStore) -> None:
    """The ledger's system accounts and a commitment no bounded run can exhaust."""
    now = datetime.now(UTC)
    await credits.ensure_system_accounts()
    await credits.add_commitment(name="bench", kind=CommitmentKind.ANNUAL, amount=NO_RUN_EXHAUSTS,
                                 starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30))


async def _seed(url: str) -> str:
    await upgrade_to_head(url)
    db = Database.open(url, pool_size=1)
    try:
        identity = IdentityStore(db, clock=lambda: datetime.now(UTC))
        root = (await identity.create_tenancy("acme")).id
        finance = await identity.create_compartment("Finance", parent_id=root)
        analysts = await identity.create_group("Analysts")
        ana = await identity.create_user("ana")
        await identity.add_member(analysts.id, ana.id)
        await identity.save_policy("analysts-chat", POLICY, compartment_id=root)
        key = await identity.create_api_key("ana-bench", owner_user_id=ana.id, compartment_id=finance.id)
        credits = CreditStore(db, clock=lambda: datetime.now(UTC))
        await fund(credits)
        await credits.set_budget(scope_type="compartment", scope_id=finance.id, period=Period.MONTHLY,
                                 limit=NO_RUN_EXHAUSTS, name="finance-monthly")
        return key.token
    finally:
        await db.dispose()

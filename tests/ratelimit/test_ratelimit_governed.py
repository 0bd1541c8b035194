"""User and compartment limits with real IAM keys: the compartment is the one the pipeline resolves.

acme
└── Finance          bob's key; a limit of 5 requests/min on Finance and everything under it
    └── Risk         alice's two keys; alice has 3 requests/min whichever key she uses
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from ratelimit_gateways import ENV, models

from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database, upgrade_to_head
from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, run_gateway

HI = [{"role": "user", "content": "hello"}]


async def _seed(url: str) -> dict[str, str]:
    db = Database.open(url, pool_size=1)
    try:
        await upgrade_to_head(db.engine)
        store = IdentityStore(db, clock=lambda: datetime.now(UTC))
        tenancy = await store.create_tenancy("acme")
        finance = await store.create_compartment("Finance", parent_id=tenancy.id)
        risk = await store.create_compartment("Risk", parent_id=finance.id)
        group = await store.create_group("Analysts")
        tokens: dict[str, str] = {}
        for user_name, keys, home in (("alice", ("alice-1", "alice-2"), risk), ("bob", ("bob-1",), finance)):
            user = await store.create_user(user_name)
            await store.add_member(group.id, user.id)
            for key in keys:
                created = await store.create_api_key(key, owner_user_id=user.id, compartment_id=home.id)
                tokens[key] = created.token
        await store.save_policy("chat", "Allow group Analysts to use generative-ai-chat in compartment Finance",
                                compartment_id=tenancy.id)
        return tokens
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def tokens_and_gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, str], RunningGateway]]:
    workdir: Path = tmp_path_factory.mktemp("governed")
    url = f"sqlite+aiosqlite:///{workdir / 'tenantgate.db'}"
    tokens = asyncio.run(_seed(url))
    config = {
        "storage": {"url": url}, "local": {"enabled": False},
        "logging": {"level": "WARNING", "access_log": False}, "models": models(upstream),
        "rate_limits": {"rules": [
            {"scope": "user", "requests_per_minute": 3},
            {"scope": "compartment", "match": "Finance", "requests_per_minute": 5},
        ]},
    }
    with run_gateway(config, env=ENV, workdir=workdir) as gateway:
        yield tokens, gateway


def test_a_user_limit_spans_their_keys_and_a_compartment_limit_spans_its_subtree(
    tokens_and_gateway: tuple[dict[str, str], RunningGateway], fake: FakeUpstream,
):
    tokens, gateway = tokens_and_gateway

    def call(key: str) -> httpx.Response:
        return httpx.post(f"{gateway.base_url}/v1/chat/completions", timeout=15,
                          headers={"authorization": f"Bearer {tokens[key]}"},
                          json={"model": "chat", "messages": HI, "max_tokens": 3})

    alice = [call("alice-1"), call("alice-2"), call("alice-1"), call("alice-2")]
    assert [a.status_code for a in alice] == [200, 200, 200, 429], [a.text for a in alice]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in alice] == ["2", "1", "0", "0"]
    assert "for user " in alice[3].json()["error"]["message"]
    bob = [call("bob-1"), call("bob-1"), call("bob-1")]  # Finance has 5: alice's 3 in Risk count too
    assert [b.status_code for b in bob] == [200, 200, 429], [b.text for b in bob]
    assert [b.headers["x-ratelimit-remaining-requests"] for b in bob] == ["1", "0", "0"]
    assert "for compartment " in bob[2].json()["error"]["message"]
    assert len([r for r in fake.received if r.path.endswith("/chat/completions")]) == 5

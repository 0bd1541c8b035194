"""A model fallback is charged once, at the price of the model that answered."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from metering_world import MAX_TOKENS, UPSTREAM_KEY, UPSTREAM_KEY_ENV, World, gateway_config
from test_metered_gateway import body, eventually, pending, violations

from tenantgate.credits.usage_table import usage_records
from tenantgate.testing import FakeUpstream, Fault
from tenantgate.testing.gateway_process import RunningGateway, run_gateway


@pytest.fixture(scope="module")
def gateway(world: World, upstream: FakeUpstream) -> Iterator[RunningGateway]:
    """The suite's gateway plus a model that falls back to a dearer one (3 credits per output token)."""
    config = gateway_config(world, upstream)
    deployment = {"provider": "openai", "base_url": upstream.openai_base_url, "credential_env": UPSTREAM_KEY_ENV}
    config["models"] += [
        {"name": "metered-fb", "deployments": [{**deployment, "model": "fb-primary-up"}],
         "routing": {"fallbacks": ["metered-fb-backup"]}},
        {"name": "metered-fb-backup", "deployments": [{**deployment, "model": "gpt-4o"}]},
    ]
    config["credits"]["rate_card"] += [
        {"model": "metered-fb", "input_per_1m": "0", "output_per_1m": "1"},
        {"model": "metered-fb-backup", "input_per_1m": "0", "output_per_1m": "3"},
    ]
    with run_gateway(config, env={UPSTREAM_KEY_ENV: UPSTREAM_KEY}) as running:
        yield running


def _records(world: World, request_id: str) -> list[tuple[str, str, int]]:
    async def read(db) -> list[tuple[str, str, int]]:
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(usage_records.c.status, usage_records.c.model, usage_records.c.cost_micros)
                .where(usage_records.c.request_id == request_id))
            return sorted((row.status, row.model, row.cost_micros) for row in rows)

    return world.run(read)


def test_a_fallback_releases_the_first_models_hold_and_charges_the_fallbacks_price_once(
    gateway: RunningGateway, world: World, fake: FakeUpstream
):
    fake.enqueue(Fault(kind="status", status=503, model="fb-primary-up", times=10))
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"{gateway.base_url}/v1/chat/completions", json=body("metered-fb"),
                             headers={"authorization": f"Bearer {world.tokens['streams']}",
                                      "x-request-id": "req_fallback_1"})
    assert answer.status_code == 200, answer.text
    assert [r.model for r in fake.received] == ["fb-primary-up", "gpt-4o"]

    def charged_once_at_the_fallback_price() -> None:
        assert _records(world, "req_fallback_1") == [
            ("billed", "metered-fb-backup", 3 * MAX_TOKENS),  # the fallback's price: 3 per output token
            ("released", "metered-fb", 0),
        ]
        assert pending(world) == []

    eventually(charged_once_at_the_fallback_price)
    assert violations(world) == []

"""Failed attempts the upstream took on are booked to a provider cost account, never to the caller.

A model with two deployments: the primary fails in ways an upstream may bill for (a 2xx
stream that breaks before its first chunk, a request sent and never answered in time) or
in ways it does not (a 503). The caller always gets the backup's complete answer and is
charged once, at the backup's price; the primary's accepted failures are booked as an
estimate from ``pc:<deployment>`` to ``tg:provider-bills``, and its 503 is not booked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import openai
import pytest
from metering_world import UPSTREAM_KEY, UPSTREAM_KEY_ENV, World, gateway_config
from test_metered_gateway import body, eventually, pending, violations

from tenantgate.credits.accounts import PROVIDER_BILLS, TransferCode
from tenantgate.iam.store import IdentityStore
from tenantgate.testing import FakeUpstream, Fault
from tenantgate.testing.gateway_process import RunningGateway, run_gateway

PRIMARY = "openai:absorb-primary-up#0"
BACKUP_UPSTREAM = "absorb-backup-up"


@pytest.fixture(scope="module")
def admin_token(world: World) -> str:
    async def make(db) -> str:
        identity = IdentityStore(db, clock=lambda: datetime.now(UTC))
        admin = await identity.ensure_administrator("root")
        return (await identity.create_api_key("ops", owner_user_id=admin.id)).token

    return world.run(make)


@pytest.fixture(scope="module")
def gateway(world: World, upstream: FakeUpstream) -> Iterator[RunningGateway]:
    """The suite's gateway plus ``metered-absorb``: a primary that gives up on its first byte
    after 0.4 s, then a backup. Prompts cost 1 micro-credit per token, output 1 per token."""
    config = gateway_config(world, upstream)
    deployment = {"provider": "openai", "base_url": upstream.openai_base_url, "credential_env": UPSTREAM_KEY_ENV}
    config["models"].append({"name": "metered-absorb", "deployments": [
        {**deployment, "model": "absorb-primary-up",
         "timeouts": {"first_byte_timeout_ms": 400, "idle_timeout_ms": 400}},
        {**deployment, "model": BACKUP_UPSTREAM},
    ]})
    config["credits"]["rate_card"].append({"model": "metered-absorb", "input_per_1m": "1", "output_per_1m": "1"})
    with run_gateway(config, env={UPSTREAM_KEY_ENV: UPSTREAM_KEY}) as running:
        yield running


def _client(gateway: RunningGateway, world: World) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=world.tokens["trail"], max_retries=0)


def _absorbed(world: World, request_id: str) -> list:
    """The provider cost transfers of one request's attempts."""
    records = world.ledger(lambda ledger: ledger.get_account_transfers(PROVIDER_BILLS, limit=10_000))
    return [r.transfer for r in records if r.transfer.id.startswith(f"pc:{request_id}-a")]


def _charged_once_at_the_backup(world: World, request_id: str) -> None:
    records = world.records(request_id=request_id)
    assert [r.status for r in records] == ["billed"]
    (record,) = records
    assert record.deployment == f"openai:{BACKUP_UPSTREAM}#1"
    assert record.cost_micros == record.prompt_tokens + record.completion_tokens  # the backup's price
    assert record.attempts[-1] == f"{request_id}-a2"


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_a_timed_out_attempt_is_absorbed_and_the_caller_pays_once(
    gateway: RunningGateway, world: World, fake: FakeUpstream, stream: bool
):
    request_id = f"req_absorb_stall_{stream}"
    fake.enqueue(Fault(kind="stall_before_headers", seconds=3.0, model="absorb-primary-up"))
    with _client(gateway, world) as client:
        if stream:
            chunks = list(client.chat.completions.create(
                **body("metered-absorb"), stream=True, extra_headers={"x-request-id": request_id}))
            assert chunks[-1].choices[0].finish_reason == "length"
        else:
            answer = client.chat.completions.create(**body("metered-absorb"),
                                                    extra_headers={"x-request-id": request_id})
            assert answer.choices[0].finish_reason == "length"
    assert [r.model for r in fake.received] == ["absorb-primary-up", BACKUP_UPSTREAM]

    def booked() -> None:
        _charged_once_at_the_backup(world, request_id)
        (transfer,) = _absorbed(world, request_id)
        assert transfer.id == f"pc:{request_id}-a1"
        assert (transfer.debit_account_id, transfer.credit_account_id) == (f"pc:{PRIMARY}", PROVIDER_BILLS)
        assert transfer.code == TransferCode.PROVIDER_COST
        assert transfer.user_data["error"] == "upstream_timeout"
        assert transfer.user_data["estimated"] is True
        assert transfer.amount == transfer.user_data["prompt_tokens"] > 0  # 1 micro-credit per prompt token

    eventually(booked)


def test_a_stream_that_breaks_before_its_first_chunk_is_absorbed(
    gateway: RunningGateway, world: World, fake: FakeUpstream
):
    request_id = "req_absorb_cut"
    fake.enqueue(Fault(kind="cut_stream_after", after_chunks=0, model="absorb-primary-up"))
    with _client(gateway, world) as client:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
            **body("metered-absorb"), stream=True, extra_headers={"x-request-id": request_id})
            if chunk.choices)
    assert text
    assert fake.received[0].fault == "cut_stream_after"

    def booked() -> None:
        _charged_once_at_the_backup(world, request_id)
        (transfer,) = _absorbed(world, request_id)
        assert transfer.debit_account_id == f"pc:{PRIMARY}"
        assert transfer.user_data["error"] == "upstream_unavailable"  # reset after its 2xx headers

    eventually(booked)


def test_an_attempt_the_upstream_refused_costs_nothing(gateway: RunningGateway, world: World, fake: FakeUpstream):
    request_id = "req_absorb_503"
    fake.enqueue(Fault(kind="status", status=503, model="absorb-primary-up"))
    with _client(gateway, world) as client:
        client.chat.completions.create(**body("metered-absorb"), extra_headers={"x-request-id": request_id})
    eventually(lambda: _charged_once_at_the_backup(world, request_id))
    assert _absorbed(world, request_id) == []


def test_the_ledger_balances_and_the_admin_api_shows_each_deployments_absorbed_cost(
    gateway: RunningGateway, world: World, fake: FakeUpstream, admin_token: str
):
    fake.enqueue(Fault(kind="stall_before_headers", seconds=3.0, model="absorb-primary-up"))
    with _client(gateway, world) as client:
        client.chat.completions.create(**body("metered-absorb"), extra_headers={"x-request-id": "req_absorb_sum"})

    def balanced() -> None:
        booked = world.ledger(lambda ledger: ledger.get_account_transfers(f"pc:{PRIMARY}", limit=10_000))
        assert len(booked) >= 1
        total = sum(r.transfer.amount for r in booked)
        bills = world.ledger(lambda ledger: ledger.lookup_accounts([PROVIDER_BILLS, f"pc:{PRIMARY}"]))
        assert [(a.balance.credits_posted, a.balance.debits_posted) for a in bills] == [(total, 0), (0, total)]
        with httpx.Client(timeout=30) as client:
            listed = client.get(f"{gateway.base_url}/admin/v1/deployments",
                                headers={"authorization": f"Bearer {admin_token}"})
        assert listed.status_code == 200, listed.text
        rows = {row["deployment"]: row for row in listed.json()["data"] if row["model"] == "metered-absorb"}
        assert rows[PRIMARY]["absorbed_cost"] == f"0.{total:06d}"
        assert rows[f"openai:{BACKUP_UPSTREAM}#1"]["absorbed_cost"] == "0.000000"
        assert pending(world) == []

    eventually(balanced)
    assert violations(world) == []
    commitment_paid = world.posted(world.ids["commitment_account"])
    assert commitment_paid == sum(r.cost_micros for r in world.records(status="billed"))  # callers paid no attempt

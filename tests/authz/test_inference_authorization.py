"""Every /v1 call is authenticated and decided by policies: through the SDK, a real gateway and database.

Denied calls never reach the upstream; a key or policy changed by another replica takes
effect within the refresh interval; a key minted elsewhere works on its first request.
"""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import openai
import pytest
from authz_world import EU, World

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway

HI = [{"role": "user", "content": "hi"}]
SQL_TOKENS = ["' OR '1'='1", "tg-aaaaaaaaaaaa1_' OR 1=1 --", "x'; DROP TABLE iam_api_keys; --"]


def sdk(gateway: RunningGateway, token: str, **options) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base_url, api_key=token, max_retries=0, timeout=10,
                         **options)


def chat(http: httpx.Client, token: str | None, model: str = "chat-small", **headers: str) -> httpx.Response:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return http.post("/v1/chat/completions", json={"model": model, "messages": HI}, headers=headers)


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def eventually(check, timeout_s: float = 5.0) -> None:
    """Poll ``check`` (a bounded loop): other replicas' changes arrive within the refresh interval."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# Authentication


def test_a_tenancy_makes_keys_required(http, fake: FakeUpstream):
    assert error_of(chat(http, None), 401)["code"] == "missing_api_key"
    assert error_of(http.get("/v1/models"), 401)["code"] == "missing_api_key"
    assert fake.received == []


@pytest.mark.parametrize("token", ["nonsense", "tg-aaaaaaaaaaaa1_" + "A" * 43, *SQL_TOKENS])
def test_unknown_malformed_and_injected_keys_get_401(http, fake: FakeUpstream, token):
    assert error_of(chat(http, token), 401)["code"] == "invalid_api_key"
    assert fake.received == []


def test_a_wrong_secret_for_a_real_key_id_is_refused_like_an_unknown_key(http, world: World):
    real = world.tokens["alice"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    assert error_of(chat(http, forged), 401) == error_of(chat(http, "tg-aaaaaaaaaaaa1_" + "A" * 43), 401)


def test_expired_and_revoked_keys_get_401_and_only_the_holder_learns_of_expiry(http, world: World):
    assert error_of(chat(http, world.tokens["alice-expired"]), 401)["code"] == "expired_api_key"
    assert error_of(chat(http, world.tokens["alice-revoked"]), 401)["code"] == "invalid_api_key"


def test_both_secrets_of_a_rotated_key_work_and_revoking_one_leaves_the_other(http, world: World):
    first, second = world.tokens["alice-rotating"], world.tokens["alice-rotating-2"]
    assert chat(http, first).status_code == 200
    assert chat(http, second).status_code == 200
    world.run(lambda store: store.revoke_api_key(world.key_ids["alice-rotating"], slot=1))
    eventually(lambda: error_of(chat(http, first), 401))
    assert chat(http, second).status_code == 200


def test_a_key_revoked_by_another_replica_stops_working_within_the_refresh_interval(http, world: World):
    created = world.run(lambda store: store.create_api_key(
        "short-lived", owner_user_id=world.users["alice"], compartment_id=world.compartments["Finance"]))
    assert chat(http, created.token).status_code == 200  # minted elsewhere, works at once
    world.run(lambda store: store.revoke_api_key(created.key.id))
    eventually(lambda: error_of(chat(http, created.token), 401))


# Authorization


def test_policy_allows_exactly_the_model_and_operation_it_names(gateway, world: World, fake: FakeUpstream):
    with sdk(gateway, world.tokens["alice"]) as client:
        reply = client.chat.completions.create(model="chat-small", messages=HI)
        assert reply.choices[0].message.content
        assert client.embeddings.create(model="embed", input="hi").data
        with pytest.raises(openai.PermissionDeniedError) as denied:
            client.chat.completions.create(model="chat-large", messages=HI)
    assert denied.value.status_code == 403
    assert denied.value.code == "model_not_authorized"
    assert "use generative-ai-chat" in denied.value.message
    assert [r.model for r in fake.received] == ["gpt-4o-mini", "text-embedding-3-small"]


def test_a_user_without_any_grant_is_denied_everything_and_sees_no_models(http, world: World, fake):
    bob = world.tokens["bob"]
    assert error_of(chat(http, bob), 403)["code"] == "model_not_authorized"
    models = http.get("/v1/models", headers={"authorization": f"Bearer {bob}"})
    assert models.status_code == 200
    assert models.json()["data"] == []
    assert fake.received == []


def test_the_models_list_shows_only_usable_models_and_hides_the_rest_as_missing(http, world: World):
    headers = {"authorization": f"Bearer {world.tokens['alice']}"}
    listed = {model["id"] for model in http.get("/v1/models", headers=headers).json()["data"]}
    assert listed == {"chat-small", "embed"}
    assert http.get("/v1/models/chat-small", headers=headers).status_code == 200
    hidden = http.get("/v1/models/chat-large", headers=headers)
    missing = http.get("/v1/models/no-such-model", headers=headers)
    assert error_of(hidden, 404)["code"] == error_of(missing, 404)["code"] == "model_not_found"


def test_a_compartment_header_moves_the_call_and_policies_follow(http, gateway, world: World):
    token = world.tokens["alice-tenancy"]  # its home is the tenancy, where Analysts have nothing
    assert error_of(chat(http, token), 403)["code"] == "model_not_authorized"
    assert chat(http, token, **{"x-tenantgate-compartment": "Finance"}).status_code == 200
    assert chat(http, token, **{"x-tenantgate-compartment": world.compartments["Finance"]}).status_code == 200
    with sdk(gateway, token, project=world.compartments["Finance"]) as client:  # OpenAI-Project
        assert client.chat.completions.create(model="chat-small", messages=HI).choices
    assert error_of(chat(http, token, **{"x-tenantgate-compartment": "Marketing"}), 403)


def test_an_unknown_compartment_is_refused_exactly_like_a_forbidden_one(http, world: World):
    token = world.tokens["alice-tenancy"]
    forbidden = error_of(chat(http, token, **{"x-tenantgate-compartment": "Marketing"}), 403)
    unknown = error_of(chat(http, token, **{"x-tenantgate-compartment": "Nowhere"}), 403)
    assert forbidden["code"] == unknown["code"]
    assert forbidden["message"].replace("Marketing", "X") == unknown["message"].replace("Nowhere", "X")


def test_a_policy_on_a_parent_reaches_the_child_but_not_a_sibling(http, world: World):
    token = world.tokens["alice-tenancy"]
    assert chat(http, token, **{"x-tenantgate-compartment": "Finance:Risk"}).status_code == 200
    assert chat(http, token, **{"x-tenantgate-compartment": "Marketing"}).status_code == 403


def test_a_region_condition_narrows_routing_instead_of_denying(http, world: World, fake: FakeUpstream):
    carol = world.tokens["carol"]
    listed = http.get("/v1/models", headers={"authorization": f"Bearer {carol}"}).json()["data"]
    assert {model["id"] for model in listed} == {"chat-geo"}
    answer = chat(http, carol, "chat-geo")
    assert answer.status_code == 200, answer.text
    assert [r.model for r in fake.received] == ["gpt-4o"]  # the EU deployment; US never called
    assert EU  # the policy names it


def test_service_keys_are_decided_as_themselves(http, world: World):
    assert chat(http, world.tokens["risk-service"]).status_code == 200
    assert error_of(chat(http, world.tokens["risk-other-service"]), 403)["code"] == "model_not_authorized"


def test_a_keys_own_scope_narrows_what_policies_grant(http, world: World, fake: FakeUpstream):
    narrow = world.tokens["alice-narrow"]
    assert error_of(chat(http, narrow, "chat-small"), 403)["code"] == "model_not_authorized"
    assert error_of(chat(http, narrow, "chat-large"), 403)["code"] == "model_not_authorized"
    assert error_of(chat(http, world.tokens["alice-office"]), 403)["code"] == "ip_not_allowed"
    assert fake.received == []


def test_removing_a_policy_statement_takes_effect_on_the_next_refresh(http, world: World):
    token = world.tokens["risk-service"]
    assert chat(http, token).status_code == 200
    world.run(lambda store: store.delete_policy(world.policies["risk-service"]))
    eventually(lambda: error_of(chat(http, token), 403))


# Audit


def _events(world: World, action: str | None):
    from authz_world import with_store_db

    from tenantgate.audit import AuditStore

    return asyncio.run(with_store_db(world.url, lambda db: AuditStore(db, clock=lambda: None).list_events(
        action=action, limit=1000)))


def test_every_denied_request_is_audited_with_who_what_and_the_request_id(http, world: World):
    denied = chat(http, world.tokens["bob"], "chat-large")
    unauthenticated = chat(http, "tg-aaaaaaaaaaaa1_" + "B" * 43)
    assert denied.status_code == 403
    assert unauthenticated.status_code == 401

    def audited() -> None:
        inference = {e.request_id: e for e in _events(world, "inference.denied")}
        event = inference.get(denied.headers["x-request-id"])
        assert event is not None
        assert (event.actor_type, event.actor_id, event.actor_name) == ("user", world.users["bob"], "bob")
        assert (event.target_type, event.target_id, event.outcome) == ("model", "chat-large", "denied")
        assert event.compartment_id == world.compartments["Finance"]
        assert event.details["key_id"] == world.key_ids["bob"]
        failed = {e.request_id: e for e in _events(world, "auth.failed")}
        assert failed[unauthenticated.headers["x-request-id"]].details["reason"] == "invalid_api_key"

    eventually(audited)
    assert world.tokens["bob"] not in repr(_events(world, None))


def test_metrics_show_the_identity_revision_and_audit_health(http):
    text = http.get("/metrics").text
    revision = re.search(r"^tenantgate_identity_revision (\S+)$", text, flags=re.M)
    assert revision is not None
    assert float(revision.group(1)) > 1
    assert re.search(r"^tenantgate_audit_dropped 0\.0$", text, flags=re.M)

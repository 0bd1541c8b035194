"""AccessControl against a real database (SQLite and PostgreSQL): snapshots, refresh, key use.

The pure rules are tested in test_inference_access.py; here: what a replica learns, when,
and what it writes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from tenantgate.errors import ExpiredApiKey, InvalidApiKey, MissingApiKey, PermissionDenied
from tenantgate.iam.access_control import AccessControl
from tenantgate.iam.denials import Denial
from tenantgate.iam.principal import Caller
from tenantgate.iam.store import IdentityStore
from tenantgate.settings import AuthSettings


@pytest.fixture
async def access(database, clock):
    denials: list[Denial] = []
    control = AccessControl(AuthSettings(refresh_interval_ms=50), database, clock=clock,
                            on_denied=denials.append)
    await control.start()
    control.denials = denials  # type: ignore[attr-defined]
    yield control
    await control.aclose()


async def test_before_any_tenancy_everyone_is_anonymous(database, clock):
    control = AccessControl(AuthSettings(), database, clock=clock)
    await control.start()
    try:
        assert not control.required
        assert (await control.authenticate(None)).type == "anonymous"
    finally:
        await control.aclose()


async def test_keys_are_required_once_the_tenancy_exists_and_failures_are_reported(store, access):
    assert access.required
    with pytest.raises(MissingApiKey):
        await access.authenticate(None, ip="127.0.0.1", request_id="req_1")
    [denial] = access.denials
    assert (denial.action, denial.reason, denial.ip, denial.request_id) == (
        "auth.failed", "missing_api_key", "127.0.0.1", "req_1")


async def test_a_user_key_authenticates_as_its_user_with_groups(store: IdentityStore, access):
    user = await store.create_user("alice")
    group = await store.create_group("Analysts")
    await store.add_member(group.id, user.id)
    created = await store.create_api_key("k", owner_user_id=user.id)
    principal = await access.authenticate(f"Bearer {created.token}")  # minted after start: found at once
    assert (principal.type, principal.id, principal.name, principal.key_id) == ("user", user.id, "alice",
                                                                                 created.key.id)
    assert principal.group_names == {"Analysts"}
    assert principal.governed
    assert principal.home_compartment_id == (await store.get_tenancy()).id


async def test_a_service_key_authenticates_as_itself_in_its_compartment(store: IdentityStore, access):
    root = (await store.get_tenancy()).id
    finance = await store.create_compartment("Finance", parent_id=root)
    created = await store.create_api_key("svc", owner_compartment_id=finance.id)
    principal = await access.authenticate(f"Bearer {created.token}")
    assert (principal.type, principal.id, principal.home_compartment_id) == ("apikey", created.key.id,
                                                                              finance.id)


async def test_expiry_is_checked_against_the_clock_without_a_reload(store: IdentityStore, access, clock):
    user = await store.create_user("alice")
    created = await store.create_api_key("k", owner_user_id=user.id,
                                         expires_at=clock.now + timedelta(minutes=5))
    await access.authenticate(f"Bearer {created.token}")
    clock.advance(minutes=10)
    with pytest.raises(ExpiredApiKey):
        await access.authenticate(f"Bearer {created.token}")


async def test_a_revocation_elsewhere_arrives_with_the_next_poll(store: IdentityStore, access):
    user = await store.create_user("alice")
    created = await store.create_api_key("k", owner_user_id=user.id)
    await access.authenticate(f"Bearer {created.token}")
    await store.revoke_api_key(created.key.id)
    deadline = time.monotonic() + 5
    while True:
        try:
            await access.authenticate(f"Bearer {created.token}")
        except InvalidApiKey:
            break
        assert time.monotonic() < deadline, "the revocation never arrived"
        await asyncio.sleep(0.02)


async def test_every_identity_write_moves_the_revision(store: IdentityStore):
    seen = [await store.revision()]
    root = (await store.get_tenancy()).id
    user = await store.create_user("u")
    group = await store.create_group("g")
    seen.append(await store.revision())
    await store.add_member(group.id, user.id)
    seen.append(await store.revision())
    created = await store.create_api_key("k", owner_user_id=user.id)
    seen.append(await store.revision())
    await store.rotate_api_key(created.key.id)
    seen.append(await store.revision())
    policy = await store.save_policy("p", "Allow group g to use generative-ai-chat in tenancy",
                                     compartment_id=root)
    seen.append(await store.revision())
    await store.delete_policy(policy.id)
    seen.append(await store.revision())
    assert seen == sorted(set(seen)), seen  # strictly increasing


async def test_a_flood_of_unknown_key_ids_costs_a_few_revision_reads(store, access, database):
    made_up = [f"Bearer tg-{chr(97 + i % 26) * 12}1_{'A' * 43}" for i in range(200)]
    reads = 0
    original = access._reload_if_changed

    async def counting() -> None:
        nonlocal reads
        reads += 1
        await original()

    access._reload_if_changed = counting
    started = time.monotonic()
    results = await asyncio.gather(*(access.authenticate(token) for token in made_up),
                                   return_exceptions=True)
    elapsed = time.monotonic() - started
    assert all(isinstance(result, InvalidApiKey) for result in results)
    assert reads <= 2 + elapsed / 0.05 * 2  # shared checks and polls, never one per request


async def test_key_use_is_recorded_off_the_hot_path_in_one_flush(store: IdentityStore, access, database):
    user = await store.create_user("alice")
    created = await store.create_api_key("k", owner_user_id=user.id)
    for _ in range(20):
        await access.authenticate(f"Bearer {created.token}")
    assert (await store.get_api_key(created.key.id)).last_used_at is None  # not yet written
    await access.aclose()
    assert (await store.get_api_key(created.key.id)).last_used_at is not None
    await access.start()  # the fixture closes it again


async def test_a_denied_inference_is_reported_with_the_compartment(store: IdentityStore, access):
    user = await store.create_user("alice")
    created = await store.create_api_key("k", owner_user_id=user.id)
    principal = await access.authenticate(f"Bearer {created.token}")
    with pytest.raises(PermissionDenied):
        access.authorize_inference(Caller(principal, request_id="req_9"), operation="chat",
                                   model="gpt-4o", regions=[None])
    denial = access.denials[-1]
    assert (denial.action, denial.reason, denial.principal_id, denial.request_id) == (
        "inference.denied", "model_not_authorized", user.id, "req_9")
    assert denial.details["compartment_id"] == (await store.get_tenancy()).id

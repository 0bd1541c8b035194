"""Every admin change and every refused admin call lands in the hash-chained audit trail.

Through the real gateway: the change's event names the actor, the target and the policy
statements that allowed it; a refusal names the reason; the chain verifies afterwards and
holds no secret.
"""

from __future__ import annotations

import asyncio
import time

from admin_world import World, ok, unique

from tenantgate.audit import AuditEvent, AuditStore
from tenantgate.storage import Database


def events(world: World) -> list[AuditEvent]:
    async def work() -> list[AuditEvent]:
        db = Database.open(world.database_url, pool_size=1)
        try:
            return await AuditStore(db, clock=lambda: None).list_events(limit=1000, newest_first=True)  # type: ignore[arg-type,return-value]
        finally:
            await db.dispose()

    return asyncio.run(work())


def verify(world: World):
    async def work():
        db = Database.open(world.database_url, pool_size=1)
        try:
            return await AuditStore(db, clock=lambda: None).verify()  # type: ignore[arg-type]
        finally:
            await db.dispose()

    return asyncio.run(work())


def test_a_change_is_audited_durably_before_the_call_answers(world: World):
    name = unique("audited")
    with world.as_user("alice") as alice:
        created = ok(alice.post("/admin/v1/compartments", json={"name": name, "parent_id": world.ids["A"]}), 201)
    found = [e for e in events(world) if e.target_id == created["id"]]
    assert len(found) == 1
    event = found[0]
    assert (event.action, event.outcome, event.actor_id, event.actor_name) == (
        "iam.compartment.create", "succeeded", world.ids["alice"], "alice")
    assert event.statement_ids  # the statement of the root policy that let AAdmins manage A
    assert all(s.startswith(world.ids["root_policy"]) for s in event.statement_ids)


def test_a_refused_call_is_audited_with_its_reason(world: World):
    with world.as_user("alice") as alice:
        refused = alice.delete(f"/admin/v1/compartments/{world.ids['Bravo']}")
    assert refused.status_code in (403, 404)
    request_id = refused.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while True:
        denied = [e for e in events(world) if e.request_id == request_id]
        if denied or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(denied) == 1
    assert (denied[0].outcome, denied[0].actor_id) == ("denied", world.ids["alice"])
    assert denied[0].details["reason"]


def test_the_chain_verifies_and_holds_no_secret(world: World):
    report = verify(world)
    assert report.ok, report.broken
    assert report.events_checked == len(events(world)) > 10
    text = repr(events(world))
    for token in (world.admin_token, *world.tokens.values()):
        assert token not in text
        assert token.split("_", 1)[1] not in text

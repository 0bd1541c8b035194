"""``/admin/v1/rate-card`` on a real gateway, per engine: authorization, validation, immutability, audit."""

from __future__ import annotations

import asyncio
import time

from rate_card_world import World, assert_error, client, ok

from tenantgate.audit import AuditEvent, AuditStore
from tenantgate.storage import Database

RATES = "/admin/v1/rate-card"


def _audit(world: World) -> list[AuditEvent]:
    async def work() -> list[AuditEvent]:
        db = Database.open(world.url, pool_size=1)
        try:
            return await AuditStore(db, clock=lambda: None).list_events(limit=1000, newest_first=True)  # type: ignore[arg-type]
        finally:
            await db.dispose()

    return asyncio.run(work())


def _eventually_audited(world: World, predicate) -> AuditEvent:
    deadline = time.monotonic() + 10
    while True:
        found = [e for e in _audit(world) if predicate(e)]
        if found or time.monotonic() > deadline:
            assert found, "no such audit event"
            return found[0]
        time.sleep(0.05)


def test_reading_needs_read_credits_family_and_changing_needs_manage(world, replicas):
    base = replicas[0].base_url
    body = {"model": "other", "input_per_1m": "1", "effective_from": int(time.time()) + 3600}
    with client(base, world.tokens["nobody"]) as nobody:
        error = assert_error(nobody.get(RATES), 403, "permission_denied")
        assert "'read credits-family' in tenancy" in error["message"]
        assert_error(nobody.post(RATES, json=body), 403, "permission_denied")
    with client(base, world.tokens["reader"]) as reader:
        listed = ok(reader.get(RATES))
        assert listed["object"] == "list"
        error = assert_error(reader.post(RATES, json=body), 403, "permission_denied")
        assert "'manage credits-family' in tenancy" in error["message"]
        assert_error(reader.delete(f"{RATES}/rce_{'z' * 20}"), 403, "permission_denied")
    denied = _eventually_audited(world, lambda e: e.action == "credits.rate_card.create" and e.outcome == "denied")
    assert denied.actor_id in (world.ids["nobody"], world.ids["reader"])


def test_the_settings_entries_are_listed_beside_the_administered_ones(world, replicas):
    with client(replicas[0].base_url, world.tokens["reader"]) as reader:
        (configured,) = ok(reader.get(RATES, params={"model": "chat", "at": 946_684_800}))["data"]  # 2000-01-01
    assert configured == {
        "id": None, "object": "rate_card.entry", "model": "chat", "region": None, "deployment_type": None,
        "input_per_1m": "1.000000", "cached_input_per_1m": None, "output_per_1m": "2.000000",
        "embedding_per_1m": None, "effective_from": 946_684_800, "source": "config",
        "status": configured["status"], "created_at": None, "created_by": None}
    assert configured["status"] in ("in_force", "superseded")


def test_bad_bodies_are_refused_in_openai_shape_naming_the_field(world, replicas):
    now_s = int(time.time())
    cases = [
        ({"model": "other", "input_per_1m": "-1"}, "invalid_value", "input_per_1m"),
        ({"model": "other", "input_per_1m": "1", "output_per_1m": "0.0000001"}, "invalid_value", "output_per_1m"),
        ({"model": "other", "input_per_1m": "one"}, "invalid_value", "input_per_1m"),
        ({"model": "other", "input_per_1m": 2.5}, "invalid_type", "input_per_1m"),
        ({"model": "other", "input_per_1m": "1", "embedding_per_1m": "NaN"}, "invalid_value", "embedding_per_1m"),
        ({"model": "other", "input_per_1m": "1", "deployment_type": "spot"}, "invalid_value", "deployment_type"),
        ({"model": "other", "input_per_1m": "1", "effective_from": now_s - 3600}, "invalid_value", "effective_from"),
        ({"model": "other", "input_per_1m": "1", "id": "rce_mine"}, "unknown_parameter", "id"),
        ({"model": "other", "input_per_1m": "1", "created_by": "someone"}, "unknown_parameter", "created_by"),
        ({"input_per_1m": "1"}, "missing_required_parameter", "model"),
    ]
    with client(replicas[0].base_url, world.tokens["admin"]) as admin:
        for body, code, param in cases:
            assert_error(admin.post(RATES, json=body), 400, code, param)
        assert_error(admin.get(RATES, params={"when": "now"}), 400, "unknown_parameter", "when")
        assert not [e for e in ok(admin.get(RATES, params={"model": "other"}))["data"] if e["source"] == "api"]


def test_a_future_entry_is_listed_as_scheduled_and_can_be_withdrawn_once(world, replicas):
    starts = int(time.time()) + 7200
    body = {"model": "other", "input_per_1m": "3.25", "output_per_1m": "7", "cached_input_per_1m": "1.5",
            "embedding_per_1m": "0.02", "region": "eu-test-1", "deployment_type": "dedicated",
            "effective_from": starts}
    with client(replicas[0].base_url, world.tokens["admin"]) as admin:
        made = ok(admin.post(RATES, json=body), 201)
        assert made["id"].startswith("rce_")
        assert (made["status"], made["source"], made["created_by"]) == ("scheduled", "api", world.ids["admin"])
        assert (made["input_per_1m"], made["cached_input_per_1m"], made["embedding_per_1m"]) == (
            "3.250000", "1.500000", "0.020000")
        assert made["effective_from"] == starts
        assert made in ok(admin.get(RATES, params={"model": "other"}))["data"]
        assert made not in ok(admin.get(RATES, params={"model": "other", "at": starts - 1}))["data"]
        assert made in ok(admin.get(RATES, params={"model": "other", "at": starts}))["data"]
        gone = ok(admin.delete(f"{RATES}/{made['id']}"))
        assert gone == {"id": made["id"], "object": "rate_card.entry.deleted", "deleted": True}
        assert_error(admin.delete(f"{RATES}/{made['id']}"), 404, "rate_card_entry_not_found")
        assert made["id"] not in {e["id"] for e in ok(admin.get(RATES))["data"]}
    created = _eventually_audited(world, lambda e: e.target_id == made["id"] and e.action == "credits.rate_card.create")
    assert (created.outcome, created.actor_id, created.details["input_per_1m"]) == ("succeeded", world.ids["admin"],
                                                                                    "3.250000")
    assert created.statement_ids
    withdrawn = _eventually_audited(world, lambda e: e.target_id == made["id"]
                                    and e.action == "credits.rate_card.withdraw")
    assert withdrawn.outcome == "succeeded"


def test_an_entry_in_effect_cannot_be_withdrawn(world, replicas):
    with client(replicas[0].base_url, world.tokens["admin"]) as admin:
        made = ok(admin.post(RATES, json={"model": "other", "input_per_1m": "0.5", "region": "nowhere-1"}), 201)
        while time.time() < made["effective_from"]:
            time.sleep(0.05)
        error = assert_error(admin.delete(f"{RATES}/{made['id']}"), 409, "rate_card_entry_in_effect")
        assert "cannot be withdrawn" in error["message"]
        assert "later effective_from" in error["message"]
        listed = {e["id"]: e for e in ok(admin.get(RATES, params={"model": "other"}))["data"]}
        assert listed[made["id"]]["status"] == "in_force"


def test_the_openapi_document_lists_the_rate_card_routes(world, replicas):
    with client(replicas[0].base_url, world.tokens["nobody"]) as nobody:
        paths = ok(nobody.get("/admin/v1/openapi.json"))["paths"]
    assert set(paths[RATES]) == {"get", "post"}
    assert set(paths[f"{RATES}/{{id}}"]) == {"delete"}
    assert paths[RATES]["post"]["x-tenantgate-permission"] == "manage credits-family in tenancy"
    assert {p["name"] for p in paths[RATES]["get"]["parameters"]} == {"model", "at"}

"""Compartment A's administrator against Bravo's objects, on every admin route, on both engines.

alice may ``manage all-resources in compartment A``. Parametrized over the route table
itself, so a route added later is in the matrix automatically (and fails it until
``admin_requests.BODIES`` knows how to call it).
"""

import msgspec
import pytest
from admin_requests import BODIES, QUERIES, request_for
from admin_world import assert_error, client, ok, unique

from tenantgate.admin import ROUTES


def _route_id(route) -> str:
    return f"{route.method} {route.path}"


def test_every_route_with_a_body_has_a_matrix_request():
    assert {(r.method, r.path) for r in ROUTES if r.body is not None} == set(BODIES)


def test_every_route_with_a_required_query_parameter_has_a_matrix_query():
    required = {(r.method, r.path) for r in ROUTES if r.query is not None
                and any(f.required for f in msgspec.structs.fields(r.query))}
    assert required == set(QUERIES)


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_alice_gets_no_data_of_bravo_on_any_route(world, route):
    path, body = request_for(route, world.ids)
    with world.as_user("alice") as alice:
        response = alice.request(route.method, path, json=body)
        for secret in world.bravo_secrets:
            assert secret not in response.text, (secret, response.text)
        if route.method == "GET" and "{" not in route.path:
            assert response.status_code in (200, 403), response.text
            return
        assert_error(response, response.status_code)
        assert response.status_code in (403, 404), response.text
        if response.status_code == 404:
            fake_path, fake_body = request_for(route, world.ids, fake=True)
            missing = alice.request(route.method, fake_path, json=fake_body)
            assert missing.status_code == 404
            assert missing.content == response.content  # hidden is indistinguishable from missing
            assert missing.headers["x-request-id"] != response.headers["x-request-id"]


def test_bravo_objects_are_unchanged_after_the_matrix(world):
    with world.as_admin() as admin:
        bravo = ok(admin.get(f"/admin/v1/compartments/{world.ids['Bravo']}"))
        assert (bravo["name"], bravo["path"]) == ("Bravo", "Bravo")
        policy = ok(admin.get(f"/admin/v1/policies/{world.ids['bravo_policy']}"))
        assert policy["name"] == "bravo-only"
        key = ok(admin.get(f"/admin/v1/keys/{world.ids['bravo_key']}"))
        assert key["status"] == "active"
        members = ok(admin.get(f"/admin/v1/groups/{world.ids['BAdmins']}/members"))["data"]
        assert [m["id"] for m in members] == [world.ids["bob"]]


def test_alice_lists_only_compartment_a_and_below(world):
    with world.as_user("alice") as alice:
        listed = ok(alice.get("/admin/v1/compartments"))["data"]
    paths = {c["path"] for c in listed}
    assert {"A", "A:Child"} <= paths
    assert not any(p == "" or p.startswith("Bravo") for p in paths)


def test_alice_manages_a_child_compartment_end_to_end(world):
    ids = world.ids
    with world.as_user("alice") as alice:
        made = ok(alice.post("/admin/v1/compartments", json={"name": unique("sub"), "parent_id": ids["Child"]}), 201)
        assert made["path"].startswith("A:Child:")
        renamed = ok(alice.patch(f"/admin/v1/compartments/{made['id']}", json={"name": "renamed-" + made["id"][-6:]}))
        assert renamed["path"] == f"A:Child:renamed-{made['id'][-6:]}"
        moved = ok(alice.post(f"/admin/v1/compartments/{made['id']}/move", json={"parent_id": ids["A"]}))
        assert moved["parent_id"] == ids["A"]
        ok(alice.patch(f"/admin/v1/compartments/{ids['Child']}", json={"description": "alice was here"}))
        policy = ok(alice.post("/admin/v1/policies", json={
            "name": unique("child"), "compartment_id": ids["Child"],
            "text": "Allow group AAdmins to use generative-ai-chat in compartment Child"}), 201)
        assert policy["compartment_path"] == "A:Child"
        key = ok(alice.post("/admin/v1/keys", json={
            "name": unique("svc"), "compartment_id": ids["Child"], "allowed_models": ["chat-a", "chat-b"]}), 201)
        assert key["token"].startswith("tg-")
        ok(alice.delete(f"/admin/v1/policies/{policy['id']}"))
        ok(alice.delete(f"/admin/v1/compartments/{made['id']}"))


def test_alice_cannot_rename_delete_or_move_a_itself(world):
    ids = world.ids
    with world.as_user("alice") as alice:
        assert ok(alice.get(f"/admin/v1/compartments/{ids['A']}"))["name"] == "A"
        error = assert_error(alice.patch(f"/admin/v1/compartments/{ids['A']}", json={"name": "Mine"}), 403,
                             "permission_denied")
        assert "manage compartments' in tenancy" in error["message"]
        assert_error(alice.delete(f"/admin/v1/compartments/{ids['A']}"), 403)
        assert_error(alice.post(f"/admin/v1/compartments/{ids['Child']}/move",
                                json={"parent_id": ids["root"]}), 403)
        assert_error(alice.post(f"/admin/v1/compartments/{ids['Child']}/move",
                                json={"parent_id": ids["Bravo"]}), 404, "compartment_not_found")


def test_alice_cannot_attach_policies_to_bravo_or_the_tenancy(world):
    ids = world.ids
    text = "Allow group AAdmins to manage all-resources in tenancy"
    with world.as_user("alice") as alice:
        assert_error(alice.post("/admin/v1/policies", json={"name": "x", "text": text}), 403, "permission_denied")
        assert_error(alice.post("/admin/v1/policies", json={"name": "x", "text": text,
                                                            "compartment_id": ids["root"]}), 403)
        assert_error(alice.post("/admin/v1/policies", json={
            "name": "x", "text": "Allow group AAdmins to manage all-resources in compartment Bravo",
            "compartment_id": ids["Bravo"]}), 404, "compartment_not_found")
        ids_seen = {p["id"] for p in ok(alice.get("/admin/v1/policies"))["data"]}
        assert ids["root_policy"] not in ids_seen
        assert ids["bravo_policy"] not in ids_seen


def test_a_policy_in_a_cannot_reach_outside_a(world):
    with world.as_user("alice") as alice:
        error = assert_error(alice.post("/admin/v1/policies", json={
            "name": unique("escape"), "compartment_id": world.ids["A"],
            "text": "Allow group AAdmins to manage all-resources in tenancy"}), 400, "invalid_policy")
    assert "line 1" in error["message"]


def test_alice_cannot_mint_a_service_key_without_models_or_for_another_user(world):
    ids = world.ids
    with world.as_user("alice") as alice:
        error = assert_error(alice.post("/admin/v1/keys", json={"name": "wide", "compartment_id": ids["A"]}),
                             403, "permission_denied")
        assert error["param"] == "allowed_models"
        assert_error(alice.post("/admin/v1/keys", json={"name": "x", "compartment_id": ids["A"],
                                                        "allowed_models": ["no-such-model"]}), 403)
        assert_error(alice.post("/admin/v1/keys", json={"name": "x", "user_id": ids["bob"]}), 403)
        assert_error(alice.post("/admin/v1/keys", json={"name": "x", "user_id": ids["carol"],
                                                        "compartment_id": ids["A"]}), 403)


def test_a_key_manager_mints_only_models_they_may_use(world):
    ids = world.ids
    with world.as_user("carol") as carol:
        error = assert_error(carol.post("/admin/v1/keys", json={
            "name": "x", "compartment_id": ids["A"], "allowed_models": ["chat-a", "chat-b"]}), 403)
        assert "'chat-b'" in error["message"]
        made = ok(carol.post("/admin/v1/keys", json={
            "name": unique("narrow"), "compartment_id": ids["Child"], "allowed_models": ["chat-a"]}), 201)
        assert made["allowed_models"] == ["chat-a"]
        with world.as_admin() as admin:
            broad = ok(admin.post("/admin/v1/keys", json={"name": unique("admin-made"), "compartment_id": ids["A"]}),
                       201)
        assert_error(carol.post(f"/admin/v1/keys/{broad['id']}/rotate", json={}), 403)  # no widening by rotation
        ok(carol.post(f"/admin/v1/keys/{made['id']}/rotate", json={}))


def test_self_service_keys_only_narrow_the_calling_key(world):
    ids = world.ids
    with world.as_user("alice") as alice:
        narrow = ok(alice.post("/admin/v1/keys", json={
            "name": unique("mine"), "user_id": ids["alice"], "allowed_models": ["chat-a"],
            "allowed_ip_ranges": ["127.0.0.0/8"]}), 201)
    with client(world.base_url, narrow["token"]) as narrowed:
        error = assert_error(narrowed.post("/admin/v1/keys", json={"name": "wider", "user_id": ids["alice"]}), 403)
        assert error["param"] == "allowed_models"
        assert_error(narrowed.post("/admin/v1/keys", json={
            "name": "wider", "user_id": ids["alice"], "allowed_models": ["chat-a"]}), 403)  # no ip ranges
        ok(narrowed.post("/admin/v1/keys", json={
            "name": unique("narrower"), "user_id": ids["alice"], "allowed_models": ["chat-a"],
            "allowed_ip_ranges": ["127.0.0.1"]}), 201)
        assert_error(narrowed.post(f"/admin/v1/keys/{ids['alice_key']}/rotate", json={}), 403)
        ok(narrowed.post(f"/admin/v1/keys/{narrow['id']}/rotate", json={}))


def test_group_managers_cannot_add_themselves_or_anyone_to_administrators(world):
    ids = world.ids
    with world.as_user("gina") as gina:
        group = ok(gina.post("/admin/v1/groups", json={"name": unique("team")}), 201)
        ok(gina.put(f"/admin/v1/groups/{group['id']}/members/{ids['bob']}"))
        error = assert_error(gina.put(f"/admin/v1/groups/{group['id']}/members/{ids['gina']}"), 403)
        assert "your own" in error["message"]
        assert_error(gina.put(f"/admin/v1/groups/{ids['AAdmins']}/members/{ids['gina']}"), 403)
        assert_error(gina.put(f"/admin/v1/groups/{ids['Administrators']}/members/{ids['bob']}"), 403)
        assert_error(gina.delete(f"/admin/v1/groups/{ids['GroupManagers']}/members/{ids['gina']}"), 403)
        assert_error(gina.delete(f"/admin/v1/groups/{ids['Administrators']}"), 409, "administrators_protected")
        ok(gina.delete(f"/admin/v1/groups/{group['id']}"))
    with world.as_user("alice") as alice:
        assert_error(alice.put(f"/admin/v1/groups/{ids['AAdmins']}/members/{ids['alice']}"), 404)


def test_alice_explains_in_a_but_not_in_bravo(world):
    with world.as_user("alice") as alice:
        explained = ok(alice.post("/admin/v1/policies/explain", json={
            "compartment": "A:Child", "verb": "manage", "resource_type": "compartments"}))
        assert explained["allowed"] is True
        assert explained["decided_by"][0]["id"].startswith(world.ids["root_policy"])
        assert_error(alice.post("/admin/v1/policies/explain", json={"compartment": "Bravo"}), 404)


def test_alice_sees_her_own_keys_and_those_in_a_only(world):
    with world.as_user("alice") as alice:
        listed = {k["id"] for k in ok(alice.get("/admin/v1/keys"))["data"]}
        assert world.ids["alice_key"] in listed
        assert world.ids["carol_key"] in listed  # carol's key targets A
        assert world.ids["bob_key"] not in listed
        assert world.ids["gina_key"] not in listed
        assert_error(alice.get(f"/admin/v1/keys/{world.ids['gina_key']}"), 404, "api_key_not_found")
        ok(alice.get(f"/admin/v1/users/{world.ids['alice']}"))


def test_own_keys_may_target_only_projects_the_user_can_see_or_use(world):
    ids = world.ids
    with world.as_user("alice") as alice:
        assert_error(alice.post("/admin/v1/keys", json={"name": "x", "user_id": ids["alice"],
                                                        "compartment_id": ids["Bravo"]}), 404, "compartment_not_found")
        mine = ok(alice.post("/admin/v1/keys", json={"name": unique("proj"), "user_id": ids["alice"],
                                                     "compartment_id": ids["Child"]}), 201)
        assert (mine["compartment_id"], mine["owner"]) == (ids["Child"], {"type": "user", "id": ids["alice"]})
        ok(alice.delete(f"/admin/v1/keys/{mine['id']}"))
    with world.as_admin() as admin:
        user = ok(admin.post("/admin/v1/users", json={"name": unique("erin")}), 201)
        group = ok(admin.post("/admin/v1/groups", json={"name": unique("erin-team")}), 201)
        ok(admin.put(f"/admin/v1/groups/{group['id']}/members/{user['id']}"))
        ok(admin.post("/admin/v1/policies", json={
            "name": unique("erin"), "compartment_id": ids["A"],
            "text": f"Allow group {group['name']} to use generative-ai-chat in compartment A "
                    "where request.model = 'chat-b'"}), 201)
        token = ok(admin.post("/admin/v1/keys", json={"name": "k", "user_id": user["id"]}), 201)["token"]
    with client(world.base_url, token) as erin:
        ok(erin.post("/admin/v1/keys", json={"name": "p", "user_id": user["id"], "compartment_id": ids["A"]}), 201)
        assert_error(erin.post("/admin/v1/keys", json={"name": "p", "user_id": user["id"],
                                                       "compartment_id": ids["Bravo"]}), 404)
        assert_error(erin.get("/admin/v1/compartments/" + ids["A"]), 404)  # using is not seeing

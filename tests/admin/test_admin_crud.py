"""The administrator's happy paths on every resource, and the API's refusals of bad input."""

import re

import pytest
from admin_requests import request_for
from admin_world import STATIC_KEY, assert_error, client, ok, stored_text, unique

from tenantgate.admin import ADMIN_BODY_MAX_BYTES, ROUTES

TOKEN = re.compile(r"tg-[a-z2-7]{12}[12]_[0-9A-Za-z]{43}")
SQL_NAME = "x'; DROP TABLE iam_users; --"


def test_compartments_create_read_rename_move_and_delete(world):
    with world.as_admin() as admin:
        parent = ok(admin.post("/admin/v1/compartments", json={"name": unique("Dept"), "description": "d"}), 201)
        assert (parent["object"], parent["parent_id"], parent["description"]) == ("compartment", world.ids["root"], "d")
        child = ok(admin.post("/admin/v1/compartments", json={"name": "Team", "parent_id": parent["id"]}), 201)
        assert child["path"] == f"{parent['name']}:Team"
        assert ok(admin.get(f"/admin/v1/compartments/{child['id']}")) == child
        listed = ok(admin.get("/admin/v1/compartments"))
        assert (listed["object"], listed["has_more"]) == ("list", False)
        assert {parent["id"], child["id"]} <= {c["id"] for c in listed["data"]}
        renamed = ok(admin.patch(f"/admin/v1/compartments/{parent['id']}", json={"name": unique("Renamed")}))
        assert ok(admin.get(f"/admin/v1/compartments/{child['id']}"))["path"] == f"{renamed['name']}:Team"
        assert_error(admin.post("/admin/v1/compartments", json={"name": "Team", "parent_id": parent["id"]}),
                     409, "name_taken")
        assert_error(admin.delete(f"/admin/v1/compartments/{parent['id']}"), 409, "compartment_not_empty")
        moved = ok(admin.post(f"/admin/v1/compartments/{child['id']}/move", json={"parent_id": world.ids["root"]}))
        assert (moved["parent_id"], moved["path"]) == (world.ids["root"], "Team")
        gone = ok(admin.delete(f"/admin/v1/compartments/{child['id']}"))
        assert gone == {"id": child["id"], "object": "compartment.deleted", "deleted": True}
        assert_error(admin.get(f"/admin/v1/compartments/{child['id']}"), 404, "compartment_not_found")
        ok(admin.delete(f"/admin/v1/compartments/{parent['id']}"))
        assert_error(admin.delete(f"/admin/v1/compartments/{world.ids['root']}"), 400, "invalid_compartment_change")


def test_sql_metacharacters_in_names_are_stored_verbatim(world):
    with world.as_admin() as admin:
        made = ok(admin.post("/admin/v1/compartments", json={"name": SQL_NAME + unique("")}), 201)
        assert made["name"].startswith(SQL_NAME)
        user = ok(admin.post("/admin/v1/users", json={"name": SQL_NAME, "description": "' OR 1=1 --"}), 201)
        assert ok(admin.get(f"/admin/v1/users/{user['id']}"))["name"] == SQL_NAME
        assert any(u["name"] == "alice" for u in ok(admin.get("/admin/v1/users"))["data"])  # table intact
        group = ok(admin.post("/admin/v1/groups", json={"name": SQL_NAME}), 201)
        assert group["name"] == SQL_NAME
        ok(admin.delete(f"/admin/v1/groups/{group['id']}"))
        ok(admin.delete(f"/admin/v1/users/{user['id']}"))
        ok(admin.delete(f"/admin/v1/compartments/{made['id']}"))


def test_users_create_read_update_and_delete_with_their_keys(world):
    with world.as_admin() as admin:
        user = ok(admin.post("/admin/v1/users", json={"name": unique("dave")}), 201)
        assert set(user) == {"id", "object", "name", "description", "created_at"}
        updated = ok(admin.patch(f"/admin/v1/users/{user['id']}", json={"description": "ops"}))
        assert (updated["name"], updated["description"]) == (user["name"], "ops")
        assert_error(admin.patch(f"/admin/v1/users/{user['id']}", json={"name": "alice"}), 409, "name_taken")
        key = ok(admin.post("/admin/v1/keys", json={"name": "k", "user_id": user["id"]}), 201)
        ok(admin.delete(f"/admin/v1/users/{user['id']}"))
        assert_error(admin.get(f"/admin/v1/users/{user['id']}"), 404, "user_not_found")
        assert_error(admin.get(f"/admin/v1/keys/{key['id']}"), 404, "api_key_not_found")
    with client(world.base_url, key["token"]) as gone:
        assert_error(gone.get("/v1/models"), 401, "invalid_api_key")


def test_the_last_administrator_can_be_neither_deleted_nor_removed(world):
    with world.as_admin() as admin:
        admins = ok(admin.get(f"/admin/v1/groups/{world.ids['Administrators']}/members"))["data"]
        (only,) = admins
        assert_error(admin.delete(f"/admin/v1/users/{only['id']}"), 409, "administrators_protected")
        assert_error(admin.delete(f"/admin/v1/groups/{world.ids['Administrators']}/members/{only['id']}"),
                     409, "administrators_protected")
        assert_error(admin.delete(f"/admin/v1/groups/{world.ids['Administrators']}"), 409, "administrators_protected")


def test_groups_and_memberships(world):
    with world.as_admin() as admin:
        group = ok(admin.post("/admin/v1/groups", json={"name": unique("eng"), "description": "e"}), 201)
        assert (group["object"], group["built_in"]) == ("group", False)
        assert ok(admin.get(f"/admin/v1/groups/{group['id']}")) == group
        added = ok(admin.put(f"/admin/v1/groups/{group['id']}/members/{world.ids['alice']}"))
        assert added == {"object": "group.membership", "group_id": group["id"], "user_id": world.ids["alice"],
                         "deleted": False}
        ok(admin.put(f"/admin/v1/groups/{group['id']}/members/{world.ids['alice']}"))  # idempotent
        members = ok(admin.get(f"/admin/v1/groups/{group['id']}/members"))["data"]
        assert [m["name"] for m in members] == ["alice"]
        assert ok(admin.delete(f"/admin/v1/groups/{group['id']}/members/{world.ids['alice']}"))["deleted"] is True
        assert ok(admin.get(f"/admin/v1/groups/{group['id']}/members"))["data"] == []
        assert_error(admin.put(f"/admin/v1/groups/{group['id']}/members/usr_zzzzzzzzzzzzzzzzzzzz"), 404,
                     "user_not_found")
        assert group["id"] in {g["id"] for g in ok(admin.get("/admin/v1/groups"))["data"]}
        ok(admin.delete(f"/admin/v1/groups/{group['id']}"))
        assert_error(admin.get(f"/admin/v1/groups/{group['id']}"), 404, "group_not_found")


def test_policies_create_read_replace_move_explain_and_delete(world):
    ids = world.ids
    with world.as_admin() as admin:
        text = "Allow group AAdmins to inspect compartments in compartment Child"
        policy = ok(admin.post("/admin/v1/policies", json={"name": unique("p"), "text": text,
                                                           "compartment_id": ids["A"]}), 201)
        assert (policy["compartment_path"], policy["text"]) == ("A", text)
        assert ok(admin.get(f"/admin/v1/policies/{policy['id']}")) == policy
        assert policy["id"] in {p["id"] for p in ok(admin.get("/admin/v1/policies"))["data"]}
        replaced = ok(admin.put(f"/admin/v1/policies/{policy['id']}", json={
            "name": policy["name"], "text": "Allow group AAdmins to read compartments in compartment Child",
            "compartment_id": ids["Child"]}))
        assert (replaced["compartment_id"], replaced["compartment_path"]) == (ids["Child"], "A:Child")
        bad = assert_error(admin.put(f"/admin/v1/policies/{policy['id']}", json={
            "name": policy["name"], "text": "Allow group X to\nfly"}), 400, "invalid_policy")
        assert "line 2" in bad["message"]
        explained = ok(admin.post("/admin/v1/policies/explain", json={
            "user": "alice", "compartment": "A:Child", "verb": "read", "resource_type": "compartments"}))
        assert explained["allowed"] is True
        assert {s["id"] for s in explained["decided_by"]} == {f"{replaced['id']}#1", f"{ids['root_policy']}#1"}
        denied = ok(admin.post("/admin/v1/policies/explain", json={
            "key_id": ids["bob_key"], "compartment": ids["A"], "verb": "use", "model": "chat-a"}))
        assert (denied["allowed"], denied["principal"]) == (False, "user bob-of-bravo")
        mine = ok(admin.post("/admin/v1/policies/explain", json={"compartment": "", "verb": "manage",
                                                                 "resource_type": "all-resources"}))
        assert mine["decided_by"][0]["id"] == "builtin:administrators"
        ok(admin.delete(f"/admin/v1/policies/{policy['id']}"))
        assert_error(admin.get(f"/admin/v1/policies/{policy['id']}"), 404, "policy_not_found")


def test_key_tokens_are_shown_once_and_never_stored(world):
    ids = world.ids
    with world.as_admin() as admin:
        made = ok(admin.post("/admin/v1/keys", json={
            "name": unique("svc"), "compartment_id": ids["A"], "allowed_models": ["chat-a"],
            "allowed_ip_ranges": ["10.0.0.0/8"]}), 201)
        token = made["token"]
        assert TOKEN.fullmatch(token)
        assert (made["owner"], made["compartment_id"], made["minted_slot"]) == (
            {"type": "compartment", "id": ids["A"]}, ids["A"], 1)
        assert made["secrets"][0]["hint"] == token[-4:]
        shown = ok(admin.get(f"/admin/v1/keys/{made['id']}"))
        assert "token" not in shown
        assert shown["allowed_ip_ranges"] == ["10.0.0.0/8"]
        listing = admin.get("/admin/v1/keys").text
        assert made["id"] in listing
        rotated = ok(admin.post(f"/admin/v1/keys/{made['id']}/rotate", json={}))
        assert rotated["minted_slot"] == 2
        assert rotated["token"] != token
        assert_error(admin.post(f"/admin/v1/keys/{made['id']}/rotate", json={}), 409, "api_key_secrets_in_use")
        one = ok(admin.post(f"/admin/v1/keys/{made['id']}/secrets/1/revoke", json={}))
        assert [s["state"] for s in one["secrets"]] == ["revoked", "active"]
        assert_error(admin.post(f"/admin/v1/keys/{made['id']}/secrets/3/revoke"), 400, "invalid_value")
        revoked = ok(admin.delete(f"/admin/v1/keys/{made['id']}"))
        assert revoked["status"] == "revoked"
        for text in (listing, admin.get(f"/admin/v1/keys/{made['id']}").text, admin.get("/admin/v1/keys").text):
            assert TOKEN.search(text) is None
    stored = stored_text(world.database_url)
    for secret in (token, rotated["token"], world.admin_token, *world.tokens.values()):
        assert secret not in stored
        assert secret.split("_", 1)[1] not in stored


def test_user_keys_target_their_project_or_the_tenancy(world):
    with world.as_admin() as admin:
        tenancy_key = ok(admin.post("/admin/v1/keys", json={"name": unique("k"), "user_id": world.ids["gina"]}), 201)
        assert tenancy_key["compartment_id"] == world.ids["root"]
        assert tenancy_key["owner"] == {"type": "user", "id": world.ids["gina"]}
        assert_error(admin.post("/admin/v1/keys", json={"name": "k"}), 400, "invalid_value")
        assert_error(admin.post("/admin/v1/keys", json={"name": "k", "user_id": world.ids["gina"],
                                                        "expires_at": 1}), 400, "invalid_value")
        ok(admin.delete(f"/admin/v1/keys/{tenancy_key['id']}"))


@pytest.mark.parametrize("route", [r for r in ROUTES if r.body is not None], ids=lambda r: f"{r.method} {r.path}")
def test_mass_assignment_is_refused_naming_the_field(world, route):
    path, body = request_for(route, world.ids)
    assert body is not None
    for field in ("id", "built_in", "owner_user_id", "created_at"):
        with world.as_admin() as admin:
            error = assert_error(admin.request(route.method, path, json={**body, field: "x"}), 400, "unknown_parameter")
        assert error["param"] == field
        assert field in error["message"]


def test_bad_bodies_get_openai_shaped_400s(world):
    with world.as_admin() as admin:
        assert_error(admin.post("/admin/v1/users", content=b"{not json"), 400, "invalid_json")
        assert_error(admin.post("/admin/v1/users", content=b"[1]"), 400, "invalid_json")
        assert assert_error(admin.post("/admin/v1/users", json={"name": 7}), 400, "invalid_type")["param"] == "name"
        assert_error(admin.post("/admin/v1/users", json={}), 400, "missing_required_parameter")
        assert_error(admin.post("/admin/v1/users", json={"name": "a:b"}), 400, "invalid_value")
        assert_error(admin.post("/admin/v1/policies/explain", json={"verb": "fly"}), 400, "invalid_value")
        huge = b'{"name": "' + b"x" * ADMIN_BODY_MAX_BYTES + b'"}'
        assert_error(admin.post("/admin/v1/users", content=huge), 413, "request_too_large")


def test_unknown_routes_and_methods(world):
    with world.as_admin() as admin:
        assert_error(admin.get("/admin/v1/nothing"), 404, "route_not_found")
        assert_error(admin.get("/v1/organization/invites"), 404, "route_not_found")
        assert_error(admin.post("/admin/v1/compartments/x/y"), 404, "route_not_found")
        assert_error(admin.put("/admin/v1/users"), 405, "method_not_allowed")
        assert_error(admin.get("/admin/v1/policies/explain"), 405, "method_not_allowed")


def test_admin_needs_an_identity_key(world):
    with client(world.base_url, STATIC_KEY) as static:
        assert static.get("/v1/models").status_code == 200
        error = assert_error(static.get("/admin/v1/users"), 403, "permission_denied")
    assert "identity API key" in error["message"]
    with client(world.base_url, None) as anonymous:
        assert_error(anonymous.get("/admin/v1/users"), 401, "missing_api_key")

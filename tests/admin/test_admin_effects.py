"""Admin changes take effect on this replica at once: the gateway polls only every 60 s here."""

import json

from admin_world import assert_error, client, gateway_config, ok, unique

from tenantgate.testing.gateway_process import run_gateway


def _models(base_url: str, token: str, compartment: str | None = None) -> list[str]:
    headers = {"x-tenantgate-compartment": compartment} if compartment else {}
    with client(base_url, token) as caller:
        return sorted(m["id"] for m in ok(caller.get("/v1/models", headers=headers))["data"])


def test_a_revoked_key_is_refused_on_the_next_request(world):
    with world.as_admin() as admin:
        made = ok(admin.post("/admin/v1/keys", json={"name": unique("k"), "user_id": world.ids["gina"]}), 201)
        with client(world.base_url, made["token"]) as caller:
            assert caller.get("/v1/models").status_code == 200  # minted a moment ago: works at once
            ok(admin.delete(f"/admin/v1/keys/{made['id']}"))
            assert_error(caller.get("/v1/models"), 401, "invalid_api_key")


def test_a_revoked_secret_is_refused_while_the_other_keeps_working(world):
    with world.as_admin() as admin:
        made = ok(admin.post("/admin/v1/keys", json={"name": unique("k"), "user_id": world.ids["gina"]}), 201)
        rotated = ok(admin.post(f"/admin/v1/keys/{made['id']}/rotate", json={}))
        ok(admin.post(f"/admin/v1/keys/{made['id']}/secrets/1/revoke"))
    with client(world.base_url, made["token"]) as old:
        assert_error(old.get("/v1/models"), 401, "invalid_api_key")
    with client(world.base_url, rotated["token"]) as new:
        assert new.get("/v1/models").status_code == 200


def test_policies_and_memberships_change_decisions_at_once(world):
    ids = world.ids
    with world.as_admin() as admin:
        user = ok(admin.post("/admin/v1/users", json={"name": unique("dave")}), 201)
        group = ok(admin.post("/admin/v1/groups", json={"name": unique("dave-team")}), 201)
        ok(admin.put(f"/admin/v1/groups/{group['id']}/members/{user['id']}"))
        token = ok(admin.post("/admin/v1/keys", json={"name": "k", "user_id": user["id"],
                                                      "compartment_id": ids["A"]}), 201)["token"]
        assert _models(world.base_url, token) == []
        policy = ok(admin.post("/admin/v1/policies", json={
            "name": unique("dave"), "compartment_id": ids["A"],
            "text": f"Allow group {group['name']} to use generative-ai-chat in compartment A "
                    "where request.model = 'chat-b'\n"
                    f"Allow group {group['name']} to read compartments in compartment A"}), 201)
        assert _models(world.base_url, token) == ["chat-b"]
        with client(world.base_url, token) as dave:
            assert ok(dave.get(f"/admin/v1/compartments/{ids['A']}"))["name"] == "A"
            ok(admin.delete(f"/admin/v1/groups/{group['id']}/members/{user['id']}"))
            assert_error(dave.get(f"/admin/v1/compartments/{ids['A']}"), 404, "compartment_not_found")
        assert _models(world.base_url, token) == []
        ok(admin.put(f"/admin/v1/groups/{group['id']}/members/{user['id']}"))
        assert _models(world.base_url, token) == ["chat-b"]
        ok(admin.delete(f"/admin/v1/policies/{policy['id']}"))
        assert _models(world.base_url, token) == []


def test_renaming_a_compartment_is_seen_by_the_compartment_header_at_once(world):
    with world.as_admin() as admin:
        made = ok(admin.post("/admin/v1/compartments", json={"name": unique("Lab")}), 201)
        renamed = ok(admin.patch(f"/admin/v1/compartments/{made['id']}", json={"name": unique("Lab2")}))
        assert _models(world.base_url, world.admin_token, renamed["name"]) != []
        with client(world.base_url, world.admin_token) as caller:
            missing = caller.get("/v1/models", headers={"x-tenantgate-compartment": made["name"]})
        assert json.loads(missing.text)["data"] == []
        ok(admin.delete(f"/admin/v1/compartments/{made['id']}"))


def test_before_init_the_admin_api_says_to_run_init(migrated_database_url, tmp_path):
    with run_gateway(gateway_config(migrated_database_url), workdir=tmp_path) as gateway, \
            client(gateway.base_url, None) as anonymous:
        assert anonymous.get("/v1/models").status_code == 200  # the loopback quickstart
        error = assert_error(anonymous.get("/admin/v1/compartments"), 403, "permission_denied")
        assert "tenantgate init" in error["message"]
        assert_error(anonymous.get("/v1/organization/projects"), 403, "permission_denied")

"""OpenAI's Admin API shapes under /v1/organization, validated against OpenAI's published spec."""

from typing import Any

import httpx
import pytest
from admin_world import assert_error, client, ok, unique

from openapi_schemas import OPENAPI, assert_schema, load_components


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    assert OPENAPI.exists(), f"the OpenAI OpenAPI spec is missing at {OPENAPI}"
    return load_components(OPENAPI)


def test_projects_lifecycle_in_openai_shapes(world, openapi):
    with world.as_admin() as admin:
        made = ok(admin.post("/v1/organization/projects", json={"name": unique("proj")}))
        assert_schema(openapi, "Project", made)
        assert (made["object"], made["status"], made["archived_at"]) == ("organization.project", "active", None)
        listed = ok(admin.get("/v1/organization/projects"))
        assert_schema(openapi, "ProjectListResponse", listed)
        assert made["id"] in {p["id"] for p in listed["data"]}
        assert world.ids["root"] not in {p["id"] for p in listed["data"]}  # the tenancy is no project
        assert {"A", "A:Child"} <= {p["name"] for p in listed["data"]}
        assert ok(admin.get(f"/v1/organization/projects/{made['id']}")) == made
        renamed = ok(admin.post(f"/v1/organization/projects/{made['id']}", json={"name": unique("renamed")}))
        assert_schema(openapi, "Project", renamed)
        assert renamed["name"] != made["name"]
        archived = ok(admin.post(f"/v1/organization/projects/{made['id']}/archive"))
        assert_schema(openapi, "Project", archived)
        assert (archived["status"], isinstance(archived["archived_at"], int)) == ("archived", True)
        assert_error(admin.get(f"/v1/organization/projects/{made['id']}"), 404, "compartment_not_found")
        assert_error(admin.get(f"/v1/organization/projects/{world.ids['root']}"), 404, "compartment_not_found")
        assert_error(admin.post("/v1/organization/projects", json={"name": "x", "residency": "GLOBAL"}),
                     400, "unknown_parameter")


def test_service_accounts_and_project_keys_in_openai_shapes(world, openapi):
    with world.as_admin() as admin:
        project = ok(admin.post("/v1/organization/projects", json={"name": unique("svc-proj")}))
        pid = project["id"]
        created = ok(admin.post(f"/v1/organization/projects/{pid}/service_accounts", json={"name": "robot"}))
        assert_schema(openapi, "ProjectServiceAccountCreateResponse", created)
        token = created["api_key"]["value"]
        assert token.startswith("tg-")
        accounts = ok(admin.get(f"/v1/organization/projects/{pid}/service_accounts"))
        assert_schema(openapi, "ProjectServiceAccountListResponse", accounts)
        assert [a["id"] for a in accounts["data"]] == [created["id"]]
        assert_schema(openapi, "ProjectServiceAccount", accounts["data"][0])
        user_key = ok(admin.post("/admin/v1/keys", json={"name": "dev", "user_id": world.ids["gina"],
                                                         "compartment_id": pid}), 201)
        keys = admin.get(f"/v1/organization/projects/{pid}/api_keys")
        assert token not in keys.text
        listed = ok(keys)
        assert_schema(openapi, "ProjectApiKeyListResponse", listed)
        by_id = {k["id"]: k for k in listed["data"]}
        assert by_id[created["api_key"]["id"]]["owner"]["type"] == "service_account"
        assert by_id[user_key["id"]]["owner"]["user"]["name"] == "gina"
        assert by_id[user_key["id"]]["redacted_value"].endswith(user_key["token"][-4:])
        one = ok(admin.get(f"/v1/organization/projects/{pid}/api_keys/{user_key['id']}"))
        assert_schema(openapi, "ProjectApiKey", one)
        assert_error(admin.post(f"/v1/organization/projects/{pid}/archive"), 409, "compartment_not_empty")
        deleted = ok(admin.delete(f"/v1/organization/projects/{pid}/api_keys/{user_key['id']}"))
        assert_schema(openapi, "ProjectApiKeyDeleteResponse", deleted)
        assert deleted == {"object": "organization.project.api_key.deleted", "id": user_key["id"], "deleted": True}
        assert_error(admin.get(f"/v1/organization/projects/{pid}/api_keys/{user_key['id']}"), 404)
        assert_error(admin.get(f"/v1/organization/projects/{world.ids['A']}/api_keys/{created['id']}"), 404)
    with client(world.base_url, user_key["token"]) as revoked:
        assert_error(revoked.get("/v1/models"), 401, "invalid_api_key")
    with client(world.base_url, token) as robot:
        assert robot.get("/v1/models").status_code == 200


def test_users_in_openai_shapes(world, openapi):
    with world.as_admin() as admin:
        listed = ok(admin.get("/v1/organization/users"))
        assert_schema(openapi, "UserListResponse", listed)
        roles = {u["name"]: u["role"] for u in listed["data"]}
        assert (roles["admin"], roles["alice"]) == ("owner", "reader")
        alice = ok(admin.get(f"/v1/organization/users/{world.ids['alice']}"))
        assert_schema(openapi, "User", alice)
    with world.as_user("alice") as alice_client:
        assert ok(alice_client.get(f"/v1/organization/users/{world.ids['alice']}")) == alice
        assert_error(alice_client.get("/v1/organization/users"), 403, "permission_denied")


def test_a_non_administrator_service_account_gets_only_their_models(world, openapi):
    with world.as_user("carol") as carol:
        created = ok(carol.post(f"/v1/organization/projects/{world.ids['A']}/service_accounts",
                                json={"name": unique("carol-robot")}))
        assert_schema(openapi, "ProjectServiceAccountCreateResponse", created)
    with world.as_admin() as admin:
        key = ok(admin.get(f"/admin/v1/keys/{created['api_key']['id']}"))
    assert key["allowed_models"] == ["chat-a"]


def test_a_quick_look_with_plain_httpx(world):
    response = httpx.get(f"{world.base_url}/v1/organization/projects",
                         headers={"Authorization": f"Bearer {world.admin_token}"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["object"] == "list"

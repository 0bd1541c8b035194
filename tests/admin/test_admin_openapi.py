"""``GET /admin/v1/openapi.json``: generated from the route table, so it documents exactly what is served."""

import pytest
from admin_requests import request_for
from admin_world import ok
from jsonschema import Draft202012Validator

from tenantgate.admin import ROUTES
from tenantgate.admin.openapi import document
from tenantgate.admin.router import Router


def _validator(doc, schema):
    return Draft202012Validator({**schema, "components": doc["components"]})


def test_every_routed_path_and_method_is_documented_and_nothing_else():
    doc = document(ROUTES)
    routed = {(path, method.lower()) for path, methods in Router(ROUTES).templates.items() for method in methods}
    documented = {(path, method) for path, operations in doc["paths"].items() for method in operations}
    assert routed == documented
    assert doc["openapi"] == "3.1.0"


def test_operations_have_unique_ids_path_parameters_and_permissions():
    doc = document(ROUTES)
    ids = []
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            ids.append(operation["operationId"])
            assert operation["summary"]
            assert operation["x-tenantgate-permission"]
            names = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
            assert names == [s[1:-1] for s in path.split("/") if s.startswith("{")]
    assert len(ids) == len(set(ids))


def test_schemas_are_valid_json_schema_and_bodies_refuse_unknown_fields():
    doc = document(ROUTES)
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for route in ROUTES:
        if route.body is not None:
            schema = doc["components"]["schemas"][route.body.__name__]
            assert schema["additionalProperties"] is False, route.path


def test_every_operation_documents_the_openai_error_shape():
    doc = document(ROUTES)
    error = {"error": {"message": "m", "type": "t", "param": None, "code": "c"}}
    for operations in doc["paths"].values():
        for operation in operations.values():
            schema = operation["responses"]["default"]["content"]["application/json"]["schema"]
            assert list(_validator(doc, schema).iter_errors(error)) == []
            assert list(_validator(doc, schema).iter_errors({"object": "list"})) != []


def test_the_served_document_is_the_generated_one(world):
    with world.as_user("alice") as alice:
        assert ok(alice.get("/admin/v1/openapi.json")) == document(ROUTES)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "GET" and "{" not in r.path
                                   and not r.path.endswith(".json") and r.media_type == "application/json"],
                         ids=lambda r: r.path)
def test_live_listings_match_their_documented_schemas(world, route):
    doc = document(ROUTES)
    schema = doc["paths"][route.path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    with world.as_admin() as admin:
        body = ok(admin.get(request_for(route, world.ids)[0]))
    errors = [e.message for e in _validator(doc, schema).iter_errors(body)]
    assert errors == []

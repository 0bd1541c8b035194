"""The admin API as an OpenAPI 3.1 document, generated from the route table and its Structs.

Paths, methods and parameters come from ``routes.ROUTES`` (the table the router serves), query
parameters and request and response schemas from the msgspec Structs via
``msgspec.json.schema_components``, so the document cannot drift from what is served.
Each operation also states the permission it needs (``x-tenantgate-permission``) and the
audit action it records (``x-tenantgate-action``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

import tenantgate
from tenantgate.admin.query import query_parameters
from tenantgate.admin.router import PathTemplate

if TYPE_CHECKING:
    from tenantgate.admin.routes import AdminRoute

_REF = "#/components/schemas/{name}"


class ErrorDetail(msgspec.Struct):
    """OpenAI's error object: ``code`` is stable, ``param`` names the offending field."""

    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(msgspec.Struct):
    """Every error response: ``{"error": {...}}``."""

    error: ErrorDetail


def document(routes: Sequence[AdminRoute]) -> dict[str, Any]:
    """The OpenAPI document for ``routes`` (built once per table; treat it as read-only)."""
    return _build(tuple(routes))


@functools.cache
def _build(routes: tuple[AdminRoute, ...]) -> dict[str, Any]:
    types: list[Any] = [ErrorBody]
    for route in routes:
        for kind in (route.body, route.response):
            if kind is not None and kind not in types:
                types.append(kind)
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    schema_of = dict(zip(map(_key, types), refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schema_of)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tenantgate admin API",
            "version": tenantgate.__version__,
            "description": "Compartments, users, groups, policies and API keys, decided by policies; "
                           "plus OpenAI's Admin API shapes under /v1/organization. See docs/admin-api.md.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An identity API key (tg-…)."}},
        },
    }


def _key(kind: Any) -> str:
    return repr(kind)


def _operation(route: AdminRoute, schema_of: dict[str, Any]) -> dict[str, Any]:
    json = "application/json"
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.path.split("/")[3]],
        "x-tenantgate-permission": route.permission,
        "x-tenantgate-action": route.action,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in PathTemplate.parse(route.path).params
        ] + query_parameters(route.query),
        "responses": {
            str(route.status): {"description": "Success.",
                                "content": {route.media_type: {"schema": schema_of[_key(route.response)]}}},
            "default": {"description": "An error in OpenAI's shape.",
                        "content": {json: {"schema": schema_of[_key(ErrorBody)]}}},
        },
    }
    if route.body is not None:
        operation["requestBody"] = {
            "required": any(field.required for field in msgspec.structs.fields(route.body)),
            "content": {json: {"schema": schema_of[_key(route.body)]}},
        }
    return operation

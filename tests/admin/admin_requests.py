"""A request for every admin route, aimed at Bravo's objects: the cross-compartment matrix's input.

``BODIES`` holds a valid body for every route that takes one, and ``QUERIES`` a query string
for every route whose query has a required parameter, keyed by (method, path template); a
route added to the table without an entry here fails the matrix, so no route can escape it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tenantgate.admin import AdminRoute

Ids = Mapping[str, str]
_A, _O = "/admin/v1", "/v1/organization"
_BRAVO_POLICY = "Allow group AAdmins to manage all-resources in compartment Bravo"

BODIES: dict[tuple[str, str], Callable[[Ids], dict[str, Any]]] = {
    ("POST", f"{_A}/compartments"): lambda ids: {"name": "sneaky", "parent_id": ids["Bravo"]},
    ("PATCH", f"{_A}/compartments/{{id}}"): lambda ids: {"name": "renamed"},
    ("POST", f"{_A}/compartments/{{id}}/move"): lambda ids: {"parent_id": ids["A"]},
    ("POST", f"{_A}/users"): lambda ids: {"name": "sneaky-user"},
    ("PATCH", f"{_A}/users/{{id}}"): lambda ids: {"description": "owned"},
    ("POST", f"{_A}/groups"): lambda ids: {"name": "sneaky-group"},
    ("PUT", f"{_A}/groups/{{id}}/members/{{user_id}}"): lambda ids: {},
    ("POST", f"{_A}/policies"): lambda ids: {"name": "sneaky", "text": _BRAVO_POLICY,
                                             "compartment_id": ids["Bravo"]},
    ("PUT", f"{_A}/policies/{{id}}"): lambda ids: {"name": "sneaky", "text": _BRAVO_POLICY},
    ("POST", f"{_A}/policies/explain"): lambda ids: {"compartment": ids["Bravo"], "verb": "manage",
                                                     "resource_type": "all-resources"},
    ("POST", f"{_A}/keys"): lambda ids: {"name": "sneaky", "compartment_id": ids["Bravo"],
                                         "allowed_models": ["chat-a"]},
    ("POST", f"{_A}/keys/{{id}}/rotate"): lambda ids: {},
    ("POST", f"{_A}/keys/{{id}}/secrets/{{slot}}/revoke"): lambda ids: {},
    ("POST", f"{_O}/projects"): lambda ids: {"name": "sneaky-project"},
    ("POST", f"{_O}/projects/{{project_id}}"): lambda ids: {"name": "renamed"},
    ("POST", f"{_O}/projects/{{project_id}}/archive"): lambda ids: {},
    ("POST", f"{_O}/projects/{{project_id}}/service_accounts"): lambda ids: {"name": "sneaky"},
    ("POST", f"{_A}/rate-card"): lambda ids: {"model": "chat-a", "input_per_1m": "0"},
}


QUERIES: dict[tuple[str, str], str] = {
    ("GET", f"{_O}/usage/completions"): "start_time=0",
    ("GET", f"{_O}/usage/embeddings"): "start_time=0",
    ("GET", f"{_O}/costs"): "start_time=0",
    ("GET", f"{_A}/usage/focus.csv"): "start_time=0",
}
"""The query string of every route whose query has a required parameter."""


def path_ids(route: AdminRoute, ids: Ids) -> dict[str, str]:
    """Bravo's object for each parameter of the route's path."""
    resource = route.path.split("/")[3]
    by_param = {
        "compartments": {"id": ids["Bravo"]},
        "users": {"id": ids["bob"], "user_id": ids["bob"]},
        "groups": {"id": ids["BAdmins"], "user_id": ids["bob"]},
        "policies": {"id": ids["bravo_policy"]},
        "keys": {"id": ids["bravo_key"], "slot": "1"},
        "projects": {"project_id": ids["Bravo"], "key_id": ids["bravo_key"]},
        "rate-card": {"id": "rce_" + "a" * 20},  # tenancy-wide: refused before any lookup
    }.get(resource, {})
    return {name: by_param[name] for name in _params(route.path)}


def fabricated(real: str) -> str:
    """An id of the same kind and length that names nothing."""
    prefix, _, rest = real.partition("_")
    return f"{prefix}_{'z' * len(rest)}" if rest else real


def request_for(route: AdminRoute, ids: Ids, *, fake: bool = False) -> tuple[str, dict[str, Any] | None]:
    """The route's path filled with Bravo's ids (or, with ``fake``, made-up ones) and its body."""
    values = path_ids(route, ids)
    if fake:
        values = {name: fabricated(value) for name, value in values.items()}
    path = route.path
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    if (route.method, route.path) in QUERIES:
        path += "?" + QUERIES[(route.method, route.path)]
    body = BODIES[(route.method, route.path)](ids) if route.body is not None else None
    if fake and body is not None:
        body = {key: fabricated(value) if value == ids.get("Bravo") else value for key, value in body.items()}
    return path, body


def _params(path: str) -> list[str]:
    return [segment[1:-1] for segment in path.split("/") if segment.startswith("{")]

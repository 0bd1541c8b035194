"""The admin router: templates, literal-before-parameter precedence, 404 and 405."""

from dataclasses import dataclass

import pytest

from tenantgate.admin.router import PathTemplate, Router, is_admin_path
from tenantgate.errors import MethodNotAllowed, RouteNotFound


@dataclass(frozen=True)
class Route:
    method: str
    path: str


ROUTES = [
    Route("GET", "/admin/v1/policies/{id}"),
    Route("PUT", "/admin/v1/policies/{id}"),
    Route("POST", "/admin/v1/policies/explain"),
    Route("PUT", "/admin/v1/groups/{id}/members/{user_id}"),
]


def test_parameters_are_extracted_by_name():
    route, params = Router(ROUTES).match("PUT", "/admin/v1/groups/grp_1/members/usr_2")
    assert (route, params) == (ROUTES[3], {"id": "grp_1", "user_id": "usr_2"})


def test_a_literal_segment_wins_over_a_parameter():
    router = Router(ROUTES)
    assert router.match("POST", "/admin/v1/policies/explain")[0] == ROUTES[2]
    assert router.match("GET", "/admin/v1/policies/pol_1") == (ROUTES[0], {"id": "pol_1"})
    with pytest.raises(MethodNotAllowed, match="use POST"):
        router.match("GET", "/admin/v1/policies/explain")


@pytest.mark.parametrize("path", ["/admin/v1/policies", "/admin/v1/policies/", "/admin/v1/policies/a/b",
                                  "admin/v1/policies/x", "/admin/v1/groups//members/u"])
def test_anything_else_is_not_found(path):
    with pytest.raises(RouteNotFound):
        Router(ROUTES).match("GET", path)


def test_a_known_path_with_another_method_is_405_listing_the_allowed_ones():
    with pytest.raises(MethodNotAllowed, match="use GET, PUT"):
        Router(ROUTES).match("DELETE", "/admin/v1/policies/pol_1")


def test_ambiguous_or_malformed_tables_are_refused():
    with pytest.raises(ValueError, match="parameter names"):
        Router([Route("GET", "/a/{x}"), Route("PUT", "/a/{y}")])
    with pytest.raises(ValueError, match="two routes"):
        Router([Route("GET", "/a"), Route("GET", "/a")])
    for bad in ("a/b", "/a/{x}/{x}", "/a/{x", "/a//b", "/a/x{y}"):
        with pytest.raises(ValueError, match="path template"):
            PathTemplate.parse(bad)


def test_admin_paths_are_recognised_by_prefix():
    assert is_admin_path("/admin/v1/users")
    assert is_admin_path("/v1/organization/projects")
    assert not is_admin_path("/v1/models")
    assert not is_admin_path("/admin/v2/users")

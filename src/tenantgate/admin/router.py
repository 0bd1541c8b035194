"""Match a method and path against templates such as ``/admin/v1/groups/{id}/members/{user_id}``.

Pure and table-driven: the same route table feeds this router and the OpenAPI document, so
the two cannot drift. Where two templates match, the one with a literal segment earliest
wins (``/policies/explain`` beats ``/policies/{id}``), so a literal path is never taken for an
id. A path that matches with another method is 405, one that matches nothing is 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from tenantgate.errors import MethodNotAllowed, RouteNotFound

ADMIN_PREFIXES = ("/admin/v1/", "/v1/organization/")
"""Every admin route starts with one of these: the app hands such paths to the admin API."""


def is_admin_path(path: str) -> bool:
    """Whether ``path`` belongs to the admin API (ours or OpenAI's Admin API shapes)."""
    return path.startswith(ADMIN_PREFIXES)


class Routable(Protocol):
    """What the router needs of a route: its method and path template."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


R = TypeVar("R", bound=Routable)


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A parsed template: literal segments and ``{name}`` parameters."""

    text: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        """Parse ``text``; parameters must be whole segments with distinct names."""
        if not text.startswith("/"):
            raise ValueError(f"a path template starts with '/': {text!r}")
        segments = tuple(text[1:].split("/"))
        names = [s[1:-1] for s in segments if _is_param(s)]
        if len(names) != len(set(names)) or any(not s or ("{" in s and not _is_param(s)) for s in segments):
            raise ValueError(f"malformed path template {text!r}")
        return cls(text, segments)

    @property
    def params(self) -> tuple[str, ...]:
        """The parameter names, in path order."""
        return tuple(s[1:-1] for s in self.segments if _is_param(s))

    @property
    def rank(self) -> tuple[int, ...]:
        """Sort key: smaller is more specific (a literal segment ranks before a parameter)."""
        return tuple(1 if _is_param(s) else 0 for s in self.segments)

    @property
    def shape(self) -> tuple[str, ...]:
        """The segments with parameters unnamed: two templates of one shape would shadow each other."""
        return tuple("{}" if _is_param(s) else s for s in self.segments)

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """The parameters when ``parts`` (the path split on ``/``) fits; None otherwise."""
        if len(parts) != len(self.segments):
            return None
        found: dict[str, str] = {}
        for segment, part in zip(self.segments, parts, strict=True):
            if _is_param(segment):
                if not part:
                    return None
                found[segment[1:-1]] = part
            elif segment != part:
                return None
        return found


def _is_param(segment: str) -> bool:
    return len(segment) > 2 and segment[0] == "{" and segment[-1] == "}"


class Router(Generic[R]):
    """Finds the route for a request among a fixed table of routes."""

    def __init__(self, routes: Iterable[R]) -> None:
        self._by_template: dict[str, tuple[PathTemplate, dict[str, R]]] = {}
        for route in routes:
            _, methods = self._by_template.setdefault(route.path, (PathTemplate.parse(route.path), {}))
            if route.method in methods:
                raise ValueError(f"two routes for {route.method} {route.path}")
            methods[route.method] = route
        shapes = [template.shape for template, _ in self._by_template.values()]
        if len(shapes) != len(set(shapes)):
            raise ValueError("two path templates differ only in parameter names; one would shadow the other")
        self._ordered = sorted(self._by_template.values(), key=lambda item: item[0].rank)

    @property
    def templates(self) -> Mapping[str, Mapping[str, R]]:
        """Every template with its routes by method (for the OpenAPI document and tests)."""
        return {text: methods for text, (_, methods) in self._by_template.items()}

    def match(self, method: str, path: str) -> tuple[R, dict[str, str]]:
        """The route and its path parameters; RouteNotFound (404) or MethodNotAllowed (405)."""
        parts = path[1:].split("/") if path.startswith("/") else None
        if parts is not None:
            for template, methods in self._ordered:
                params = template.match(parts)
                if params is None:
                    continue
                route = methods.get(method)
                if route is None:
                    allowed = ", ".join(sorted(methods))
                    raise MethodNotAllowed(f"{method} is not allowed on {path}; use {allowed}.")
                return route, params
        raise RouteNotFound(f"Unknown path: {method} {path}")

"""Decide whether a request is allowed: a pure function of compiled statements and a context.

``CompiledPolicies`` is built once from every statement in force and answers
``evaluate(context) -> Decision``. Access is denied by default (Cedar ``is_authorized``);
it is allowed iff some statement matches the subject, grants a verb at least the one
required, covers the requested resource type, is located at the target compartment or an
ancestor of it, and has a true condition (or none). Every matching statement's id is
reported so audit events can cite them.

Statements are indexed by (requested resource type, required verb) after expanding
families and verbs, then by location, so one evaluation looks only at statements located
on the target's own path. Compiling is pure and cheap: callers rebuild on any change
instead of patching the index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tenantgate.iam._policy_conditions import Check, compile_condition
from tenantgate.iam.policy_model import (
    AnyGroup,
    AnyUser,
    CompartmentId,
    CompartmentPath,
    DynamicGroups,
    Groups,
    ResourceType,
    Statement,
    Subject,
    Tenancy,
    Verb,
)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Everything a decision may depend on, as plain values; the caller supplies the time.

    ``compartment_path`` is the target compartment's names from the root (``()`` is the
    tenancy itself); ``compartment_ids``, when known, are the ids of the same compartments
    in the same order, which ``compartment id`` locations match against. Optional fields
    left ``None`` make conditions that name them false.
    """

    principal_type: str
    principal_id: str
    verb: Verb
    resource_type: ResourceType
    compartment_path: tuple[str, ...] = ()
    compartment_ids: tuple[str, ...] = ()
    user_name: str | None = None
    group_ids: frozenset[str] = field(default_factory=frozenset)
    group_names: frozenset[str] = field(default_factory=frozenset)
    dynamic_group_ids: frozenset[str] = field(default_factory=frozenset)
    dynamic_group_names: frozenset[str] = field(default_factory=frozenset)
    operation: str | None = None
    model: str | None = None
    region: str | None = None
    ip: str | None = None
    utc_timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome: allowed or not, the statements that allowed it, and why conditions failed."""

    allowed: bool
    matched_statement_ids: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


DENY = Decision(allowed=False)
"""The default decision when no statement applies."""

SubjectCheck = Callable[[RequestContext], bool]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement reduced to what the hot path needs."""

    order: int
    id: str
    subject: SubjectCheck
    condition: Check | None
    attached_to: tuple[str, ...]


_Bucket = dict[object, list[_Compiled]]


class CompiledPolicies:
    """An immutable index over a set of statements; build a new one when policies change."""

    __slots__ = ("_by_id", "_by_path", "statements")

    def __init__(self, statements: Iterable[Statement]) -> None:
        self.statements: tuple[Statement, ...] = tuple(statements)
        self._by_path: dict[tuple[ResourceType, Verb], _Bucket] = {}
        self._by_id: dict[tuple[ResourceType, Verb], _Bucket] = {}
        seen: set[str] = set()
        for order, statement in enumerate(self.statements):
            if statement.id in seen:
                raise ValueError(f"duplicate statement id {statement.id!r}")
            seen.add(statement.id)
            self._add(order, statement)

    def _add(self, order: int, statement: Statement) -> None:
        """File the statement under every (type, verb) it grants and its location key."""
        condition = statement.condition
        compiled = _Compiled(
            order=order,
            id=statement.id,
            subject=compile_subject(statement.subject),
            condition=None if condition is None else compile_condition(condition, statement.id),
            attached_to=statement.attached_to,
        )
        location = statement.location
        index = self._by_id if isinstance(location, CompartmentId) else self._by_path
        key: object = _location_key(location)
        for resource_type in statement.resource_type.covered():
            for verb in Verb:
                if verb <= statement.verb:
                    index.setdefault((resource_type, verb), {}).setdefault(key, []).append(compiled)

    def evaluate(self, context: RequestContext) -> Decision:
        """Allow iff at least one statement matches; deny by default. Pure and thread-safe."""
        matched: list[_Compiled] = []
        errors: list[str] = []
        action = (context.resource_type, context.verb)
        path = context.compartment_path
        bucket = self._by_path.get(action)
        if bucket is not None:
            for depth in range(len(path) + 1):
                candidates = bucket.get(path[:depth])
                if candidates:
                    _collect(candidates, context, matched, errors)
        by_id = self._by_id.get(action)
        if by_id is not None and context.compartment_ids:
            for depth, compartment_id in enumerate(context.compartment_ids, start=1):
                candidates = by_id.get(compartment_id)
                if candidates:
                    _collect(_inside(candidates, path[:depth]), context, matched, errors)
        if not matched:
            return Decision(False, (), tuple(dict.fromkeys(errors))) if errors else DENY
        if len(matched) > 1:
            matched.sort(key=lambda c: c.order)
        return Decision(True, tuple(c.id for c in matched), tuple(dict.fromkeys(errors)))


def _collect(
    candidates: list[_Compiled], context: RequestContext, matched: list[_Compiled], errors: list[str]
) -> None:
    """Append the candidates whose subject and condition hold."""
    for candidate in candidates:
        if not candidate.subject(context):
            continue
        if candidate.condition is None or candidate.condition(context, errors):
            matched.append(candidate)


def _inside(candidates: list[_Compiled], path: tuple[str, ...]) -> list[_Compiled]:
    """Statements whose policy is attached at ``path`` or above: an id never reaches outside."""
    return [c for c in candidates if path[: len(c.attached_to)] == c.attached_to]


def _location_key(location: Tenancy | CompartmentPath | CompartmentId) -> object:
    """Tenancy is the empty path; compartment ids are keyed by the id itself."""
    if isinstance(location, Tenancy):
        return ()
    if isinstance(location, CompartmentPath):
        return location.path
    return location.id


def compile_subject(subject: Subject) -> SubjectCheck:
    """A closure telling whether the request's principal is in ``subject``."""
    if isinstance(subject, AnyUser):
        return lambda context: True
    if isinstance(subject, AnyGroup):
        return _in_any_group
    names, ids = frozenset(subject.names), frozenset(subject.ids)
    if isinstance(subject, Groups):
        return lambda c: not (names.isdisjoint(c.group_names) and ids.isdisjoint(c.group_ids))
    if isinstance(subject, DynamicGroups):
        return lambda c: not (names.isdisjoint(c.dynamic_group_names) and ids.isdisjoint(c.dynamic_group_ids))
    raise ValueError(f"unknown subject {subject!r}")


def _in_any_group(context: RequestContext) -> bool:
    """``any-group``: a member of some group or dynamic group."""
    return bool(
        context.group_ids or context.group_names or context.dynamic_group_ids or context.dynamic_group_names
    )

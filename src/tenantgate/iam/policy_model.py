"""The policy language as frozen values: what a parsed ``Allow`` statement means.

The parser builds these and the evaluator compiles them. Keeping the tree as plain data
lets the store keep the source text, the console render statements and tests build them
without going through text. The grammar follows OCI IAM's
(https://docs.oracle.com/en-us/iaas/Content/Identity/Concepts/policysyntax.htm), see
``docs/reference/policy-language.md``.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, time

COMPARTMENT_DEPTH_MAX = 6
"""Compartments nest at most six levels below the tenancy (as in OCI)."""


class Verb(enum.IntEnum):
    """OCI's verbs, ordered so that a larger verb includes every smaller one."""

    INSPECT = 1
    READ = 2
    USE = 3
    MANAGE = 4

    @property
    def keyword(self) -> str:
        """The verb as written in a statement."""
        return self.name.lower()


class ResourceType(enum.StrEnum):
    """Resource types; a family (or ``all-resources``) covers its members."""

    GENERATIVE_AI_FAMILY = "generative-ai-family"
    GENERATIVE_AI_CHAT = "generative-ai-chat"
    GENERATIVE_AI_EMBEDDING = "generative-ai-embedding"
    GENERATIVE_AI_MODEL = "generative-ai-model"
    GENERATIVE_AI_APIKEY = "generative-ai-apikey"
    COMPARTMENTS = "compartments"
    USERS = "users"
    GROUPS = "groups"
    POLICIES = "policies"
    CREDITS_FAMILY = "credits-family"
    AUDIT_EVENTS = "audit-events"
    ALL_RESOURCES = "all-resources"

    def covered(self) -> frozenset[ResourceType]:
        """Every type a grant on this type includes: itself, its members, or everything."""
        return _COVERED[self]

    def covers(self, requested: ResourceType) -> bool:
        """Whether a grant on this type includes a request on ``requested``."""
        return requested in _COVERED[self]


_GENERATIVE_AI_MEMBERS = frozenset(
    {
        ResourceType.GENERATIVE_AI_CHAT,
        ResourceType.GENERATIVE_AI_EMBEDDING,
        ResourceType.GENERATIVE_AI_MODEL,
        ResourceType.GENERATIVE_AI_APIKEY,
    }
)
_COVERED: dict[ResourceType, frozenset[ResourceType]] = {rt: frozenset({rt}) for rt in ResourceType}
_COVERED[ResourceType.GENERATIVE_AI_FAMILY] = _GENERATIVE_AI_MEMBERS | {ResourceType.GENERATIVE_AI_FAMILY}
_COVERED[ResourceType.ALL_RESOURCES] = frozenset(ResourceType)


# Subjects: who a statement grants to.


@dataclass(frozen=True, slots=True)
class AnyUser:
    """``any-user``: every authenticated principal, users and API keys alike."""


@dataclass(frozen=True, slots=True)
class AnyGroup:
    """``any-group``: every principal that belongs to at least one group or dynamic group."""


@dataclass(frozen=True, slots=True)
class Groups:
    """``group A, group id X``: members of any of the named groups or group ids."""

    names: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DynamicGroups:
    """``dynamic-group S``: principals (e.g. service keys) the caller placed in these groups."""

    names: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()


Subject = AnyUser | AnyGroup | Groups | DynamicGroups


# Locations: where a statement applies (that compartment and its descendants).


@dataclass(frozen=True, slots=True)
class Tenancy:
    """``in tenancy``: the root compartment, hence everything."""


@dataclass(frozen=True, slots=True)
class CompartmentPath:
    """``in compartment A:B``, resolved to its absolute path from the root."""

    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompartmentId:
    """``in compartment id X``: resolved by the request's compartment ids at evaluation."""

    id: str


Location = Tenancy | CompartmentPath | CompartmentId


# Values a condition compares with.


@dataclass(frozen=True, slots=True)
class StringValue:
    """``'text'``: compared exactly (case-sensitive)."""

    text: str


@dataclass(frozen=True, slots=True)
class PatternValue:
    """``/gpt-*/``: ``*`` matches any run of characters, everything else literally."""

    pattern: str


@dataclass(frozen=True, slots=True)
class CidrValue:
    """``'10.0.0.0/8'`` or a single address, for ``request.ip``."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TimestampValue:
    """An ISO-8601 instant (UTC when no offset is given) for ``before``/``after``."""

    at: datetime


@dataclass(frozen=True, slots=True)
class TimeRangeValue:
    """``between 'HH:MM:SSZ' and 'HH:MM:SSZ'``; a start after the end wraps past midnight."""

    start: time
    end: time


Scalar = StringValue | PatternValue | CidrValue


@dataclass(frozen=True, slots=True)
class ListValue:
    """``('a', /b*/)``: the operand of ``in`` and ``not in``."""

    items: tuple[Scalar, ...]


Value = Scalar | ListValue | TimestampValue | TimeRangeValue


class Operator(enum.StrEnum):
    """Comparison operators; which ones a variable accepts depends on its kind."""

    EQ = "="
    NE = "!="
    IN = "in"
    NOT_IN = "not in"
    BEFORE = "before"
    AFTER = "after"
    BETWEEN = "between"


class VariableKind(enum.Enum):
    """How a condition variable's values are written and compared."""

    STRING = "string"
    IP = "ip"
    TIMESTAMP = "timestamp"
    TIME_OF_DAY = "time-of-day"
    DAY_OF_WEEK = "day-of-week"


VARIABLES: dict[str, VariableKind] = {
    "request.model": VariableKind.STRING,
    "request.region": VariableKind.STRING,
    "request.operation": VariableKind.STRING,
    "request.principal.type": VariableKind.STRING,
    "request.principal.id": VariableKind.STRING,
    "request.user.name": VariableKind.STRING,
    "target.compartment.name": VariableKind.STRING,
    "target.compartment.id": VariableKind.STRING,
    "request.ip": VariableKind.IP,
    "request.utc-timestamp": VariableKind.TIMESTAMP,
    "request.utc-timestamp.time-of-day": VariableKind.TIME_OF_DAY,
    "request.utc-timestamp.day-of-week": VariableKind.DAY_OF_WEEK,
}
"""Every variable a condition may name, with its kind."""

_EQUALITY = frozenset({Operator.EQ, Operator.NE, Operator.IN, Operator.NOT_IN})
OPERATORS: dict[VariableKind, frozenset[Operator]] = {
    VariableKind.STRING: _EQUALITY,
    VariableKind.IP: _EQUALITY,
    VariableKind.DAY_OF_WEEK: _EQUALITY,
    VariableKind.TIMESTAMP: frozenset({Operator.BEFORE, Operator.AFTER}),
    VariableKind.TIME_OF_DAY: frozenset({Operator.BETWEEN}),
}
"""The operators each kind of variable accepts."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """``variable op value``: false when the request does not carry the variable."""

    variable: str
    operator: Operator
    value: Value


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``any {a, b}``: true when at least one child is."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """``all {a, b}``: true when every child is."""

    conditions: tuple[Condition, ...]


Condition = Comparison | AnyOf | AllOf


@dataclass(frozen=True, slots=True)
class Statement:
    """One ``Allow`` statement, with the stable id that decisions and audit events cite.

    ``attached_to`` is the path of the compartment the policy is attached to; the
    statement never reaches outside it (the evaluator enforces this for
    ``compartment id`` locations, the parser for the others).
    """

    id: str
    subject: Subject
    verb: Verb
    resource_type: ResourceType
    location: Location
    condition: Condition | None = None
    attached_to: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

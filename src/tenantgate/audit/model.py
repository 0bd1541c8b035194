"""Audit values: the ``AuditEntry`` a caller describes and the chained ``AuditEvent`` stored.

A caller says what happened (who, what, the outcome, the statements that decided); the store
adds where it sits in the chain (``seq``, ``prev_hash``, ``hash``), an id and a timestamp.
Entries are checked when they are built, so a malformed one fails at the caller, never
inside a group-committed batch where it would take its neighbours down with it.

``details`` is JSON without floats: a float has no single canonical text, and the hash must
come out the same after any database round trip. Details never hold secrets or prompts.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeAlias, get_args

ActorType = Literal["user", "apikey", "anonymous", "system", "static-key"]
Outcome = Literal["succeeded", "denied", "failed"]
JsonValue: TypeAlias = "str | int | bool | list[JsonValue] | dict[str, JsonValue] | None"
Clock = Callable[[], datetime]
"""Returns the current aware UTC time; the store stamps events with it."""
RandomChoice = Callable[[str], str]

ACTOR_TYPES: frozenset[str] = frozenset(get_args(ActorType))
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))
ACTION_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+")
"""Dotted, lower case: ``iam.policy.create``, ``inference.denied``."""
ACTION_LENGTH_MAX = 100
TARGET_TYPE_LENGTH_MAX = 50
ID_LENGTH_MAX = 32

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_ID_RANDOM_CHARS = 20  # 100 random bits: unique across replicas without coordination


class InvalidAuditEntry(ValueError):
    """An entry the chain cannot hold; always a bug in the code that built it, never a client's."""


def new_event_id(choice: RandomChoice = secrets.choice) -> str:
    """A fresh ``aud_…`` id; random so replicas never need to agree on one."""
    return "aud_" + "".join(choice(_ID_ALPHABET) for _ in range(_ID_RANDOM_CHARS))


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """What happened, as the gateway reports it; the store turns it into a chained event."""

    actor_type: ActorType
    actor_id: str
    action: str
    outcome: Outcome
    actor_name: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    compartment_id: str | None = None
    statement_ids: tuple[str, ...] = ()
    request_id: str | None = None
    client_ip: str | None = None
    details: Mapping[str, JsonValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_entry(self)
        object.__setattr__(self, "statement_ids", tuple(self.statement_ids))
        object.__setattr__(self, "details", plain_json(self.details))


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One link of the chain: the entry plus its place (``seq``), id, time and hashes."""

    seq: int
    id: str
    occurred_at: datetime
    actor_type: ActorType
    actor_id: str
    actor_name: str | None
    action: str
    outcome: Outcome
    target_type: str | None
    target_id: str | None
    compartment_id: str | None
    statement_ids: tuple[str, ...]
    request_id: str | None
    client_ip: str | None
    details: Mapping[str, JsonValue]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last link as the head record states it: how long the chain is and how it ends."""

    seq: int
    hash: str
    updated_at: datetime | None = None


def check_entry(entry: AuditEntry) -> None:
    """Raise ``InvalidAuditEntry`` unless every field fits the schema and the canonical encoding."""
    if entry.actor_type not in ACTOR_TYPES:
        raise InvalidAuditEntry(f"unknown actor_type {entry.actor_type!r}")
    if entry.outcome not in OUTCOMES:
        raise InvalidAuditEntry(f"unknown outcome {entry.outcome!r}")
    if len(entry.action) > ACTION_LENGTH_MAX or not ACTION_PATTERN.fullmatch(entry.action):
        raise InvalidAuditEntry(f"action {entry.action!r} is not a dotted lower-case name")
    if entry.target_type is not None and len(entry.target_type) > TARGET_TYPE_LENGTH_MAX:
        raise InvalidAuditEntry("target_type is too long")
    if entry.compartment_id is not None and len(entry.compartment_id) > ID_LENGTH_MAX:
        raise InvalidAuditEntry("compartment_id is too long")
    if not isinstance(entry.details, Mapping):
        raise InvalidAuditEntry("details must be a mapping")
    if not isinstance(entry.actor_id, str) or not entry.actor_id:
        raise InvalidAuditEntry("actor_id must be a non-empty string")
    texts = [entry.actor_id, entry.actor_name, entry.target_type, entry.target_id,
             entry.compartment_id, entry.request_id, entry.client_ip, *entry.statement_ids]
    for text in texts:
        if text is not None:
            _check_text(text)


def _check_text(value: object) -> None:
    # PostgreSQL cannot store NUL or lone surrogates; refusing them here keeps one bad value
    # from failing a whole batch at commit.
    if not isinstance(value, str):
        raise InvalidAuditEntry(f"expected a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidAuditEntry("strings must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidAuditEntry("strings must be valid Unicode (no lone surrogates)") from None


def plain_json(value: object, where: str = "details") -> JsonValue:
    """A copy of ``value`` as plain dicts and lists, so it reads back from JSON unchanged."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        _check_text(value)
        return value
    if isinstance(value, list | tuple):
        return [plain_json(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        copied: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidAuditEntry(f"{where} keys must be strings")
            _check_text(key)
            copied[key] = plain_json(item, f"{where}.{key}")
        return copied
    raise InvalidAuditEntry(f"{where} holds a {type(value).__name__}; only JSON without floats")

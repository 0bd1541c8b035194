"""The identity model as frozen values: tenancy, compartments, users, groups, API keys, policies.

``store.py`` builds these from rows and hands them out; nothing here touches the database,
the clock or the network. Timestamps are always passed in (from the store's clock) and ids
are drawn through an injectable ``choice`` so tests can pin them. Secrets never appear in
these values: an API key carries only each secret slot's metadata; the token exists once,
in ``CreatedApiKey``, when it is minted.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from tenantgate.errors import InvalidParameterValue
from tenantgate.iam.api_keys import RandomChoice

Clock = Callable[[], datetime]
"""Returns the current aware UTC time; the store calls it, pure code takes its result."""

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SlotState = Literal["active", "expired", "revoked"]

PATH_SEPARATOR = ":"
NAME_LENGTH_MAX = 100
ADMINISTRATORS_GROUP = "Administrators"
"""The built-in group created with the tenancy; its members administer everything."""

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is rewritten at most this often per secret, so authentication stays a read."""

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_ID_LENGTH = 20  # 100 random bits: unique without coordination between replicas


def new_id(prefix: str, choice: RandomChoice = secrets.choice) -> str:
    """A fresh typed id such as ``cmp_…``; the prefix tells what an id names when it is logged."""
    return f"{prefix}_" + "".join(choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def check_name(name: str, *, param: str = "name") -> str:
    """Return ``name`` if it can name a compartment, user, group, key or policy.

    The path separator is refused so every compartment path parses back to the same
    compartments; control characters are refused so names render safely in logs and the
    console. Anything else (quotes, ``%``, ``;``…) is allowed: names are bound parameters.
    """
    if not 1 <= len(name) <= NAME_LENGTH_MAX or name != name.strip():
        raise InvalidParameterValue(
            f"A name must be 1 to {NAME_LENGTH_MAX} characters without surrounding spaces.",
            param=param,
        )
    if PATH_SEPARATOR in name or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidParameterValue(
            f"A name must not contain '{PATH_SEPARATOR}' or control characters.", param=param
        )
    return name


def parse_path(text: str) -> tuple[str, ...]:
    """``"Finance:Risk"`` -> ``("Finance", "Risk")``; ``""`` is the root compartment."""
    if text == "":
        return ()
    return tuple(check_name(part, param="compartment") for part in text.split(PATH_SEPARATOR))


def format_path(path: tuple[str, ...]) -> str:
    """``("Finance", "Risk")`` -> ``"Finance:Risk"``, the form users type and policies use."""
    return PATH_SEPARATOR.join(path)


def parse_ip_ranges(ranges: list[str] | tuple[str, ...] | None) -> tuple[IpNetwork, ...] | None:
    """Validate a key's allowed client networks (a bare address is a /32 or /128)."""
    if ranges is None:
        return None
    try:
        return tuple(ipaddress.ip_network(text, strict=False) for text in ranges)
    except ValueError as exc:
        raise InvalidParameterValue(f"Not an IP range: {exc}", param="allowed_ip_ranges") from exc


@dataclass(frozen=True, slots=True)
class Tenancy:
    """The installation's one tenancy; ``id`` is its root compartment's id."""

    id: str
    name: str
    administrators_group_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Compartment:
    """A node of the compartment tree; ``path`` is the names below the root (``()`` for the root)."""

    id: str
    name: str
    parent_id: str | None
    path: tuple[str, ...]
    description: str
    created_at: datetime

    @property
    def path_text(self) -> str:
        """The path as written in policies: ``Finance:Risk:Models``."""
        return format_path(self.path)

    @property
    def is_root(self) -> bool:
        """Whether this is the tenancy itself."""
        return self.parent_id is None


@dataclass(frozen=True, slots=True)
class User:
    """A person (or robot) who may own API keys and belong to groups."""

    id: str
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Group:
    """A named set of users that policies grant to; ``built_in`` groups cannot be removed."""

    id: str
    name: str
    description: str
    built_in: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SecretSlot:
    """What is known about one of a key's two secrets: never the secret, only its metadata."""

    slot: int
    hint: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> SlotState:
        """Whether this secret authenticates at ``now``; revocation outranks expiry."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def needs_touch(self, now: datetime) -> bool:
        """Whether authenticating at ``now`` should rewrite ``last_used_at``."""
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_RESOLUTION


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key, owned by exactly one user or one compartment (a service key).

    ``compartment_id`` is where its requests go unless a header picks another compartment:
    the owner for a service key, the chosen project for a user key (None: the tenancy).
    """

    id: str
    name: str
    owner_user_id: str | None
    owner_compartment_id: str | None
    compartment_id: str | None
    allowed_models: tuple[str, ...] | None
    allowed_ip_ranges: tuple[IpNetwork, ...] | None
    created_at: datetime
    revoked_at: datetime | None
    slots: tuple[SecretSlot, ...]

    @property
    def key_id(self) -> str:
        """The id embedded in the key's tokens (``tg-<key_id><slot>_…``)."""
        return self.id.removeprefix("key_")

    @property
    def last_used_at(self) -> datetime | None:
        """When any of the key's secrets last authenticated (to within a minute)."""
        used = [slot.last_used_at for slot in self.slots if slot.last_used_at is not None]
        return max(used, default=None)

    def slot(self, number: int) -> SecretSlot | None:
        """The metadata of secret ``number`` (1 or 2), if that slot was ever minted."""
        return next((slot for slot in self.slots if slot.slot == number), None)


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A freshly minted secret and the key it belongs to: the only time the token exists."""

    token: str = field(repr=False)
    key: ApiKey


@dataclass(frozen=True, slots=True)
class AuthenticatedKey:
    """The outcome of a successful authentication: the key, its owner and the slot used."""

    key: ApiKey
    owner: User | Compartment
    slot: int


@dataclass(frozen=True, slots=True)
class Policy:
    """A stored policy document, attached to a compartment; ``attached_to`` is that path."""

    id: str
    name: str
    compartment_id: str
    attached_to: tuple[str, ...]
    text: str
    description: str
    created_at: datetime
    updated_at: datetime

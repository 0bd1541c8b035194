"""The admin API's JSON objects back into ``tenantgate.iam.model`` values, for the remote store.

The inverse of ``admin/views.py``, written against the documented wire format rather than
by importing the server's Structs, so the CLI does not load the server to decode a list.
Unix seconds become aware UTC datetimes. A key's ``compartment_id`` is the one the server
resolved (the tenancy's id for a user key without a project, where the store says None).
Anything that does not have the documented shape raises ``UnexpectedAnswer``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from tenantgate.cli._admin_client import UnexpectedAnswer
from tenantgate.iam.explain import CitedStatement, Explanation
from tenantgate.iam.model import (
    PATH_SEPARATOR,
    ApiKey,
    Compartment,
    CreatedApiKey,
    Group,
    Policy,
    SecretSlot,
    User,
    parse_ip_ranges,
)

T = TypeVar("T")
Json = dict[str, Any]


def decoded(build: Callable[[Json], T], data: Any) -> T:
    """``build(data)``, with a missing or mistyped field reported as an unexpected answer."""
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnexpectedAnswer(f"the gateway's answer is not what the admin API returns ({exc!r})") from None


def listed(build: Callable[[Json], T], data: Any) -> list[T]:
    """The objects of a list response (``{"object": "list", "data": [...]}``)."""
    return decoded(lambda page: [build(item) for item in page["data"]], data)


def moment(seconds: int) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def _maybe_moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else moment(seconds)


def _path(text: str) -> tuple[str, ...]:
    return tuple(text.split(PATH_SEPARATOR)) if text else ()


def compartment(data: Json) -> Compartment:
    """A ``compartment`` object."""
    return Compartment(id=data["id"], name=data["name"], parent_id=data["parent_id"],
                       path=_path(data["path"]), description=data["description"],
                       created_at=moment(data["created_at"]))


def user(data: Json) -> User:
    """A ``user`` object."""
    return User(id=data["id"], name=data["name"], description=data["description"],
                created_at=moment(data["created_at"]))


def group(data: Json) -> Group:
    """A ``group`` object."""
    return Group(id=data["id"], name=data["name"], description=data["description"],
                 built_in=bool(data["built_in"]), created_at=moment(data["created_at"]))


def policy(data: Json) -> Policy:
    """A ``policy`` object; ``compartment_path`` becomes ``attached_to``."""
    return Policy(id=data["id"], name=data["name"], compartment_id=data["compartment_id"],
                  attached_to=_path(data["compartment_path"]), text=data["text"],
                  description=data["description"], created_at=moment(data["created_at"]),
                  updated_at=moment(data["updated_at"]))


def _slot(data: Json) -> SecretSlot:
    return SecretSlot(slot=data["slot"], hint=data["hint"], created_at=moment(data["created_at"]),
                      expires_at=_maybe_moment(data["expires_at"]),
                      revoked_at=_maybe_moment(data["revoked_at"]),
                      last_used_at=_maybe_moment(data["last_used_at"]))


def api_key(data: Json) -> ApiKey:
    """An ``api_key`` object (secret slots' metadata only)."""
    owner = data["owner"]
    models, ranges = data["allowed_models"], data["allowed_ip_ranges"]
    return ApiKey(
        id=data["id"], name=data["name"],
        owner_user_id=owner["id"] if owner["type"] == "user" else None,
        owner_compartment_id=owner["id"] if owner["type"] == "compartment" else None,
        compartment_id=data["compartment_id"],
        allowed_models=tuple(models) if models is not None else None,
        allowed_ip_ranges=parse_ip_ranges(tuple(ranges) if ranges is not None else None),
        created_at=moment(data["created_at"]), revoked_at=_maybe_moment(data["revoked_at"]),
        slots=tuple(_slot(item) for item in data["secrets"]),
    )


def created_api_key(data: Json) -> CreatedApiKey:
    """A minted key: the one answer that carries a ``token``."""
    token = data["token"]
    if not isinstance(token, str):
        raise TypeError("token is not a string")
    return CreatedApiKey(token, api_key(data))


def _cited(data: Json) -> CitedStatement:
    return CitedStatement(id=data["id"], text=data["text"])


def explanation(data: Json) -> Explanation:
    """A ``policy.explanation`` object, as ``iam.explain`` would have returned it."""
    return Explanation(
        allowed=bool(data["allowed"]), principal=data["principal"], verb=data["verb"],
        resource_type=data["resource_type"], compartment=data["compartment"],
        decided_by=tuple(_cited(item) for item in data["decided_by"]),
        near_misses=tuple(_cited(item) for item in data["near_misses"]),
        errors=tuple(data["errors"]),
    )

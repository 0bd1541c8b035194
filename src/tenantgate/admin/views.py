"""Identity objects as the admin API returns them: msgspec Structs, built from the model.

No view carries a secret digest. A key's token appears in exactly one view,
``MintedKeyView``, returned by create and rotate and never again; listings and reads
show each secret's last four characters (``hint``) only. Times are Unix seconds, as in
OpenAI's API. The Structs also generate the response schemas of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Generic, Literal, TypeVar

import msgspec

from tenantgate.iam.api_keys import parse_presented
from tenantgate.iam.explain import CitedStatement, Explanation
from tenantgate.iam.model import ApiKey, Compartment, CreatedApiKey, Group, Policy, SlotState, User

T = TypeVar("T")


def unix(moment: datetime) -> int:
    """Seconds since the epoch, as OpenAI's objects give times."""
    return int(moment.timestamp())


def maybe_unix(moment: datetime | None) -> int | None:
    """``unix`` for optional times."""
    return None if moment is None else unix(moment)


class View(msgspec.Struct, kw_only=True):
    """Base of every response object."""


class Page(View, Generic[T], kw_only=True):
    """A list response; everything visible is returned at once (``has_more`` is always false)."""

    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool = False


class Deleted(View, kw_only=True):
    """The answer to a deletion: which object is gone."""

    id: str
    object: str
    deleted: bool = True


class CompartmentView(View, kw_only=True):
    """A compartment; ``path`` is how policies name it (``""`` for the tenancy itself)."""

    id: str
    object: Literal["compartment"] = "compartment"
    name: str
    description: str
    parent_id: str | None
    path: str
    created_at: int


class UserView(View, kw_only=True):
    """A user."""

    id: str
    object: Literal["user"] = "user"
    name: str
    description: str
    created_at: int


class GroupView(View, kw_only=True):
    """A group; the ``built_in`` Administrators group can be neither deleted nor emptied."""

    id: str
    object: Literal["group"] = "group"
    name: str
    description: str
    built_in: bool
    created_at: int


class MembershipView(View, kw_only=True):
    """One user's membership of one group."""

    object: Literal["group.membership"] = "group.membership"
    group_id: str
    user_id: str
    deleted: bool = False


class PolicyView(View, kw_only=True):
    """A policy document and the compartment it is attached to."""

    id: str
    object: Literal["policy"] = "policy"
    name: str
    description: str
    compartment_id: str
    compartment_path: str
    text: str
    created_at: int
    updated_at: int


class KeyOwnerView(View, kw_only=True):
    """Who owns a key: a user, or a compartment (a service key)."""

    type: Literal["user", "compartment"]
    id: str


class SecretView(View, kw_only=True):
    """One of a key's two secret slots: metadata and the secret's last four characters."""

    slot: int
    hint: str
    state: SlotState
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None


class KeyView(View, kw_only=True):
    """An API key; ``compartment_id`` is where its requests go (its project or owner)."""

    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    owner: KeyOwnerView
    compartment_id: str
    allowed_models: list[str] | None
    allowed_ip_ranges: list[str] | None
    status: Literal["active", "expired", "revoked"]
    created_at: int
    revoked_at: int | None
    last_used_at: int | None
    secrets: list[SecretView]


class MintedKeyView(KeyView, kw_only=True):
    """A key with the secret just minted: ``token`` is shown here once and never again."""

    token: str
    minted_slot: int


class CitedStatementView(View, kw_only=True):
    """A statement by id and text."""

    id: str
    text: str


class ExplanationView(View, kw_only=True):
    """Why a principal is (not) allowed something, with the statements that decided it."""

    object: Literal["policy.explanation"] = "policy.explanation"
    allowed: bool
    summary: str
    principal: str
    verb: str
    resource_type: str
    compartment: str
    decided_by: list[CitedStatementView]
    near_misses: list[CitedStatementView]
    errors: list[str]


def page(items: Sequence[T]) -> Page[T]:
    """A complete list response."""
    return Page(data=list(items))


def compartment_view(compartment: Compartment) -> CompartmentView:
    """The compartment as the admin API shows it."""
    return CompartmentView(
        id=compartment.id, name=compartment.name, description=compartment.description,
        parent_id=compartment.parent_id, path=compartment.path_text, created_at=unix(compartment.created_at),
    )


def user_view(user: User) -> UserView:
    """The user as the admin API shows it."""
    return UserView(id=user.id, name=user.name, description=user.description,
                    created_at=unix(user.created_at))


def group_view(group: Group) -> GroupView:
    """The group as the admin API shows it."""
    return GroupView(id=group.id, name=group.name, description=group.description,
                     built_in=group.built_in, created_at=unix(group.created_at))


def policy_view(policy: Policy) -> PolicyView:
    """The policy with the path it is attached to."""
    return PolicyView(
        id=policy.id, name=policy.name, description=policy.description,
        compartment_id=policy.compartment_id, compartment_path=":".join(policy.attached_to),
        text=policy.text, created_at=unix(policy.created_at), updated_at=unix(policy.updated_at),
    )


def key_view(key: ApiKey, *, compartment_id: str, now: datetime) -> KeyView:
    """The key's public record; ``compartment_id`` is the resolved target compartment."""
    secrets = [
        SecretView(slot=s.slot, hint=s.hint, state=s.state(now), created_at=unix(s.created_at),
                   expires_at=maybe_unix(s.expires_at), revoked_at=maybe_unix(s.revoked_at),
                   last_used_at=maybe_unix(s.last_used_at))
        for s in key.slots
    ]
    owner = (KeyOwnerView(type="user", id=key.owner_user_id) if key.owner_user_id is not None
             else KeyOwnerView(type="compartment", id=str(key.owner_compartment_id)))
    status: Literal["active", "expired", "revoked"] = (
        "revoked" if key.revoked_at is not None
        else "active" if any(s.state == "active" for s in secrets) else "expired"
    )
    return KeyView(
        id=key.id, name=key.name, owner=owner, compartment_id=compartment_id,
        allowed_models=list(key.allowed_models) if key.allowed_models is not None else None,
        allowed_ip_ranges=([str(net) for net in key.allowed_ip_ranges]
                           if key.allowed_ip_ranges is not None else None),
        status=status, created_at=unix(key.created_at), revoked_at=maybe_unix(key.revoked_at),
        last_used_at=maybe_unix(key.last_used_at), secrets=secrets,
    )


def minted_key_view(created: CreatedApiKey, *, compartment_id: str, now: datetime) -> MintedKeyView:
    """The key with its new token: the one response that carries a secret."""
    public = msgspec.structs.asdict(key_view(created.key, compartment_id=compartment_id, now=now))
    return MintedKeyView(**public, token=created.token, minted_slot=parse_presented(created.token).slot)


def explanation_view(found: Explanation) -> ExplanationView:
    """An ``iam.explain`` answer as JSON."""
    return ExplanationView(
        allowed=found.allowed, summary=found.summary(), principal=found.principal, verb=found.verb,
        resource_type=found.resource_type, compartment=found.compartment,
        decided_by=[_cited(s) for s in found.decided_by], near_misses=[_cited(s) for s in found.near_misses],
        errors=list(found.errors),
    )


def _cited(statement: CitedStatement) -> CitedStatementView:
    return CitedStatementView(id=statement.id, text=statement.text)

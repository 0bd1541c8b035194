"""Our identity objects in OpenAI's Admin API shapes (``Project``, ``ProjectApiKey``, ``User``…).

The mapping: a project is a compartment below the tenancy (its ``name`` is the path, which
is also what ``OpenAI-Project`` accepts), a project API key is any key whose requests
target that compartment, and a service account is a service key (its id is the key's id,
as a service key is its own principal). Tests validate these against OpenAI's spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Literal, TypeVar

import msgspec

from tenantgate.admin.views import View, maybe_unix, unix
from tenantgate.iam.api_keys import PREFIX
from tenantgate.iam.model import ApiKey, Compartment, CreatedApiKey, User

T = TypeVar("T")


class OpenAIList(View, Generic[T], kw_only=True):
    """OpenAI's list envelope with ``first_id``/``last_id``."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool = False


class OpenAIProject(View, kw_only=True):
    """OpenAI's ``Project``."""

    id: str
    object: Literal["organization.project"] = "organization.project"
    name: str
    created_at: int
    archived_at: int | None = None
    status: Literal["active", "archived"] = "active"


class OpenAIKeyOwnerUser(View, kw_only=True):
    """OpenAI's ``ProjectApiKeyOwnerUser`` (users have no e-mail here: it is empty)."""

    id: str
    email: str = ""
    name: str
    created_at: int
    role: str


class OpenAIKeyOwnerServiceAccount(View, kw_only=True):
    """OpenAI's ``ProjectApiKeyOwnerServiceAccount``."""

    id: str
    name: str
    created_at: int
    role: str = "member"


class OpenAIKeyOwner(View, kw_only=True):
    """Who owns a project API key, in OpenAI's shape."""

    type: Literal["user", "service_account"]
    user: OpenAIKeyOwnerUser | msgspec.UnsetType = msgspec.UNSET
    service_account: OpenAIKeyOwnerServiceAccount | msgspec.UnsetType = msgspec.UNSET


class OpenAIProjectApiKey(View, kw_only=True):
    """OpenAI's ``ProjectApiKey``; ``redacted_value`` shows the last four characters only."""

    object: Literal["organization.project.api_key"] = "organization.project.api_key"
    redacted_value: str
    name: str
    created_at: int
    last_used_at: int | None
    id: str
    owner_project_access: Literal["active", "inactive"] = "active"
    owner: OpenAIKeyOwner


class OpenAIProjectApiKeyDeleted(View, kw_only=True):
    """OpenAI's ``ProjectApiKeyDeleteResponse`` (the key is revoked)."""

    object: Literal["organization.project.api_key.deleted"] = "organization.project.api_key.deleted"
    id: str
    deleted: bool = True


class OpenAIServiceAccount(View, kw_only=True):
    """OpenAI's ``ProjectServiceAccount``."""

    object: Literal["organization.project.service_account"] = "organization.project.service_account"
    id: str
    name: str
    role: Literal["owner", "member", "none"] = "member"
    created_at: int


class OpenAIServiceAccountApiKey(View, kw_only=True):
    """OpenAI's ``ProjectServiceAccountApiKey``: ``value`` is the token, shown this once."""

    object: Literal["organization.project.service_account.api_key"] = (
        "organization.project.service_account.api_key")
    value: str
    name: str
    created_at: int
    id: str


class OpenAIServiceAccountCreated(View, kw_only=True):
    """OpenAI's ``ProjectServiceAccountCreateResponse``."""

    object: Literal["organization.project.service_account"] = "organization.project.service_account"
    id: str
    name: str
    role: Literal["member", "none"] = "member"
    created_at: int
    api_key: OpenAIServiceAccountApiKey


class OpenAIUser(View, kw_only=True):
    """OpenAI's ``User``: ``owner`` for Administrators, ``reader`` for everyone else."""

    object: Literal["organization.user"] = "organization.user"
    id: str
    name: str
    email: str | None = None
    role: Literal["owner", "reader"]
    added_at: int


def openai_list(items: Sequence[T], ids: Sequence[str]) -> OpenAIList[T]:
    """A complete list with its first and last ids."""
    return OpenAIList(data=list(items), first_id=ids[0] if ids else None, last_id=ids[-1] if ids else None)


def project_view(compartment: Compartment, *, archived_at: int | None = None) -> OpenAIProject:
    """A compartment as an OpenAI project."""
    return OpenAIProject(
        id=compartment.id, name=compartment.path_text, created_at=unix(compartment.created_at),
        archived_at=archived_at, status="archived" if archived_at is not None else "active",
    )


def project_key_view(key: ApiKey, owner: User | None, *, administrator: bool) -> OpenAIProjectApiKey:
    """A key as an OpenAI project API key; ``owner`` is its user (None: a service key)."""
    active = [slot for slot in key.slots if slot.revoked_at is None] or list(key.slots)
    hint = active[-1].hint if active else ""
    if owner is not None:
        who = OpenAIKeyOwner(type="user", user=OpenAIKeyOwnerUser(
            id=owner.id, name=owner.name, created_at=unix(owner.created_at),
            role="owner" if administrator else "member"))
    else:
        who = OpenAIKeyOwner(type="service_account", service_account=OpenAIKeyOwnerServiceAccount(
            id=key.id, name=key.name, created_at=unix(key.created_at)))
    return OpenAIProjectApiKey(
        redacted_value=f"{PREFIX}...{hint}", name=key.name, created_at=unix(key.created_at),
        last_used_at=maybe_unix(key.last_used_at), id=key.id, owner=who,
        owner_project_access="inactive" if key.revoked_at is not None else "active",
    )


def service_account_view(key: ApiKey) -> OpenAIServiceAccount:
    """A service key as an OpenAI service account."""
    return OpenAIServiceAccount(id=key.id, name=key.name, created_at=unix(key.created_at))


def service_account_created_view(created: CreatedApiKey) -> OpenAIServiceAccountCreated:
    """A new service key, with its token in ``api_key.value`` (the only time it is shown)."""
    key = created.key
    return OpenAIServiceAccountCreated(
        id=key.id, name=key.name, created_at=unix(key.created_at),
        api_key=OpenAIServiceAccountApiKey(value=created.token, name=key.name,
                                           created_at=unix(key.created_at), id=key.id),
    )


def user_view(user: User, *, administrator: bool) -> OpenAIUser:
    """A user as an OpenAI organization user."""
    return OpenAIUser(id=user.id, name=user.name, role="owner" if administrator else "reader",
                      added_at=unix(user.created_at))

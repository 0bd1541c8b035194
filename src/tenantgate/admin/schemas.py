"""Request bodies of the admin API: allowlists of the writable fields, nothing else.

Every body is a msgspec Struct with ``forbid_unknown_fields``, and ``decode_body`` refuses
an unknown field by name before converting, so a client cannot set what only the gateway
decides (``id``, ``built_in``, ``owner_user_id``, ``created_at``…): that is mass
assignment, answered 400 ``unknown_parameter`` naming the field. The same Structs generate
the request schemas of ``GET /admin/v1/openapi.json``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec

from tenantgate.api.request_validation import parse_json_object, validation_error
from tenantgate.errors import UnknownParameter
from tenantgate.iam.policy_model import ResourceType

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="1-100 characters, no ':'.")]
Description = Annotated[str, msgspec.Meta(max_length=4000)]
PolicyText = Annotated[str, msgspec.Meta(min_length=1, max_length=65536,
                                         description="The policy document: one or more Allow statements.")]
UnixSeconds = Annotated[int, msgspec.Meta(ge=0, description="Unix time in seconds.")]
VerbName = Literal["inspect", "read", "use", "manage"]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request body: unknown fields are refused."""


class Empty(Body):
    """No fields: the body may be omitted (or ``{}``)."""


class CompartmentCreate(Body):
    """A new compartment; ``parent_id`` defaults to the tenancy (root compartment)."""

    name: Name
    parent_id: str | None = None
    description: Description = ""


class CompartmentUpdate(Body):
    """Fields to change; absent fields stay as they are."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET


class CompartmentMove(Body):
    """The compartment's new parent."""

    parent_id: str


class UserCreate(Body):
    """A new user."""

    name: Name
    description: Description = ""


class UserUpdate(Body):
    """Fields to change; absent fields stay as they are."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET


class GroupCreate(Body):
    """A new group."""

    name: Name
    description: Description = ""


class PolicyCreate(Body):
    """A new policy attached to ``compartment_id`` (default: the tenancy)."""

    name: Name
    text: PolicyText
    compartment_id: str | None = None
    description: Description = ""


class PolicyReplace(Body):
    """The whole policy; ``compartment_id`` absent keeps it where it is attached."""

    name: Name
    text: PolicyText
    compartment_id: str | None = None
    description: Description = ""


class PolicyExplain(Body):
    """Ask why a principal may (not) do something: a user (name or id), a key, or else yourself."""

    user: str | None = None
    key_id: str | None = None
    compartment: str = ""
    verb: VerbName = "use"
    resource_type: ResourceType = ResourceType.GENERATIVE_AI_CHAT
    model: str | None = None
    operation: str | None = None
    region: str | None = None


class KeyCreate(Body):
    """A service key (``compartment_id``, no ``user_id``) or a user key (``user_id``, optional project)."""

    name: Name = "default"
    user_id: str | None = None
    compartment_id: str | None = None
    allowed_models: list[str] | None = None
    allowed_ip_ranges: list[str] | None = None
    expires_at: UnixSeconds | None = None


class KeyRotate(Body):
    """Mint a secret in ``slot`` (default: the free one), optionally expiring."""

    slot: Literal[1, 2] | None = None
    expires_at: UnixSeconds | None = None


class ProjectCreate(Body):
    """OpenAI's ``ProjectCreateRequest``: a compartment directly under the tenancy."""

    name: Name


class ProjectUpdate(Body):
    """OpenAI's ``ProjectUpdateRequest``: the new name."""

    name: Name


class ServiceAccountCreate(Body):
    """OpenAI's ``ProjectServiceAccountCreateRequest``: a service key in the project."""

    name: Name


Credits = Annotated[str, msgspec.Meta(
    min_length=1, max_length=40,
    description="Credits per 1M tokens as a decimal string (\"2.50\"): non-negative, at most 6 decimals.")]


class RateCardCreate(Body):
    """A new rate-card entry: the model's prices from ``effective_from`` (default now) on."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    input_per_1m: Credits
    region: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    deployment_type: Literal["on_demand", "dedicated"] | None = None
    cached_input_per_1m: Credits | None = None
    output_per_1m: Credits = "0"
    embedding_per_1m: Credits | None = None
    effective_from: Annotated[int, msgspec.Meta(
        ge=0, le=253_402_300_799,
        description="Unix seconds; default now. Up to 60 s in the past means now; earlier is refused.",
    )] | None = None


B = TypeVar("B", bound=Body)
V = TypeVar("V")


def given(value: V | msgspec.UnsetType) -> V | None:
    """A PATCH field's value, or None when the client left it out."""
    return None if isinstance(value, msgspec.UnsetType) else value


def changes_of(**fields: object) -> dict[str, object]:
    """The fields a PATCH set (those not None), as audit details."""
    return {name: value for name, value in fields.items() if value is not None}


def decode_body(raw: bytes, schema: type[B]) -> B:
    """The body as ``schema``; an empty body is ``{}``. 400s name the offending field."""
    data: dict[str, Any] = parse_json_object(raw) if raw.strip() else {}
    allowed = {field.encode_name for field in msgspec.structs.fields(schema)}
    for key in data:
        if key not in allowed:
            raise UnknownParameter(
                f"Unrecognized request argument supplied: {key!r}. "
                f"Writable fields: {', '.join(sorted(allowed)) or 'none'}.",
                param=key,
            )
    try:
        return msgspec.convert(data, schema)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from exc


BODIES: tuple[type[Body], ...] = (
    Empty, CompartmentCreate, CompartmentUpdate, CompartmentMove, UserCreate, UserUpdate,
    GroupCreate, PolicyCreate, PolicyReplace, PolicyExplain, KeyCreate, KeyRotate,
    ProjectCreate, ProjectUpdate, ServiceAccountCreate, RateCardCreate,
)
"""Every body schema (for tests that check each one refuses unknown fields)."""

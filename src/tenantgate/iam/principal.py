"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass

from tenantgate.iam.model import IpNetwork

PrincipalType = str
"""``anonymous`` | ``static-key`` | ``user`` | ``apikey`` (a service key, OCI's ``generativeaiapikey``)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and what their key limits them to.

    ``governed`` principals (IAM keys) are decided by policies; the quickstart's anonymous
    caller and static keys from settings are not (they predate any tenancy). A user key's
    principal is the user (its ``id``), a service key's principal is the key itself.
    """

    id: str
    type: PrincipalType
    name: str | None = None
    key_id: str | None = None
    home_compartment_id: str | None = None
    group_ids: frozenset[str] = frozenset()
    group_names: frozenset[str] = frozenset()
    allowed_models: frozenset[str] | None = None
    allowed_ip_ranges: tuple[IpNetwork, ...] | None = None
    governed: bool = False


ANONYMOUS = Principal(id="anonymous", type="anonymous")


@dataclass(frozen=True, slots=True)
class Caller:
    """A request's principal with where it asks to act and where it comes from."""

    principal: Principal
    compartment: str | None = None
    """The compartment named by ``x-tenantgate-compartment`` / ``OpenAI-Project`` (id or path)."""
    ip: str | None = None
    request_id: str | None = None


ANONYMOUS_CALLER = Caller(ANONYMOUS)

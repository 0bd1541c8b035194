"""An immutable, in-memory copy of everything an access decision reads.

Every replica holds one ``IdentitySnapshot`` and swaps in a new one when the identity
revision moves (``access_cache.py``), so authenticating a key and evaluating policies on
the hot path touch only dictionaries: no database round trip per request. Building a
snapshot is pure; the rows come from ``_snapshot_rows.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tenantgate.iam._compartment_tree import Node, path_of
from tenantgate.iam.model import (
    ADMINISTRATORS_GROUP,
    PATH_SEPARATOR,
    ApiKey,
    IpNetwork,
    Tenancy,
    format_path,
)
from tenantgate.iam.policy_evaluator import CompiledPolicies
from tenantgate.iam.policy_model import Groups, ResourceType, Statement, Verb
from tenantgate.iam.policy_model import Tenancy as TenancyLocation


@dataclass(frozen=True, slots=True)
class CompartmentRecord:
    """A compartment with its path from the root, as names and as ids (root excluded)."""

    id: str
    name: str
    parent_id: str | None
    path: tuple[str, ...]
    ids: tuple[str, ...]

    @property
    def path_text(self) -> str:
        """The path as policies write it (``""`` for the tenancy)."""
        return format_path(self.path)


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """What authentication needs of one secret slot: its digest and whether it still works."""

    digest_sha256: str
    expires_at: datetime | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key as authentication sees it; ``compartment_id`` is resolved (never None)."""

    id: str
    name: str
    owner_user_id: str | None
    owner_compartment_id: str | None
    compartment_id: str
    allowed_models: frozenset[str] | None
    allowed_ip_ranges: tuple[IpNetwork, ...] | None
    revoked: bool
    secrets: Mapping[int, SecretRecord]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user with the ids and names of their groups, as policy subjects match them."""

    id: str
    name: str
    group_ids: frozenset[str]
    group_names: frozenset[str]


@dataclass(frozen=True, slots=True)
class IdentitySnapshot:
    """Keys, users, compartments and compiled policies at one identity revision."""

    revision: int
    tenancy: Tenancy | None
    compartments: Mapping[str, CompartmentRecord] = field(default_factory=dict)
    compartments_by_path: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    users: Mapping[str, UserRecord] = field(default_factory=dict)
    keys: Mapping[str, KeyRecord] = field(default_factory=dict)
    group_names: Mapping[str, str] = field(default_factory=dict)
    policies: CompiledPolicies = field(default_factory=lambda: CompiledPolicies(()))

    @property
    def root(self) -> CompartmentRecord | None:
        """The tenancy's root compartment, or None before ``tenantgate init``."""
        return None if self.tenancy is None else self.compartments.get(self.tenancy.id)

    def find_compartment(self, reference: str) -> CompartmentRecord | None:
        """A compartment by id (``cmp_…``) or by path (``Finance:Risk``); None if neither."""
        by_id = self.compartments.get(reference)
        if by_id is not None:
            return by_id
        # Any text may be looked up: a path that no name could spell simply matches nothing.
        path = tuple(reference.split(PATH_SEPARATOR)) if reference else ()
        found = self.compartments_by_path.get(path)
        return None if found is None else self.compartments[found]


EMPTY_SNAPSHOT = IdentitySnapshot(revision=0, tenancy=None)
"""Before the first load: no tenancy, no keys, nothing allowed."""

ADMINISTRATORS_STATEMENT_ID = "builtin:administrators"
"""The id decisions cite when the built-in Administrators grant decided."""


def administrators_statement(tenancy: Tenancy) -> Statement:
    """``Allow group Administrators to manage all-resources in tenancy``: built in, never stored.

    As in OCI, the tenancy's administrators need no policy of their own, and no policy
    edit can lock every administrator out.
    """
    return Statement(
        id=ADMINISTRATORS_STATEMENT_ID,
        subject=Groups(ids=(tenancy.administrators_group_id,)),
        verb=Verb.MANAGE,
        resource_type=ResourceType.ALL_RESOURCES,
        location=TenancyLocation(),
        source=f"Allow group {ADMINISTRATORS_GROUP} to manage all-resources in tenancy",
    )


def build_snapshot(
    *,
    revision: int,
    tenancy: Tenancy | None,
    tree: Mapping[str, Node],
    users: Iterable[tuple[str, str]],
    groups: Iterable[tuple[str, str]],
    memberships: Iterable[tuple[str, str]],
    keys: Iterable[ApiKey],
    secret_digests: Mapping[tuple[str, int], str],
    statements: Iterable[Statement],
) -> IdentitySnapshot:
    """Assemble a snapshot from rows; ``memberships`` are (group id, user id) pairs."""
    compartments: dict[str, CompartmentRecord] = {}
    for node in tree.values():
        path = path_of(tree, node.id)
        ids = _ids_below_root(tree, node.id)
        compartments[node.id] = CompartmentRecord(node.id, node.name, node.parent_id, path, ids)
    group_names = dict(groups)
    member_of: dict[str, set[str]] = {}
    for group_id, user_id in memberships:
        member_of.setdefault(user_id, set()).add(group_id)
    user_records = {
        user_id: UserRecord(
            user_id, name, frozenset(member_of.get(user_id, ())),
            frozenset(group_names[g] for g in member_of.get(user_id, ()) if g in group_names),
        )
        for user_id, name in users
    }
    root_id = tenancy.id if tenancy is not None else ""
    key_records = {
        key.key_id: _key_record(key, root_id, secret_digests) for key in keys
    }
    return IdentitySnapshot(
        revision=revision,
        tenancy=tenancy,
        compartments=compartments,
        compartments_by_path={record.path: record.id for record in compartments.values()},
        users=user_records,
        keys=key_records,
        group_names=group_names,
        policies=CompiledPolicies(
            [administrators_statement(tenancy), *statements] if tenancy is not None else statements
        ),
    )


def _ids_below_root(tree: Mapping[str, Node], compartment_id: str) -> tuple[str, ...]:
    """The ids from the root's child down to ``compartment_id`` (``()`` for the root)."""
    ids: list[str] = []
    node = tree[compartment_id]
    while node.parent_id is not None:
        ids.append(node.id)
        node = tree[node.parent_id]
    return tuple(reversed(ids))


def _key_record(key: ApiKey, root_id: str, digests: Mapping[tuple[str, int], str]) -> KeyRecord:
    secrets = {
        slot.slot: SecretRecord(digests[(key.id, slot.slot)], slot.expires_at, slot.revoked_at is not None)
        for slot in key.slots
        if (key.id, slot.slot) in digests
    }
    return KeyRecord(
        id=key.id,
        name=key.name,
        owner_user_id=key.owner_user_id,
        owner_compartment_id=key.owner_compartment_id,
        compartment_id=key.compartment_id or key.owner_compartment_id or root_id,
        allowed_models=None if key.allowed_models is None else frozenset(key.allowed_models),
        allowed_ip_ranges=key.allowed_ip_ranges,
        revoked=key.revoked_at is not None,
        secrets=secrets,
    )

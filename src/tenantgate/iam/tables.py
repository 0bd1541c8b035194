"""The identity model's tables, on the shared storage metadata (migration ``0002`` creates them).

Uniqueness lives in constraints, not in read-then-insert checks, so two replicas creating
the same name at once yield one winner on both engines. Secrets are stored only as SHA-256
digests, one row per slot, so rotating a slot is one row write and authentication one
primary-key lookup.
"""

from __future__ import annotations

import sqlalchemy as sa

from tenantgate.storage.column_types import UtcDateTime
from tenantgate.storage.metadata import metadata

_ID = 32
_NAME = 100

compartments = sa.Table(
    "iam_compartments",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("parent_id", sa.String(_ID), sa.ForeignKey("iam_compartments.id"), nullable=True),
    sa.Column("name", sa.String(_NAME), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("parent_id", "name"),
)

groups = sa.Table(
    "iam_groups",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("name", sa.String(_NAME), nullable=False, unique=True),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("built_in", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

tenancy = sa.Table(
    "iam_tenancy",
    metadata,
    # One row per installation: the constant primary key makes a second bootstrap collide.
    sa.Column("singleton", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(_NAME), nullable=False),
    sa.Column("root_compartment_id", sa.String(_ID), sa.ForeignKey("iam_compartments.id"), nullable=False),
    sa.Column("administrators_group_id", sa.String(_ID), sa.ForeignKey("iam_groups.id"), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("singleton = 1", name="singleton"),
)

users = sa.Table(
    "iam_users",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("name", sa.String(_NAME), nullable=False, unique=True),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

group_members = sa.Table(
    "iam_group_members",
    metadata,
    sa.Column("group_id", sa.String(_ID), sa.ForeignKey("iam_groups.id"), primary_key=True),
    sa.Column("user_id", sa.String(_ID), sa.ForeignKey("iam_users.id"), primary_key=True, index=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

api_keys = sa.Table(
    "iam_api_keys",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("name", sa.String(_NAME), nullable=False),
    sa.Column("owner_user_id", sa.String(_ID), sa.ForeignKey("iam_users.id"), nullable=True, index=True),
    sa.Column(
        "owner_compartment_id",
        sa.String(_ID),
        sa.ForeignKey("iam_compartments.id"),
        nullable=True,
        index=True,
    ),
    # The compartment requests target by default: a user key's project; a service key's owner.
    sa.Column("compartment_id", sa.String(_ID), sa.ForeignKey("iam_compartments.id"), nullable=True),
    sa.Column("allowed_models", sa.JSON(), nullable=True),
    sa.Column("allowed_ip_ranges", sa.JSON(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.CheckConstraint(
        "(owner_user_id IS NULL) <> (owner_compartment_id IS NULL)", name="one_owner"
    ),
)

api_key_secrets = sa.Table(
    "iam_api_key_secrets",
    metadata,
    sa.Column("key_id", sa.String(_ID), sa.ForeignKey("iam_api_keys.id"), primary_key=True),
    sa.Column("slot", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("digest_sha256", sa.String(64), nullable=False),
    sa.Column("hint", sa.String(4), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.Column("last_used_at", UtcDateTime(), nullable=True),
    sa.CheckConstraint("slot IN (1, 2)", name="slot"),
)

policies = sa.Table(
    "iam_policies",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("name", sa.String(_NAME), nullable=False),
    sa.Column("compartment_id", sa.String(_ID), sa.ForeignKey("iam_compartments.id"), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("compartment_id", "name"),
)

identity_revision = sa.Table(
    "iam_revision",
    metadata,
    # One row, bumped by every identity write in the same transaction: replicas poll it to
    # learn, with one cheap read, that their cached snapshot of keys and policies is stale.
    sa.Column("singleton", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("revision", sa.BigInteger(), nullable=False),
    sa.CheckConstraint("singleton = 1", name="singleton"),
)

"""Create the identity model's tables: tenancy, compartments, users, groups, API keys, policies.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

Written by hand to mirror ``tenantgate/iam/tables.py`` (the migration test compares
them); it does not import that module, so later changes there cannot rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenantgate.storage.column_types import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = 32
_NAME = 100


def upgrade() -> None:
    """Create every identity table, parents before the tables that refer to them."""
    op.create_table(
        "iam_compartments",
        sa.Column("id", sa.String(length=_ID), nullable=False),
        sa.Column("parent_id", sa.String(length=_ID), nullable=True),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["iam_compartments.id"],
            name=op.f("fk_iam_compartments_parent_id_iam_compartments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_compartments")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_iam_compartments_parent_id_name")),
    )
    op.create_table(
        "iam_groups",
        sa.Column("id", sa.String(length=_ID), nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("built_in", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_iam_groups_name")),
    )
    op.create_table(
        "iam_tenancy",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("root_compartment_id", sa.String(length=_ID), nullable=False),
        sa.Column("administrators_group_id", sa.String(length=_ID), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("singleton = 1", name=op.f("ck_iam_tenancy_singleton")),
        sa.ForeignKeyConstraint(
            ["administrators_group_id"], ["iam_groups.id"],
            name=op.f("fk_iam_tenancy_administrators_group_id_iam_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["root_compartment_id"], ["iam_compartments.id"],
            name=op.f("fk_iam_tenancy_root_compartment_id_iam_compartments"),
        ),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_iam_tenancy")),
    )
    _create_people_tables()
    _create_key_tables()
    _create_policy_table()


def _create_people_tables() -> None:
    op.create_table(
        "iam_users",
        sa.Column("id", sa.String(length=_ID), nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_users")),
        sa.UniqueConstraint("name", name=op.f("uq_iam_users_name")),
    )
    op.create_table(
        "iam_group_members",
        sa.Column("group_id", sa.String(length=_ID), nullable=False),
        sa.Column("user_id", sa.String(length=_ID), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["iam_groups.id"], name=op.f("fk_iam_group_members_group_id_iam_groups")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["iam_users.id"], name=op.f("fk_iam_group_members_user_id_iam_users")
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_iam_group_members")),
    )
    op.create_index(op.f("ix_iam_group_members_user_id"), "iam_group_members", ["user_id"])


def _create_policy_table() -> None:
    op.create_table(
        "iam_policies",
        sa.Column("id", sa.String(length=_ID), nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("compartment_id", sa.String(length=_ID), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["compartment_id"], ["iam_compartments.id"],
            name=op.f("fk_iam_policies_compartment_id_iam_compartments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_policies")),
        sa.UniqueConstraint("compartment_id", "name", name=op.f("uq_iam_policies_compartment_id_name")),
    )


def _create_key_tables() -> None:
    op.create_table(
        "iam_api_keys",
        sa.Column("id", sa.String(length=_ID), nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("owner_user_id", sa.String(length=_ID), nullable=True),
        sa.Column("owner_compartment_id", sa.String(length=_ID), nullable=True),
        sa.Column("allowed_models", sa.JSON(), nullable=True),
        sa.Column("allowed_ip_ranges", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "(owner_user_id IS NULL) <> (owner_compartment_id IS NULL)",
            name=op.f("ck_iam_api_keys_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_compartment_id"], ["iam_compartments.id"],
            name=op.f("fk_iam_api_keys_owner_compartment_id_iam_compartments"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["iam_users.id"], name=op.f("fk_iam_api_keys_owner_user_id_iam_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_api_keys")),
    )
    op.create_index(op.f("ix_iam_api_keys_owner_compartment_id"), "iam_api_keys", ["owner_compartment_id"])
    op.create_index(op.f("ix_iam_api_keys_owner_user_id"), "iam_api_keys", ["owner_user_id"])
    op.create_table(
        "iam_api_key_secrets",
        sa.Column("key_id", sa.String(length=_ID), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest_sha256", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=4), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("slot IN (1, 2)", name=op.f("ck_iam_api_key_secrets_slot")),
        sa.ForeignKeyConstraint(
            ["key_id"], ["iam_api_keys.id"], name=op.f("fk_iam_api_key_secrets_key_id_iam_api_keys")
        ),
        sa.PrimaryKeyConstraint("key_id", "slot", name=op.f("pk_iam_api_key_secrets")),
    )


def downgrade() -> None:
    """Drop the identity tables, children first; every tenancy, key and policy is lost."""
    op.drop_table("iam_policies")
    op.drop_table("iam_api_key_secrets")
    op.drop_index(op.f("ix_iam_api_keys_owner_user_id"), table_name="iam_api_keys")
    op.drop_index(op.f("ix_iam_api_keys_owner_compartment_id"), table_name="iam_api_keys")
    op.drop_table("iam_api_keys")
    op.drop_index(op.f("ix_iam_group_members_user_id"), table_name="iam_group_members")
    op.drop_table("iam_group_members")
    op.drop_table("iam_users")
    op.drop_table("iam_tenancy")
    op.drop_table("iam_groups")
    op.drop_table("iam_compartments")

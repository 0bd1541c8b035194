"""The audit trail's tables, on the shared storage metadata (migration ``0003`` creates them).

``audit_events.seq`` is assigned by the store, not by the database: the chain needs seq
numbers without gaps, and sequences and autoincrement both skip numbers on rollback.
``audit_chain_head`` holds one row, the last seq and hash. It is both the anchor that
reveals a cut tail and the lock that serializes appends across replicas.
"""

from __future__ import annotations

import sqlalchemy as sa

from tenantgate.storage.column_types import UtcDateTime
from tenantgate.storage.metadata import metadata

_ID = 32
_HASH = 64

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(_ID), nullable=False, unique=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("actor_type", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.Text(), nullable=False, index=True),
    sa.Column("actor_name", sa.Text(), nullable=True),
    sa.Column("action", sa.String(100), nullable=False, index=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("target_type", sa.String(50), nullable=True),
    sa.Column("target_id", sa.Text(), nullable=True),
    sa.Column("compartment_id", sa.String(_ID), nullable=True),
    sa.Column("statement_ids", sa.JSON(), nullable=False),
    sa.Column("request_id", sa.Text(), nullable=True),
    sa.Column("client_ip", sa.Text(), nullable=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("prev_hash", sa.String(_HASH), nullable=False),
    sa.Column("hash", sa.String(_HASH), nullable=False),
)

audit_chain_head = sa.Table(
    "audit_chain_head",
    metadata,
    # One row: the constant primary key makes a second "first append" collide, not fork.
    sa.Column("singleton", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("last_seq", sa.BigInteger(), nullable=False),
    sa.Column("last_hash", sa.String(_HASH), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("singleton = 1", name="singleton"),
)

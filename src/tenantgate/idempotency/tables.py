"""The idempotency table, on the shared storage metadata (migration ``0007`` creates it).

The primary key (scope, key) is what makes a claim safe across replicas: the first insert
wins and every other replica's insert finds the row. ``owner`` is a random token per claim,
so a request whose lease was taken over can no longer complete or release the new claim.
"""

from __future__ import annotations

import sqlalchemy as sa

from tenantgate.idempotency.model import KEY_LENGTH_MAX, SCOPE_LENGTH_MAX
from tenantgate.storage.column_types import UtcDateTime
from tenantgate.storage.metadata import metadata

OWNER_LENGTH = 32
FINGERPRINT_LENGTH = 64
STATE_LENGTH = 16

idempotency_records = sa.Table(
    "idempotency_records",
    metadata,
    sa.Column("scope", sa.String(SCOPE_LENGTH_MAX), primary_key=True),
    sa.Column("idempotency_key", sa.String(KEY_LENGTH_MAX), primary_key=True),
    sa.Column("fingerprint", sa.String(FINGERPRINT_LENGTH), nullable=False),
    sa.Column("owner", sa.String(OWNER_LENGTH), nullable=False),
    sa.Column("state", sa.String(STATE_LENGTH), nullable=False),
    sa.Column("status", sa.Integer(), nullable=True),
    sa.Column("headers", sa.JSON(), nullable=True),
    sa.Column("body", sa.LargeBinary(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("locked_until", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
)

"""Storage infrastructure: engines, transactions, migrations. Queries live in each store.py."""

from tenantgate.storage.database import Database
from tenantgate.storage.engine import create_engine
from tenantgate.storage.errors import (
    InvalidDatabaseUrl,
    MigrationRequired,
    StorageCorrupted,
    StorageError,
    StorageUnavailable,
    TransactionConflict,
)
from tenantgate.storage.installation import installation_id
from tenantgate.storage.metadata import metadata
from tenantgate.storage.migrations import (
    check_at_head,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from tenantgate.storage.retry_policy import RetryPolicy
from tenantgate.storage.urls import normalise_url, render_url_safely

__all__ = [
    "Database",
    "InvalidDatabaseUrl",
    "MigrationRequired",
    "RetryPolicy",
    "StorageCorrupted",
    "StorageError",
    "StorageUnavailable",
    "TransactionConflict",
    "check_at_head",
    "create_engine",
    "current_revision",
    "head_revision",
    "installation_id",
    "metadata",
    "normalise_url",
    "render_url_safely",
    "upgrade_to_head",
]

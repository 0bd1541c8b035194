"""Errors raised by the storage layer.

Foreign driver errors (sqlite3, asyncpg, SQLAlchemy) are mapped to these types at
one boundary (``_error_mapping.py``) so callers decide by type, never by message.

    StorageError                 code="storage_error"
    ├── InvalidDatabaseUrl       code="invalid_database_url"
    ├── StorageUnavailable       code="storage_unavailable"
    ├── TransactionConflict      code="transaction_conflict"
    ├── MigrationRequired        code="migration_required"
    └── StorageCorrupted         code="storage_corrupted"

These are plain ``Exception`` subclasses for now; they will be re-parented under
``tenantgate.errors.TenantgateError`` once that root exists.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class for every storage failure, so callers can catch the layer as a whole."""

    code: str = "storage_error"


class InvalidDatabaseUrl(StorageError):
    """The configured database URL names no dialect we support or cannot be parsed."""

    code = "invalid_database_url"


class StorageUnavailable(StorageError):
    """The database cannot be reached or refused the connection; /readyz reports this."""

    code = "storage_unavailable"


class TransactionConflict(StorageError):
    """A transaction lost a race (SQLite busy, PostgreSQL serialization failure or deadlock).

    Raised after the unit of work's bounded retries are spent, or directly from a
    non-retrying ``write()``/``read()`` block so the caller can retry the whole unit.
    """

    code = "transaction_conflict"


class MigrationRequired(StorageError):
    """The database schema is not at the revision this code expects."""

    code = "migration_required"

    def __init__(self, current_revision: str | None, head_revision: str) -> None:
        self.current_revision = current_revision
        self.head_revision = head_revision
        super().__init__(
            f"database schema is at revision {current_revision or '<empty>'}, "
            f"this build needs {head_revision}; run `tenantgate migrate`"
        )


class StorageCorrupted(StorageError):
    """Data violates an invariant the schema relies on (e.g. not exactly one installation row)."""

    code = "storage_corrupted"

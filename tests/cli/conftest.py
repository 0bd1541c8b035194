"""CLI fixtures: the shared database fixtures (as in tests/iam) for the PostgreSQL runs."""

from tenantgate.testing.databases import (
    _postgres_template,
    _sqlite_template,
    _storage_loop,
    database_url,
    engine_kind,
    postgres_server,
)

__all__ = [
    "_postgres_template",
    "_sqlite_template",
    "_storage_loop",
    "database_url",
    "engine_kind",
    "postgres_server",
]

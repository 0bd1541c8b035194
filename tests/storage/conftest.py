"""Storage test fixtures.

The shared database fixtures come from the ``tenantgate.testing.databases`` plugin.
pytest only honours ``pytest_plugins`` in the root conftest, so until tests/conftest.py
declares it, the fixtures are imported here (delete these imports once it does).
"""

from tenantgate.testing.databases import (
    _postgres_template,
    _sqlite_template,
    _storage_loop,
    database,
    database_url,
    engine_kind,
    migrated_database_url,
    postgres_server,
)

__all__ = [
    "_postgres_template",
    "_sqlite_template",
    "_storage_loop",
    "database",
    "database_url",
    "engine_kind",
    "migrated_database_url",
    "postgres_server",
]

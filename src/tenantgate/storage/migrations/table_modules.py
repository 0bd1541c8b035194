"""Modules that declare tables on the shared metadata, imported before comparing schemas.

Tables live with the concern that owns them, which storage must not import (the
dependency runs the other way). Names are strings, imported only when migrations
are generated or checked, so the import graph stays one-directional.
Add your module here when you add tables.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from tenantgate.storage.metadata import metadata

TABLE_MODULES: tuple[str, ...] = (
    "tenantgate.storage.installation",
    "tenantgate.iam.tables",
    "tenantgate.audit.tables",
    "tenantgate.ledger.tables",
    "tenantgate.credits.tables",
    "tenantgate.idempotency.tables",
    "tenantgate.credits.usage_table",
)


def load_table_modules() -> MetaData:
    """Import every table module so ``metadata`` holds the full schema, and return it."""
    for module_name in TABLE_MODULES:
        importlib.import_module(module_name)
    return metadata

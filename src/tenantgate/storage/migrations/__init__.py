"""Alembic migrations shipped inside the package, run programmatically at startup or by the CLI."""

from tenantgate.storage.migrations.runner import (
    check_at_head,
    current_revision,
    head_revision,
    upgrade_to_head,
)

__all__ = ["check_at_head", "current_revision", "head_revision", "upgrade_to_head"]

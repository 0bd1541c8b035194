"""Run one CLI command against a store on the configured database, then close it.

Until the admin API exists the IAM commands work on the local database directly; this is
the one place that knows how: load settings (``--config`` or $TENANTGATE_CONFIG), open the
database, run the command's coroutine under ``asyncio.run`` and dispose of the engine.
Every deliberate failure (a TenantgateError from the store, a storage or settings error)
becomes ``error: <message>`` on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from tenantgate.errors import TenantgateError
from tenantgate.iam.store import IdentityStore
from tenantgate.settings import SettingsError, load_settings
from tenantgate.storage import (
    Database,
    MigrationRequired,
    StorageError,
    check_at_head,
    upgrade_to_head,
)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="TOML or YAML settings file (default: $TENANTGATE_CONFIG); storage.url names the database.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def utc_now() -> datetime:
    """The wall clock the store stamps rows with."""
    return datetime.now(UTC)


def fail(message: str, *, exit_code: int = 1) -> NoReturn:
    """Print ``error: message`` to stderr and exit; the one shape every command fails in."""
    click.echo(f"error: {message}", err=True)
    sys.exit(exit_code)


def run_with_store(
    config_file: Path | None, work: Callable[[IdentityStore], Awaitable[T]], *, migrate: bool = False
) -> T:
    """Run ``work`` on a store over the configured database; ``migrate`` upgrades it first (init).

    Other commands only check the schema is at head, so a database that was never
    initialised says "run tenantgate init" instead of failing on a missing table.
    """
    return run_with_database(
        config_file, lambda db: work(IdentityStore(db, clock=utc_now)), migrate=migrate
    )


def run_with_database(
    config_file: Path | None, work: Callable[[Database], Awaitable[T]], *, migrate: bool = False
) -> T:
    """Run ``work`` on the configured database (checked at head, or upgraded with ``migrate``)."""
    try:
        settings = load_settings(config_file)
        return asyncio.run(_session(settings.storage.url, work, migrate=migrate))
    except (TenantgateError, StorageError, SettingsError) as exc:
        fail(_message(exc))


async def _session(url: str, work: Callable[[Database], Awaitable[T]], *, migrate: bool) -> T:
    db = Database.open(url, pool_size=1)
    try:
        if migrate:
            await upgrade_to_head(db.engine)
        else:
            await check_at_head(db.engine)
        return await work(db)
    finally:
        await db.dispose()


def _message(exc: Exception) -> str:
    if isinstance(exc, TenantgateError):
        return exc.message
    if isinstance(exc, MigrationRequired):
        return f"{exc} (run `tenantgate init` to set up the database)"
    return str(exc)

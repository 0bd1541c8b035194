"""Run one CLI command against the identity store: the local database, or a running gateway.

This is the one place that knows how. Locally: load settings (``--config`` or
$TENANTGATE_CONFIG), open the database, run the command's coroutine under ``asyncio.run``
and dispose of the engine. Remotely (``--server URL`` or $TENANTGATE_SERVER_URL): the same
coroutine runs on a ``RemoteIdentityStore`` over the gateway's admin API, with the key from
$TENANTGATE_API_KEY (never a flag, so it stays out of shell history), and the policies
decide what it may do. ``IdentityCommands`` is what both stores offer, so mypy checks every
command against both. Every deliberate failure (a TenantgateError, a storage, settings or
connection error) becomes ``error: <message>`` on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn, Protocol, TypeVar, overload

import click

from tenantgate.cli._admin_client import RemoteGatewayError, check_server_url
from tenantgate.cli._remote_store import RemoteIdentityStore
from tenantgate.errors import TenantgateError
from tenantgate.iam.model import ApiKey, Compartment, CreatedApiKey, Group, Policy, User
from tenantgate.iam.store import IdentityStore
from tenantgate.settings import SettingsError, load_settings, read_secret
from tenantgate.storage import (
    Database,
    MigrationRequired,
    StorageError,
    check_at_head,
    upgrade_to_head,
)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

SERVER_ENV = "TENANTGATE_SERVER_URL"
"""Not ``TENANTGATE_SERVER``: that name is the ``server`` settings section's (JSON) variable."""
API_KEY_ENV = "TENANTGATE_API_KEY"

config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="TOML or YAML settings file (default: $TENANTGATE_CONFIG); storage.url names the database.",
)
server_option = click.option(
    "--server", "server_url", envvar=SERVER_ENV, default=None, metavar="URL",
    help=f"Work through the admin API of the gateway at URL (default: ${SERVER_ENV}) instead of "
         f"the database, with the key in ${API_KEY_ENV}.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


class IdentityCommands(Protocol):
    """The store methods the IAM commands call: ``IdentityStore`` and ``RemoteIdentityStore`` both."""

    async def resolve_compartment(self, path: str) -> Compartment: ...
    async def list_compartments(self) -> list[Compartment]: ...
    async def create_compartment(
        self, name: str, *, parent_id: str, description: str = ""
    ) -> Compartment: ...
    async def move_compartment(self, compartment_id: str, *, new_parent_id: str) -> Compartment: ...
    async def delete_compartment(self, compartment_id: str) -> None: ...
    async def create_user(self, name: str, *, description: str = "") -> User: ...
    async def find_user(self, name: str) -> User: ...
    async def list_users(self) -> list[User]: ...
    async def create_group(self, name: str, *, description: str = "") -> Group: ...
    async def find_group(self, name: str) -> Group: ...
    async def list_groups(self, *, member_id: str | None = None) -> list[Group]: ...
    async def list_members(self, group_id: str) -> list[User]: ...
    async def add_member(self, group_id: str, user_id: str) -> None: ...
    async def remove_member(self, group_id: str, user_id: str) -> None: ...
    async def find_policy(self, name: str, *, compartment_id: str) -> Policy | None: ...
    async def list_policies(self) -> list[Policy]: ...

    async def save_policy(
        self, name: str, text: str, *, compartment_id: str, description: str = "",
        policy_id: str | None = None,
    ) -> Policy: ...

    async def create_api_key(
        self, name: str, *, owner_user_id: str | None = None, owner_compartment_id: str | None = None,
        allowed_models: Sequence[str] | None = None, allowed_ip_ranges: Sequence[str] | None = None,
        expires_at: datetime | None = None, compartment_id: str | None = None,
    ) -> CreatedApiKey: ...

    async def list_api_keys(
        self, *, owner_user_id: str | None = None, owner_compartment_id: str | None = None
    ) -> list[ApiKey]: ...

    async def rotate_api_key(
        self, key_id: str, *, slot: int | None = None, expires_at: datetime | None = None
    ) -> CreatedApiKey: ...

    async def revoke_api_key(self, key_id: str, *, slot: int | None = None) -> ApiKey: ...


_BOTH_STORES: tuple[type[IdentityCommands], ...] = (IdentityStore, RemoteIdentityStore)
"""Makes mypy check that each store offers every command method with the same signature."""


def utc_now() -> datetime:
    """The wall clock the store stamps rows with."""
    return datetime.now(UTC)


def fail(message: str, *, exit_code: int = 1) -> NoReturn:
    """Print ``error: message`` to stderr and exit; the one shape every command fails in."""
    click.echo(f"error: {message}", err=True)
    sys.exit(exit_code)


@overload
def run_with_store(
    config_file: Path | None, work: Callable[[IdentityCommands], Awaitable[T]], *,
    server_url: str | None = None,
) -> T: ...
@overload
def run_with_store(
    config_file: Path | None, work: Callable[[IdentityStore], Awaitable[T]], *, migrate: Literal[True]
) -> T: ...
def run_with_store(
    config_file: Path | None, work: Callable[[Any], Awaitable[T]], *, migrate: bool = False,
    server_url: str | None = None,
) -> T:
    """Run ``work`` on the gateway at ``server_url`` if given, else on the configured database.

    Locally, ``migrate`` upgrades the database first (init, which is local only, so only an
    ``IdentityStore`` work gets it); other commands only check the schema is at head, so a
    database that was never initialised says "run tenantgate init" instead of failing on a
    missing table.
    """
    if server_url is not None:
        return run_remote(server_url, work, config_file=config_file)
    return run_with_database(
        config_file, lambda db: work(IdentityStore(db, clock=utc_now)), migrate=migrate
    )


def run_remote(
    server_url: str, work: Callable[[RemoteIdentityStore], Awaitable[T]], *, config_file: Path | None = None
) -> T:
    """Run ``work`` on the admin API at ``server_url`` as the holder of $TENANTGATE_API_KEY.

    ``config_file`` is the command's ``--config``: naming a database too is ambiguous.
    """
    token = remote_token(config_file)
    try:
        store = RemoteIdentityStore(check_server_url(server_url), token)
        return asyncio.run(_remote_session(store, work))
    except (TenantgateError, RemoteGatewayError) as exc:
        fail(exc.message)


def remote_token(config_file: Path | None) -> str:
    """The key in $TENANTGATE_API_KEY for a remote command (exits when missing, or with --config)."""
    if config_file is not None:
        fail(f"give --config (a database) or --server/${SERVER_ENV} (a gateway), not both")
    token = (read_secret(API_KEY_ENV, None) or "").strip()
    if not token:
        fail(f"set ${API_KEY_ENV} to your tg-… key to use --server (it is never taken from a flag)")
    if not (token.isascii() and token.isprintable()) or " " in token:
        # checked here because the HTTP library's own complaint would quote the header, key and all
        fail(f"${API_KEY_ENV} must hold one key: printable ASCII, no spaces")
    return token


async def _remote_session(
    store: RemoteIdentityStore, work: Callable[[RemoteIdentityStore], Awaitable[T]]
) -> T:
    return await work(store)


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

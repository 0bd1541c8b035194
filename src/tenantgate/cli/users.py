"""`tenantgate users`: create and list users, the people (or robots) who own API keys."""

from __future__ import annotations

from pathlib import Path

import click

from tenantgate.cli._store_session import (
    IdentityCommands,
    config_option,
    json_option,
    run_with_store,
    server_option,
)
from tenantgate.cli._tables import Cell, print_rows
from tenantgate.iam.model import Group, User


@click.group("users")
def users_group() -> None:
    """Manage users."""


@users_group.command("create")
@config_option
@server_option
@click.argument("name")
@click.option("--description", default="", help="Who this user is.")
def create(config_file: Path | None, server_url: str | None, name: str, description: str) -> None:
    """Create the user NAME (unique in the tenancy)."""
    made = run_with_store(config_file, lambda store: store.create_user(name, description=description),
                          server_url=server_url)
    click.echo(f"Created user {made.name!r} ({made.id}).")


@users_group.command("list")
@config_option
@server_option
@json_option
def list_(config_file: Path | None, server_url: str | None, as_json: bool) -> None:
    """List every user with the groups they belong to."""

    async def work(store: IdentityCommands) -> list[tuple[User, list[Group]]]:
        return [(user, await store.list_groups(member_id=user.id)) for user in await store.list_users()]

    found = run_with_store(config_file, work, server_url=server_url)
    rows: list[list[Cell]] = [[u.name, u.id, [g.name for g in gs], u.created_at] for u, gs in found]
    print_rows(["name", "id", "groups", "created"], rows, as_json=as_json)

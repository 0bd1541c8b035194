"""`tenantgate groups`: create and list groups and change their members, all by name."""

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


@click.group("groups")
def groups_group() -> None:
    """Manage groups and their members."""


@groups_group.command("create")
@config_option
@server_option
@click.argument("name")
@click.option("--description", default="", help="What the group is for.")
def create(config_file: Path | None, server_url: str | None, name: str, description: str) -> None:
    """Create the group NAME (unique in the tenancy)."""
    made = run_with_store(config_file, lambda store: store.create_group(name, description=description),
                          server_url=server_url)
    click.echo(f"Created group {made.name!r} ({made.id}).")


@groups_group.command("list")
@config_option
@server_option
@json_option
def list_(config_file: Path | None, server_url: str | None, as_json: bool) -> None:
    """List every group with its members."""

    async def work(store: IdentityCommands) -> list[tuple[Group, list[User]]]:
        return [(group, await store.list_members(group.id)) for group in await store.list_groups()]

    found = run_with_store(config_file, work, server_url=server_url)
    rows: list[list[Cell]] = [[g.name, g.id, g.built_in, [u.name for u in us]] for g, us in found]
    print_rows(["name", "id", "built_in", "members"], rows, as_json=as_json)


@groups_group.command("add-member")
@config_option
@server_option
@click.argument("group")
@click.argument("user")
def add_member(config_file: Path | None, server_url: str | None, group: str, user: str) -> None:
    """Put USER in GROUP (no change if already a member)."""

    async def work(store: IdentityCommands) -> None:
        found_group, found_user = await store.find_group(group), await store.find_user(user)
        await store.add_member(found_group.id, found_user.id)

    run_with_store(config_file, work, server_url=server_url)
    click.echo(f"{user!r} is a member of {group!r}.")


@groups_group.command("remove-member")
@config_option
@server_option
@click.argument("group")
@click.argument("user")
def remove_member(config_file: Path | None, server_url: str | None, group: str, user: str) -> None:
    """Take USER out of GROUP (no change if not a member)."""

    async def work(store: IdentityCommands) -> None:
        found_group, found_user = await store.find_group(group), await store.find_user(user)
        await store.remove_member(found_group.id, found_user.id)

    run_with_store(config_file, work, server_url=server_url)
    click.echo(f"{user!r} is not a member of {group!r}.")

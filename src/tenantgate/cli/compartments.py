"""`tenantgate compartments`: create, list, move and delete compartments by path (``A:B:C``).

Paths are what people type and what policies name; ids stay stable across moves and are
shown so scripts can hold on to them.
"""

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
from tenantgate.iam.model import Compartment, format_path, parse_path

ROOT_LABEL = "(root)"


@click.group("compartments")
def compartments_group() -> None:
    """Manage the compartment tree (paths look like Finance:Risk)."""


def _split(path: str) -> tuple[str, str]:
    """``"A:B:C"`` -> (``"A:B"``, ``"C"``): the parent's path and the new compartment's name."""
    names = parse_path(path)
    if not names:
        raise click.BadParameter("the root compartment already exists", param_hint="PATH")
    return format_path(names[:-1]), names[-1]


@compartments_group.command("create")
@config_option
@server_option
@click.argument("path")
@click.option("--description", default="", help="What the compartment holds.")
def create(config_file: Path | None, server_url: str | None, path: str, description: str) -> None:
    """Create the compartment at PATH; its parent must exist."""
    parent_path, name = _split(path)

    async def work(store: IdentityCommands) -> Compartment:
        parent = await store.resolve_compartment(parent_path)
        return await store.create_compartment(name, parent_id=parent.id, description=description)

    made = run_with_store(config_file, work, server_url=server_url)
    click.echo(f"Created compartment {made.path_text} ({made.id}).")


@compartments_group.command("list")
@config_option
@server_option
@json_option
def list_(config_file: Path | None, server_url: str | None, as_json: bool) -> None:
    """List every compartment by path, the root first."""
    found = run_with_store(config_file, lambda store: store.list_compartments(), server_url=server_url)
    rows: list[list[Cell]] = [[c.path_text or ROOT_LABEL, c.id, c.description, c.created_at] for c in found]
    print_rows(["path", "id", "description", "created"], rows, as_json=as_json)


@compartments_group.command("move")
@config_option
@server_option
@click.argument("path")
@click.argument("new_parent")
def move(config_file: Path | None, server_url: str | None, path: str, new_parent: str) -> None:
    """Move the compartment at PATH (and its subtree) under NEW_PARENT ("" for the root)."""

    async def work(store: IdentityCommands) -> Compartment:
        moving = await store.resolve_compartment(path)
        parent = await store.resolve_compartment(new_parent)
        return await store.move_compartment(moving.id, new_parent_id=parent.id)

    moved = run_with_store(config_file, work, server_url=server_url)
    click.echo(f"Moved {path} to {moved.path_text} ({moved.id}).")


@compartments_group.command("delete")
@config_option
@server_option
@click.argument("path")
def delete(config_file: Path | None, server_url: str | None, path: str) -> None:
    """Delete the empty compartment at PATH."""

    async def work(store: IdentityCommands) -> Compartment:
        found = await store.resolve_compartment(path)
        await store.delete_compartment(found.id)
        return found

    gone = run_with_store(config_file, work, server_url=server_url)
    click.echo(f"Deleted compartment {gone.path_text} ({gone.id}).")

"""`tenantgate policies`: store validated policy documents and list them.

``set`` creates the policy or replaces the one of the same name in that compartment, so
a policy file kept in version control can be applied again and again. The store parses
the text before saving; a syntax error exits 2 (a usage error, like click's own) with
the line and column of the first mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import click

from tenantgate.cli._store_session import (
    IdentityCommands,
    config_option,
    fail,
    json_option,
    run_with_store,
    server_option,
)
from tenantgate.cli._tables import Cell, print_rows
from tenantgate.errors import PolicySyntaxError
from tenantgate.iam.model import Policy, format_path

SYNTAX_ERROR_EXIT = 2


@click.group("policies")
def policies_group() -> None:
    """Manage policies."""


@policies_group.command("set")
@config_option
@server_option
@click.argument("name")
@click.option("--compartment", "compartment_path", required=True,
              help='Path of the compartment the policy is attached to ("" for the root).')
@click.option("--file", "source", type=click.File("r"), required=True,
              help="The policy text; - reads standard input.")
@click.option("--description", default="", help="What the policy is for.")
def set_(config_file: Path | None, server_url: str | None, name: str, compartment_path: str, source: TextIO,
         description: str) -> None:
    """Create or replace the policy NAME in a compartment from a file."""
    text = source.read()

    async def work(store: IdentityCommands) -> tuple[Policy, bool] | PolicySyntaxError:
        compartment = await store.resolve_compartment(compartment_path)
        existing = await store.find_policy(name, compartment_id=compartment.id)
        try:
            saved = await store.save_policy(
                name, text, compartment_id=compartment.id, description=description,
                policy_id=existing.id if existing is not None else None)
        except PolicySyntaxError as exc:
            return exc  # returned, not raised: it exits 2, other store errors exit 1
        return saved, existing is not None

    outcome = run_with_store(config_file, work, server_url=server_url)
    if isinstance(outcome, PolicySyntaxError):
        fail(f"{source.name}: {outcome.message}", exit_code=SYNTAX_ERROR_EXIT)
    saved, replaced = outcome
    verb = "Replaced" if replaced else "Created"
    click.echo(f"{verb} policy {saved.name!r} on {format_path(saved.attached_to) or '(root)'} ({saved.id}).")


@policies_group.command("list")
@config_option
@server_option
@json_option
@click.option("--text", "with_text", is_flag=True, help="Include each policy's text.")
def list_(config_file: Path | None, server_url: str | None, as_json: bool, with_text: bool) -> None:
    """List every policy by compartment path, then name."""
    found = run_with_store(config_file, lambda store: store.list_policies(), server_url=server_url)
    headers = ["name", "compartment", "id", "updated"] + (["text"] if with_text else [])
    rows: list[list[Cell]] = []
    for p in found:
        row: list[Cell] = [p.name, format_path(p.attached_to) or "(root)", p.id, p.updated_at]
        rows.append([*row, p.text] if with_text else row)
    print_rows(headers, rows, as_json=as_json)

"""Plain-text tables and JSON for the list commands, so output reads well and also scripts well.

Aligned columns with no dependency beyond click; ``--json`` prints the same rows as a list
of objects with the headers as keys, so scripts never parse the table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import click

Cell = str | int | bool | None | datetime | list[str]


def render_cell(value: Cell) -> str:
    """How one value reads in a table: ``-`` for nothing, minutes-precision UTC times."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list):
        return ", ".join(value) or "-"
    return str(value)


def _json_cell(value: Cell) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """Left-aligned columns separated by two spaces, headers in capitals."""
    cells = [[h.upper() for h in headers]] + [[render_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def print_rows(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, as_json: bool) -> None:
    """Echo ``rows`` as a table, or as JSON objects keyed by ``headers`` with ``as_json``."""
    if as_json:
        objects = [{h: _json_cell(v) for h, v in zip(headers, row, strict=True)} for row in rows]
        click.echo(json.dumps(objects, indent=2))
    elif rows:
        click.echo(format_table(headers, rows))
    else:
        click.echo("(none)")

"""Entry point of the `tenantgate` command; each command group lives in its own module."""

from __future__ import annotations

import click

from tenantgate import __version__
from tenantgate.cli.config import config_group
from tenantgate.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tenantgate")
def cli() -> None:
    """Tenantgate: one OpenAI-compatible API over many clouds' models, under your rules."""


cli.add_command(serve)
cli.add_command(config_group)


def main() -> None:
    cli()

"""Entry point of the `tenantgate` command; each command group lives in its own module."""

from __future__ import annotations

import click

from tenantgate import __version__
from tenantgate.cli.audit import audit_group
from tenantgate.cli.compartments import compartments_group
from tenantgate.cli.config import config_group
from tenantgate.cli.credits import credits_group
from tenantgate.cli.groups import groups_group
from tenantgate.cli.init import init
from tenantgate.cli.keys import keys_group
from tenantgate.cli.policies import policies_group
from tenantgate.cli.policy_explain import explain_command
from tenantgate.cli.serve import serve
from tenantgate.cli.users import users_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tenantgate")
def cli() -> None:
    """Tenantgate: one OpenAI-compatible API over many clouds' models, under your rules."""


cli.add_command(serve)
cli.add_command(config_group)
cli.add_command(init)
for _group in (compartments_group, users_group, groups_group, policies_group, keys_group, audit_group):
    cli.add_command(_group)
cli.add_command(credits_group)
policies_group.add_command(explain_command)
cli.add_command(
    click.Group("policy", commands={"explain": explain_command}, hidden=True,
                help="Alias of `tenantgate policies explain`."),
)


def main() -> None:
    cli()

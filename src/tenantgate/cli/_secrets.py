"""Showing a freshly minted API key secret: the one moment it exists outside its holder."""

from __future__ import annotations

import click

from tenantgate.iam.api_keys import parse_presented
from tenantgate.iam.model import CreatedApiKey


def show_secret_once(created: CreatedApiKey) -> None:
    """Print the token on a line of its own, with the warning that it will not be shown again.

    The store keeps only a digest, so losing this output means minting a new secret.
    """
    slot = parse_presented(created.token).slot
    click.echo(f"API key {created.key.id} (secret slot {slot}):")
    click.echo("")
    click.echo(f"    {created.token}")
    click.echo("")
    click.echo("Store this secret now: it is shown only once and cannot be recovered.")

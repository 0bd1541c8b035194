"""`tenantgate config check FILE`: validate a settings file without starting anything."""

from __future__ import annotations

from pathlib import Path

import click

from tenantgate.settings import SettingsError, load_settings


@click.group("config")
def config_group() -> None:
    """Inspect and validate configuration."""


@config_group.command("check")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
def check(config_file: Path) -> None:
    """Validate FILE (with the current environment) and summarise the model catalog."""
    from tenantgate.catalog import configured_models
    from tenantgate.providers.registry import PROVIDERS

    try:
        settings = load_settings(config_file)
    except SettingsError as exc:
        raise click.ClickException(f"{config_file}: {exc}") from exc
    unknown = sorted(
        {d.provider for m in settings.models for d in m.deployments} - set(PROVIDERS)
    )
    if unknown:
        raise click.ClickException(f"{config_file}: unknown provider(s): {', '.join(unknown)}")
    try:
        _check_deployments(settings)
    except (SettingsError, ValueError) as exc:
        raise click.ClickException(f"{config_file}: {exc}") from exc
    click.echo(f"{config_file}: OK")
    for model in configured_models(settings):
        targets = ", ".join(f"{d.provider}:{d.model}" for d in model.deployments)
        click.echo(f"  {model.name} -> {targets}")


def _check_deployments(settings: object) -> None:
    """Build every backend once (no network I/O) so provider-specific fields are validated."""
    from tenantgate.catalog import build_catalog
    from tenantgate.providers.registry import BackendServices
    from tenantgate.providers.transport import HttpTransport
    from tenantgate.settings import Settings

    assert isinstance(settings, Settings)
    services = BackendServices(
        transport=HttpTransport(settings.upstream), upstream=settings.upstream, local=settings.local
    )
    build_catalog(settings, services)

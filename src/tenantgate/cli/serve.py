"""`tenantgate serve`: run the gateway under granian.

granian (Rust HTTP/1.1 parser) was chosen over uvicorn by measurement and for safety: it
closes connections whose headers arrive too slowly (slowloris) and answers 431 to oversized
headers, which uvicorn does not (docs/performance.md). Each worker builds its own app from
the same settings sources (the config path and overrides travel in the environment).
"""

from __future__ import annotations

from pathlib import Path

import click

from tenantgate.settings import SettingsError, export_for_workers, load_settings

APP_FACTORY = "tenantgate.api.factory:create_app"


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML or YAML settings file (default: $TENANTGATE_CONFIG).")
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to bind (default 8000).")
def serve(config_file: Path | None, host: str | None, port: int | None) -> None:
    """Start the gateway on its settings (embedded defaults when none are given)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    export_for_workers(config_file, host, port)
    try:
        settings = load_settings()
        from tenantgate.api.factory import check_buildable

        check_buildable(settings)
    except SettingsError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from exc
    server = settings.server
    Granian(
        APP_FACTORY,
        factory=True,
        address=server.host,
        port=server.port,
        interface=Interfaces.ASGI,
        workers=server.workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=server.header_read_timeout_ms),
        log_enabled=True,
        log_level=LogLevels(settings.logging.level.lower()),
        log_access=False,
    ).serve()

"""Builds the ASGI app in each server worker from the settings sources (file + environment)."""

from __future__ import annotations

from tenantgate.api.app import TenantgateApp
from tenantgate.observability.logging import configure_logging
from tenantgate.runtime import Gateway
from tenantgate.settings import Settings, load_settings


def create_app() -> TenantgateApp:
    """The granian factory: settings from $TENANTGATE_CONFIG and TENANTGATE_* variables."""
    settings = load_settings()
    configure_logging(settings.logging)
    return TenantgateApp(Gateway(settings))


def check_buildable(settings: Settings) -> None:
    """Construct the gateway once (no I/O) so configuration errors stop `serve` before binding."""
    Gateway(settings)

"""The gateway's process-wide objects, wired from settings, with their start-up and shutdown."""

from __future__ import annotations

import logging

from tenantgate.catalog import Catalog, build_catalog
from tenantgate.iam.static_keys import StaticKeyAuthenticator
from tenantgate.observability.metrics import GatewayMetrics
from tenantgate.pipeline import Pipeline
from tenantgate.providers.registry import BackendServices
from tenantgate.providers.transport import HttpTransport
from tenantgate.settings import Settings, SettingsError
from tenantgate.storage import Database, InvalidDatabaseUrl, check_at_head, upgrade_to_head

logger = logging.getLogger("tenantgate")


class Gateway:
    """Everything one gateway process holds: catalog, pipeline, transport, database, metrics.

    Construction does no I/O (so configuration errors surface before the port opens);
    :meth:`start` connects, migrates and warms up.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics()
        self.transport = HttpTransport(settings.upstream)
        services = BackendServices(
            transport=self.transport, upstream=settings.upstream, local=settings.local
        )
        self.catalog: Catalog = build_catalog(settings, services)
        self.pipeline = Pipeline(
            self.catalog,
            StaticKeyAuthenticator(
                required=settings.auth.required, key_sha256=settings.auth.api_key_sha256
            ),
            self.metrics,
        )
        try:
            self.database = Database.open(
                settings.storage.url,
                echo_sql=settings.storage.echo_sql,
                pool_size=settings.storage.pool_size,
            )
        except InvalidDatabaseUrl as exc:
            raise SettingsError(f"storage.url: {exc}") from exc
        self.ready = False

    async def start(self) -> None:
        await self.transport.start()
        if self.settings.storage.auto_migrate:
            await upgrade_to_head(self.database.engine)
        else:
            await check_at_head(self.database.engine)
        if self.settings.local.load == "startup":
            for backend in self.catalog.backends():
                warm_up = getattr(backend, "warm_up", None)
                if warm_up is not None:
                    await warm_up()
        if self.settings.local.enabled:
            self._watch_local_memory()
        self.ready = True
        logger.info(
            "gateway started",
            extra={"models": [entry.name for entry in self.catalog.entries()],
                   "storage": self.database.display_url},
        )

    def _watch_local_memory(self) -> None:
        from tenantgate.providers import local

        self.metrics.watch_local_memory(local.loaded_model_memory)

    async def stop(self) -> None:
        self.ready = False
        await self.catalog.aclose()
        await self.transport.aclose()
        await self.database.dispose()

    async def check_ready(self) -> dict[str, str]:
        """Per-dependency readiness; every value is "ok" when the gateway can serve."""
        checks = {"startup": "ok" if self.ready else "starting"}
        try:
            await self.database.ping()
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports any failure, never raises
            checks["database"] = type(exc).__name__
        return checks

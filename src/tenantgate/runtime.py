"""The gateway's process-wide objects, wired from settings, with their start-up and shutdown."""

from __future__ import annotations

import gc
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tenantgate.audit import AuditRecorder, AuditStore
from tenantgate.catalog import Catalog, build_catalog
from tenantgate.credits.metering import Metering
from tenantgate.deployment_probes import ActiveProbes
from tenantgate.deployments import build_router, health, reservation_rows
from tenantgate.iam.access_control import AccessControl
from tenantgate.iam.denial_audit import denial_entry
from tenantgate.iam.store import IdentityStore
from tenantgate.idempotency.store import IdempotencyStore
from tenantgate.observability.metrics import GatewayMetrics
from tenantgate.pipeline import Pipeline
from tenantgate.providers.registry import BackendServices
from tenantgate.providers.transport import HttpTransport
from tenantgate.settings import Settings, SettingsError
from tenantgate.storage import Database, InvalidDatabaseUrl, check_at_head, upgrade_to_head

if TYPE_CHECKING:
    from tenantgate.credits.rate_card_source import RateCardSource
    from tenantgate.ratelimit import RateLimiter

logger = logging.getLogger("tenantgate")


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        try:
            self.database = Database.open(
                settings.storage.url,
                echo_sql=settings.storage.echo_sql,
                pool_size=settings.storage.pool_size,
            )
        except InvalidDatabaseUrl as exc:
            raise SettingsError(f"storage.url: {exc}") from exc
        self.identity = IdentityStore(self.database, clock=_utc_now)
        self.audit = AuditRecorder(AuditStore(self.database, clock=_utc_now))
        self.idempotency = IdempotencyStore(self.database, clock=_utc_now)
        self.access = AccessControl(
            settings.auth, self.database, clock=_utc_now,
            on_denied=lambda denial: self.audit.record(denial_entry(denial)),
        )
        self.metering = self._metering() if settings.credits.enabled else None
        self.rate_cards = self._rate_cards()
        self.rate_limits = self._rate_limits()
        self.router = build_router(self.catalog, settings.routing, self.metering)
        self.pipeline = Pipeline(self.catalog, self.access, self.metrics, self.metering,
                                 rate_limits=self.rate_limits, router=self.router)
        self.probes = ActiveProbes(self.router, settings.routing.probes)
        self.metrics.watch_deployments(lambda: [
            (row.model, row.deployment, row.breaker_code, row.in_flight,
             None if row.ewma_ttft_ms is None else row.ewma_ttft_ms / 1000) for row in health(self.router)])
        self.metrics.watch_reservations(lambda: reservation_rows(self.router))
        self._watch_governance()
        self.ready = False

    async def start(self) -> None:
        await self.transport.start()
        if self.settings.storage.auto_migrate:
            await upgrade_to_head(self.database.engine)
        else:
            await check_at_head(self.database.engine)
        self.audit.start()
        await self.access.start()
        if self.rate_limits is not None:
            await self.rate_limits.start()
        if self.metering is not None:
            await self.rate_cards.start()  # before the first hold: prices from the database too
            await self.metering.start()
        if self.settings.local.load == "startup":
            for backend in self.catalog.backends():
                warm_up = getattr(backend, "warm_up", None)
                if warm_up is not None:
                    await warm_up()
        if self.settings.local.enabled:
            self._watch_local_memory()
        self.probes.start()
        gc.collect()
        gc.freeze()  # start-up objects live as long as the process: no collection rescans them
        self.ready = True
        logger.info(
            "gateway started",
            extra={"models": [entry.name for entry in self.catalog.entries()],
                   "storage": self.database.display_url,
                   "keys_required": self.access.required},
        )

    def _metering(self) -> Metering:
        from tenantgate.catalog import configured_models
        from tenantgate.credits.alert_audit import alert_entry
        from tenantgate.credits.alerts import BudgetAlerts
        from tenantgate.credits.store import CreditStore

        caps = {model.name: model.max_output_tokens for model in configured_models(self.settings)}
        store = CreditStore(self.database, clock=_utc_now)
        alerts = BudgetAlerts(self.database, clock=_utc_now,
                              on_alert=lambda event: self.audit.record(alert_entry(event)))
        return Metering(self.settings.credits, store, output_caps=caps, clock=_utc_now, alerts=alerts)

    def _rate_limits(self) -> RateLimiter | None:
        """The rate limiter when rules are configured (in-process, or Redis with ``redis_url``)."""
        from tenantgate.catalog import configured_models
        from tenantgate.ratelimit import build_rate_limiter

        caps = {model.name: model.max_output_tokens for model in configured_models(self.settings)}
        limiter = build_rate_limiter(self.settings.rate_limits, caps)
        if limiter is not None:
            self.metrics.watch("tenantgate_ratelimit_refused", "Calls refused by a rate limit (total).",
                               lambda: limiter.refused)
            self.metrics.watch("tenantgate_ratelimit_store_errors",
                               "Rate-limit store (Redis) calls that failed (total).",
                               lambda: limiter.store_errors)
        return limiter

    def _rate_cards(self) -> RateCardSource:
        """The rate card's source; it feeds metering when credits are on (else only the admin API)."""
        from tenantgate.credits.rate_card_source import RateCardSource
        from tenantgate.credits.rate_card_store import RateCardStore

        store = RateCardStore(self.database, clock=_utc_now)
        return RateCardSource(self.settings.credits, store, target=self.metering)

    def _watch_governance(self) -> None:
        watch = self.metrics.watch
        watch("tenantgate_identity_revision", "Identity revision of this replica's access snapshot.",
              lambda: self.access.snapshot.revision)
        watch("tenantgate_audit_dropped", "Audit entries refused because the queue was full (total).",
              lambda: self.audit.dropped)
        watch("tenantgate_audit_lost", "Audit entries given up after every write attempt failed (total).",
              lambda: self.audit.lost)
        metering = self.metering
        if metering is not None:
            watch("tenantgate_ledger_transfers_lost",
                  "Ledger transfers given up after every batch write failed (total; their holds expire).",
                  lambda: metering.batcher.lost)
            watch("tenantgate_usage_records_lost",
                  "Settled requests' usage records whose lease roll was given up (total; never charged).",
                  lambda: metering.reservations.lost_records)

    def _watch_local_memory(self) -> None:
        from tenantgate.providers import local

        self.metrics.watch_local_memory(local.loaded_model_memory)

    async def stop(self) -> None:
        self.ready = False
        await self.probes.aclose()
        await self.access.aclose()
        await self.rate_cards.aclose()
        if self.metering is not None:
            await self.metering.aclose()  # writes the settlements still queued
        if self.rate_limits is not None:
            await self.rate_limits.aclose()  # sends the slot releases still in flight
        await self.catalog.aclose()
        await self.transport.aclose()
        await self.audit.aclose()  # after everything that may still report a denial
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

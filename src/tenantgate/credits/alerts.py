"""Budget alerts: a threshold crossed fires once per budget, period and threshold, on any replica.

``observe`` is told what a budget has spent in a period. The thresholds that spending has
reached are claimed by inserting one row each into ``credit_budget_alerts``; the primary
key lets exactly one replica win each, and only the winner tells anyone: a WARNING log line
with structured fields, a JSON POST to the budget's webhook (short timeout; failures are
logged, never raised, so a dead receiver cannot break metering) and ``on_alert``, which the
gateway turns into an audit event. A threshold this replica already saw fire is skipped
without a query, so calling ``observe`` after every settlement stays cheap.

Call it off the request path: the webhook POST is awaited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import aiohttp

from tenantgate.credits import _credit_rows as rows
from tenantgate.credits.budgets import Budget, crossed_thresholds
from tenantgate.credits.pricing import format_credits
from tenantgate.credits.tables import budget_alerts
from tenantgate.storage.database import Database

logger = logging.getLogger("tenantgate.credits.alerts")

WEBHOOK_TIMEOUT_S = 5.0
SendWebhook = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One threshold of one budget crossed in one period; amounts in micro-credits."""

    budget_id: str
    budget_name: str
    scope_type: str
    scope_id: str
    period: str
    threshold: int
    spent: int
    limit: int
    fired_at: datetime

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body: credits as exact decimal strings, never floats."""
        return {
            "type": "budget.threshold_crossed", "budget_id": self.budget_id, "budget_name": self.budget_name,
            "scope_type": self.scope_type, "scope_id": self.scope_id, "period": self.period,
            "threshold_percent": self.threshold, "spent": format_credits(self.spent),
            "limit": format_credits(self.limit), "fired_at": self.fired_at.isoformat(),
        }


async def post_json(url: str, body: dict[str, Any], *, timeout_s: float = WEBHOOK_TIMEOUT_S) -> None:
    """POST ``body`` to ``url``, raising on a transport error, a timeout or a non-2xx answer."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.post(url, json=body) as response:
        response.raise_for_status()


class BudgetAlerts:
    """Fires each budget threshold once per period across replicas, then logs, posts and reports it."""

    def __init__(
        self, db: Database, *, clock: Callable[[], datetime], send_webhook: SendWebhook | None = None,
        on_alert: Callable[[AlertEvent], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._send = send_webhook or post_json
        self._on_alert = on_alert
        self._fired: dict[str, tuple[str, set[int]]] = {}
        """Per budget: the period last seen and the thresholds known to have fired in it."""

    async def observe(self, budget: Budget, period: str, spent: int) -> list[int]:
        """The thresholds ``spent`` newly crossed in ``period`` that this replica fired (usually none)."""
        known = self._known(budget.id, period)
        fired: list[int] = []
        for threshold in crossed_thresholds(budget.thresholds, budget.limit, spent):
            if threshold in known:
                continue
            event = AlertEvent(budget.id, budget.name, budget.scope_type, budget.scope_id, period,
                               threshold, spent, budget.limit, self._clock())
            won = await self._db.run_write(partial(rows.insert_new, table=budget_alerts, values={
                "budget_id": budget.id, "period": period, "threshold": threshold,
                "spent_micros": spent, "fired_at": event.fired_at}))
            known.add(threshold)
            if won:
                fired.append(threshold)
                await self._announce(event, budget.webhook_url)
        return fired

    def _known(self, budget_id: str, period: str) -> set[int]:
        seen = self._fired.get(budget_id)
        if seen is None or seen[0] != period:  # a new period starts every threshold afresh
            seen = (period, set())
            self._fired[budget_id] = seen
        return seen[1]

    async def _announce(self, event: AlertEvent, webhook_url: str | None) -> None:
        fields = {k: v for k, v in event.payload().items() if k != "type"}
        logger.warning("budget %s crossed %d%% of its limit in %s", event.budget_name, event.threshold,
                       event.period, extra=fields)
        if webhook_url is not None:
            try:
                await self._send(webhook_url, event.payload())
            except Exception as exc:  # a receiver's failure must never break metering
                logger.warning("budget alert webhook failed",
                               extra={"budget_id": event.budget_id, "error": repr(exc)})
        if self._on_alert is not None:
            try:
                self._on_alert(event)
            except Exception:
                logger.exception("budget alert callback failed", extra={"budget_id": event.budget_id})

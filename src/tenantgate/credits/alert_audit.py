"""A budget alert as an audit-trail entry, so finance sees thresholds in the same tamper-evident log."""

from __future__ import annotations

from tenantgate.audit import AuditEntry
from tenantgate.credits.alerts import AlertEvent


def alert_entry(event: AlertEvent) -> AuditEntry:
    """``credits.budget.alert`` by the system, naming the budget, period, threshold and amounts."""
    return AuditEntry(
        actor_type="system", actor_id="tenantgate", action="credits.budget.alert", outcome="succeeded",
        target_type="budget", target_id=event.budget_id,
        compartment_id=event.scope_id if event.scope_type == "compartment" else None,
        details={"budget_name": event.budget_name, "scope_type": event.scope_type, "scope_id": event.scope_id,
                 "period": event.period, "threshold_percent": event.threshold, "spent": event.spent,
                 "limit": event.limit},
    )

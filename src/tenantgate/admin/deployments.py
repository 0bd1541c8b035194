"""``GET /admin/v1/deployments``: every deployment with its routing data and live health.

Deployments are part of the model catalog, so reading them takes ``inspect
generative-ai-model`` in the tenancy (the catalog is tenancy-wide). The figures are this
replica's: each replica keeps its own breakers and averages from its own traffic, except
``absorbed_cost``, which the ledger totals across replicas (``credits.provider_costs``).
"""

from __future__ import annotations

from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.views import View, page
from tenantgate.credits.pricing import format_credits
from tenantgate.credits.provider_costs import provider_cost_account
from tenantgate.deployments import DeploymentHealth, health
from tenantgate.iam.policy_model import ResourceType, Verb
from tenantgate.ledger import LedgerStore


class ReservationView(View, kw_only=True):
    """Utilisation of one reservation of dedicated capacity (``compartment`` null: the shared slots)."""

    object: str = "reservation"
    compartment: str | None
    slots: int
    in_use: int
    utilisation: float
    queued: int
    wait_p99_ms: float | None


class DeploymentView(View, kw_only=True):
    """One deployment of one model, as routing sees it on the replica that answered."""

    object: str = "deployment"
    model: str
    deployment: str
    provider: str
    region: str | None
    cloud: str | None
    capacity_class: str
    throughput_tokens_per_min: int | None
    concurrent_requests_max: int | None
    residency: list[str]
    weight: int
    priority: int
    breaker: str
    failure_ratio: float
    in_flight: int
    ewma_ttft_ms: float | None
    cooling_down: bool
    reservations: list[ReservationView]
    probe_streak: int = 0
    """Active probes (``routing.probes``) in a row that succeeded (positive) or failed (negative)."""
    absorbed_cost: str = "0.000000"
    """Credits that failed attempts the upstream took on may have cost (estimated), never
    charged to a caller: the deployment's provider cost account, all replicas together."""


def deployment_view(row: DeploymentHealth, absorbed: int = 0) -> DeploymentView:
    """The deployment as the admin API shows it."""
    return DeploymentView(
        model=row.model, deployment=row.deployment, provider=row.provider, region=row.region,
        cloud=row.cloud, capacity_class=row.capacity_class,
        throughput_tokens_per_min=row.throughput_tokens_per_min,
        concurrent_requests_max=row.concurrent_requests_max, residency=list(row.residency),
        weight=row.weight, priority=row.rank, breaker=row.breaker, failure_ratio=row.failure_ratio,
        in_flight=row.in_flight, ewma_ttft_ms=row.ewma_ttft_ms, cooling_down=row.cooling_down,
        reservations=[ReservationView(compartment=r.compartment, slots=r.slots, in_use=r.in_use,
                                      utilisation=round(r.utilisation, 4), queued=r.queued,
                                      wait_p99_ms=r.wait_p99_ms) for r in row.reservations],
        probe_streak=row.probe_streak, absorbed_cost=format_credits(absorbed),
    )


async def list_deployments(call: AdminCall) -> Reply:
    """``GET /admin/v1/deployments``."""
    call.require(Verb.INSPECT, ResourceType.GENERATIVE_AI_MODEL, call.root, "deployment", None)
    router = call.services.router
    rows = health(router) if router is not None else []
    absorbed = await _absorbed(call, rows)
    return Reply(200, page([deployment_view(row, absorbed.get(row.deployment, 0)) for row in rows]))


async def _absorbed(call: AdminCall, rows: list[DeploymentHealth]) -> dict[str, int]:
    """Each deployment's provider cost so far, from the ledger (absent: none booked)."""
    accounts = {provider_cost_account(row.deployment).id: row.deployment for row in rows}
    if not accounts:
        return {}
    ledger = LedgerStore(call.services.database, clock=call.services.clock)
    return {accounts[r.id]: r.balance.debits_posted for r in await ledger.lookup_accounts(list(accounts))}

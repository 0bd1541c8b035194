"""Prometheus metrics of the gateway, on a registry of its own (so tests can build several apps).

Label children are cached: ``labels()`` costs a lock and a dict lookup that the hot path
need not pay per request.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

MemoryReport = Callable[[], list[tuple[str, int]]]


class _LocalModelMemory(Collector):
    """Resident memory of loaded local models, read when scraped."""

    def __init__(self, report: MemoryReport) -> None:
        self._report = report

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "tenantgate_local_model_memory_bytes",
            "Memory held by each loaded local model.",
            labels=["model"],
        )
        for name, size in self._report():
            family.add_metric([name], float(size))
        return [family]


DeploymentReport = Callable[[], list[tuple[str, str, int, int, float | None]]]
"""Rows of (model, deployment, breaker state 0/1/2, in-flight attempts, EWMA TTFT seconds)."""


class _DeploymentHealth(Collector):
    """Per-deployment routing health, read from the router when scraped."""

    def __init__(self, report: DeploymentReport) -> None:
        self._report = report

    def collect(self) -> list[GaugeMetricFamily]:
        labels = ["model", "deployment"]
        breaker = GaugeMetricFamily(
            "tenantgate_deployment_breaker_state",
            "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open.", labels=labels)
        inflight = GaugeMetricFamily(
            "tenantgate_deployment_inflight", "Upstream attempts in progress per deployment.", labels=labels)
        ttft = GaugeMetricFamily(
            "tenantgate_deployment_ttft_ewma_seconds",
            "Moving average of the time to the first byte per deployment (absent until measured).",
            labels=labels)
        for model, deployment, state, in_flight, ewma_s in self._report():
            breaker.add_metric([model, deployment], float(state))
            inflight.add_metric([model, deployment], float(in_flight))
            if ewma_s is not None:
                ttft.add_metric([model, deployment], ewma_s)
        return [breaker, inflight, ttft]


ReservationReport = Callable[[], list[tuple[str, str, str, int, int, int, float | None]]]
"""Rows of (model, deployment, compartment ("(shared)": shared slots), slots, in use, queued, p99 wait s)."""


class _Reservations(Collector):
    """Utilisation of dedicated capacity per reservation, read from the router when scraped."""

    def __init__(self, report: ReservationReport) -> None:
        self._report = report

    def collect(self) -> list[GaugeMetricFamily]:
        labels = ["model", "deployment", "compartment"]
        slots = GaugeMetricFamily(
            "tenantgate_reservation_slots", "Slots of a reservation (compartment (shared): the shared ones).",
            labels=labels)
        in_use = GaugeMetricFamily(
            "tenantgate_reservation_in_use", "Slots of a reservation in use.", labels=labels)
        queued = GaugeMetricFamily(
            "tenantgate_reservation_queue_depth", "Requests waiting for a slot, by reservation.",
            labels=labels)
        wait = GaugeMetricFamily(
            "tenantgate_reservation_wait_p99_seconds",
            "p99 wait for a slot over the last minute (absent until a request came).", labels=labels)
        for model, deployment, compartment, size, used, waiting, p99_s in self._report():
            key = [model, deployment, compartment]
            slots.add_metric(key, float(size))
            in_use.add_metric(key, float(used))
            queued.add_metric(key, float(waiting))
            if p99_s is not None:
                wait.add_metric(key, p99_s)
        return [slots, in_use, queued, wait]


class _ReadOnScrape(Collector):
    """Gauges read from their owners when scraped, so the hot path never updates them."""

    def __init__(self) -> None:
        self.readers: list[tuple[str, str, Callable[[], float]]] = []

    def collect(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(name, text, value=float(read())) for name, text, read in self.readers]


class GatewayMetrics:
    """The gateway's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "tenantgate_requests", "HTTP requests by route and status.",
            ["route", "status"], registry=self.registry,
        )
        self._latency = Histogram(
            "tenantgate_request_duration_seconds", "Time to the end of the response, by route.",
            ["route"], buckets=LATENCY_BUCKETS_S, registry=self.registry,
        )
        self._upstream_errors = Counter(
            "tenantgate_upstream_errors", "Failed upstream attempts by provider and error code.",
            ["provider", "code"], registry=self.registry,
        )
        self._absorbed = Counter(
            "tenantgate_upstream_absorbed_cost_micros",
            "Estimated cost of failed attempts the upstream took on, booked to provider cost "
            "accounts instead of callers (micro-credits), by deployment.",
            ["provider", "deployment"], registry=self.registry,
        )
        self.inflight_streams = Gauge(
            "tenantgate_inflight_streams", "Streaming responses in progress.",
            registry=self.registry,
        )
        self._scraped = _ReadOnScrape()
        self.registry.register(self._scraped)
        self._request_children: dict[tuple[str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}

    def request_done(self, route: str, status: int, duration_s: float) -> None:
        key = (route, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self._requests.labels(route, str(status))
        child.inc()
        hist = self._latency_children.get(route)
        if hist is None:
            hist = self._latency_children[route] = self._latency.labels(route)
        hist.observe(duration_s)

    def upstream_error(self, provider: str, code: str) -> None:
        self._upstream_errors.labels(provider, code).inc()

    def absorbed_cost(self, provider: str, deployment: str, micros: int) -> None:
        self._absorbed.labels(provider, deployment).inc(micros)

    def watch(self, name: str, text: str, read: Callable[[], float]) -> None:
        """Expose ``read()`` as the gauge ``name``, evaluated at each scrape."""
        self._scraped.readers.append((name, text, read))

    def watch_deployments(self, report: DeploymentReport) -> None:
        """Expose every deployment's breaker state, in-flight attempts and latency average."""
        self.registry.register(_DeploymentHealth(report))

    def watch_reservations(self, report: ReservationReport) -> None:
        """Expose every reservation's slots, use, queue depth and p99 wait."""
        self.registry.register(_Reservations(report))

    def watch_local_memory(self, report: MemoryReport) -> None:
        self.registry.register(_LocalModelMemory(report))

    def render(self) -> bytes:
        return generate_latest(self.registry)

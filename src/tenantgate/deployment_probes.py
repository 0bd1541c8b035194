"""Active health probes: a one-token request to each remote deployment on a schedule.

Passive signals (live traffic's failures) find an outage only by failing callers' requests,
and an open breaker comes back only by spending one on its half-open probe. With
``routing.probes.enabled`` each remote deployment also gets a tiny request every
``interval_s`` (jittered, so replicas do not probe in step), through the same backend a
request uses (translation, signing, transport), so a probe tests what a request needs.
``CircuitBreaker.probed`` turns the results into breaker state: failures in a row open a
closed breaker, successes in a row close an open one.

What counts: an answer is healthy; an upstream failure (5xx, reset, timeout, malformed
answer) is not; a 429 or a refusal of the probe's own request (4xx, e.g. a model that
wants other parameters) says nothing about health and is ignored. The embedded local model
is never probed: it is in-process, and a probe would only take a slot from a caller.
A probe costs what a one-token request costs at the provider. The routing package stays
pure (it decides, it never sends); this module is the part that sends.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from tenantgate.background import stop_tasks
from tenantgate.errors import TenantgateError, UpstreamError, UpstreamRateLimited
from tenantgate.providers.base import Backend, Operation
from tenantgate.routing.deployment_state import DeploymentState
from tenantgate.routing.router import Router
from tenantgate.settings import ProbeSettings

logger = logging.getLogger("tenantgate.routing")

_PROBE_TEXT = "ping"
_JITTER = 0.2
"""Each wait is ``interval_s`` times a factor in [1 - jitter, 1 + jitter]."""


def probe_request(backend: Backend) -> tuple[Operation, dict[str, Any]] | None:
    """The cheapest request the deployment serves: chat, else embeddings, else a legacy completion."""
    operations = backend.capabilities.operations
    model = backend.info.model_name
    if Operation.CHAT in operations:
        return Operation.CHAT, {"model": model, "messages": [{"role": "user", "content": _PROBE_TEXT}],
                                "max_tokens": 1}
    if Operation.EMBEDDING in operations:
        return Operation.EMBEDDING, {"model": model, "input": _PROBE_TEXT}
    if Operation.COMPLETION in operations:
        return Operation.COMPLETION, {"model": model, "prompt": _PROBE_TEXT, "max_tokens": 1}
    return None


def probe_verdict(error: BaseException | None) -> bool | None:
    """True healthy, False failed, None inconclusive (throttled, or the probe itself refused)."""
    if error is None:
        return True
    if isinstance(error, UpstreamRateLimited):
        return None
    if isinstance(error, (UpstreamError, TimeoutError)):
        return False
    return None


class ActiveProbes:
    """Probes every remote deployment of a router's models and feeds their breakers."""

    def __init__(self, router: Router, settings: ProbeSettings, *, rng: random.Random | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self._router = router
        self._settings = settings
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    def targets(self) -> dict[int, tuple[Backend, list[DeploymentState]]]:
        """Each remote backend once, with every routing state it serves (a deployment may back several
        models' routes)."""
        found: dict[int, tuple[Backend, list[DeploymentState]]] = {}
        for route in self._router.routes():
            for state in route.states:
                if state.info.provider == "local":
                    continue
                found.setdefault(id(state.backend), (state.backend, []))[1].append(state)
        return found

    def start(self) -> None:
        if self._settings.enabled and self._task is None and self.targets():
            self._task = asyncio.create_task(self._run(), name="tenantgate-active-probes")

    async def aclose(self) -> None:
        await stop_tasks(self._task)
        self._task = None

    async def probe_all(self) -> None:
        """One round: every target probed concurrently, each breaker told its result."""
        targets = list(self.targets().values())
        await asyncio.gather(*(self._probe(backend, states) for backend, states in targets))

    async def _run(self) -> None:
        interval = self._settings.interval_s
        while True:
            await self._sleep(interval * self._rng.uniform(1 - _JITTER, 1 + _JITTER))
            try:
                await self.probe_all()
            except Exception as exc:  # a probe round must never stop the schedule
                logger.warning("active probe round failed", extra={"error": repr(exc)})

    async def _probe(self, backend: Backend, states: list[DeploymentState]) -> None:
        request = probe_request(backend)
        if request is None:
            return
        operation, body = request
        error: BaseException | None = None
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                await backend.complete(operation, body)
        except (TenantgateError, TimeoutError) as exc:
            error = exc
        verdict = probe_verdict(error)
        if verdict is None:
            return
        self._record(backend, states, verdict, error)

    def _record(self, backend: Backend, states: list[DeploymentState], ok: bool, error: BaseException | None
                ) -> None:
        now = self._router.clock()
        settings = self._settings
        for state in states:
            before = state.breaker_state(now)
            state.breaker.probed(ok, now, unhealthy_after=settings.unhealthy_after,
                                 healthy_after=settings.healthy_after)
            after = state.breaker_state(now)
            if after is not before:
                logger.warning("active probe moved a breaker", extra={
                    "deployment": backend.info.label, "model": backend.info.model_name,
                    "breaker": after.name.lower(), "error_code": _code(error)})
        if not ok:
            logger.info("active probe failed",
                        extra={"deployment": backend.info.label, "error_code": _code(error)})


def _code(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return error.code if isinstance(error, TenantgateError) else "upstream_timeout"

"""One request's attempts: which deployment next, how long to wait, and what each result teaches.

The pipeline drives the loop (it does the I/O); this object decides. Per model it tries
each ordered deployment once, then, if ``same_deployment_retries`` allows, retries the
deployments that failed with a retryable error after a jittered backoff, or after their
``Retry-After`` when that is no longer than ``retry_after_max_s`` (a longer one is not
retried: the request ends with the upstream's 429 and its hint). Every attempt after the
request's first spends the model's retry budget, and ``attempts_max`` bounds them all,
fallback models included. Attempt ids are ``<request id>-a<N>``.

Results feed the deployment's health: a failure counts against its breaker, a 429 cools
it down (to the back of the order) for its Retry-After, and the time to the first byte
feeds the latency average. ``in_flight`` counts attempts from ``start`` to ``end``. An
attempt that dedicated capacity ``refused`` (a spill-over) keeps its id but counts against
neither ``attempts_max`` nor the retry budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenantgate.errors import (
    NoDeploymentAvailable,
    RateLimited,
    ResidencyUnavailable,
    TenantgateError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from tenantgate.routing.deployment_state import DeploymentState
from tenantgate.routing.failover import may_fail_over
from tenantgate.routing.retry import backoff_s
from tenantgate.routing.router import Decision, ModelRoute, Router


@dataclass(slots=True)
class Attempt:
    """One upstream attempt: where, its id, and how long to wait before sending it."""

    state: DeploymentState
    request_id: str
    attempt_id: str
    delay_s: float = 0.0
    started_at: float = 0.0
    first_byte_at: float | None = None
    ended: bool = False


class Attempts:
    """The attempt plan of one request, across the ordered deployments of each model it tries."""

    __slots__ = ("_decision", "_failed", "_not_before", "_queue", "_refused", "_retry_round", "_route",
                 "_router", "count", "last_error", "models", "request_id")

    def __init__(self, router: Router, request_id: str) -> None:
        self._router = router
        self.request_id = request_id
        self.count = 0
        self.models: list[str] = []
        self.last_error: TenantgateError | None = None
        self._route: ModelRoute | None = None
        self._decision: Decision | None = None
        self._queue: list[DeploymentState] = []
        self._failed: list[DeploymentState] = []
        self._not_before: dict[int, float] = {}
        self._retry_round = 0
        self._refused = 0
        """Attempts dedicated capacity refused (spill-overs): never sent, so they spend no budget."""

    def begin_model(self, route: ModelRoute, decision: Decision) -> None:
        """Plan the attempts on one model's ordered deployments (the first model, or a fallback)."""
        if not self.models:
            route.budget.deposit(self._router.clock())
        self.models.append(route.name)
        self._route, self._decision = route, decision
        self._queue = list(decision.states)
        self._failed = []
        self._not_before = {}
        self._retry_round = 0

    @property
    def attempts_left(self) -> bool:
        """Whether the request may still make another attempt (on any model)."""
        route = self._route
        return route is not None and self.count - self._refused < route.policy.attempts_max

    def next(self) -> Attempt | None:
        """The next attempt to make, or None when this model has nothing more to try."""
        route = self._route
        if route is None or self.count - self._refused >= route.policy.attempts_max:
            return None
        now = self._router.clock()
        while True:
            if not self._queue and not self._next_round():
                return None
            state = self._queue.pop(0)
            delay_s = 0.0
            if self._retry_round:
                wait_s = self._not_before.get(id(state), now) - now
                if wait_s > route.policy.retry_after_max_s:
                    continue  # its Retry-After is longer than we wait: not retried
                delay_s = max(wait_s, backoff_s(self._retry_round, route.policy, self._router.rng))
            if not state.breaker.begin(now):
                continue
            if self.count > self._refused and not route.budget.withdraw(now):
                state.breaker.record(None, now)  # give the probe slot back
                return None
            self.count += 1
            return Attempt(state, self.request_id, f"{self.request_id}-a{self.count}", delay_s)

    def _next_round(self) -> bool:
        route = self._route
        assert route is not None
        if not self._failed or self._retry_round >= route.policy.same_deployment_retries:
            return False
        self._retry_round += 1
        self._queue, self._failed = self._failed, []
        return True

    @property
    def has_next(self) -> bool:
        """Whether another deployment of this model is still planned, so a spill-over has somewhere to go.

        A refused attempt does not count against ``attempts_max``, so only the plan matters.
        """
        return bool(self._queue)

    def refused(self, attempt: Attempt, error: TenantgateError) -> None:
        """Dedicated capacity did not admit the attempt: never sent, so no verdict on health."""
        attempt.ended = True
        attempt.state.breaker.record(None, self._router.clock())  # give a probe slot back
        self.last_error = error
        self._refused += 1

    def start(self, attempt: Attempt) -> None:
        """The attempt is being sent now."""
        attempt.started_at = self._router.clock()
        attempt.state.in_flight += 1

    def first_byte(self, attempt: Attempt) -> None:
        """The attempt's answer (or first stream piece) arrived: a latency sample."""
        now = self._router.clock()
        attempt.first_byte_at = now
        attempt.state.observe_ttft(now - attempt.started_at, self._router.latency)

    def end(self, attempt: Attempt, error: TenantgateError | None) -> None:
        """The attempt is over (answered in full, failed, or abandoned by the client: ``None``)."""
        if attempt.ended:
            return
        attempt.ended = True
        state, now = attempt.state, self._router.clock()
        state.in_flight -= 1
        if error is None:
            state.breaker.record(True, now)
            return
        if isinstance(error, (UpstreamRateLimited, RateLimited)):
            cooldown_s = error.retry_after_s
            policy = self._route.policy if self._route is not None else None
            if policy is not None:
                cooldown_s = min(policy.rate_limit_cooldown_s if cooldown_s is None else cooldown_s,
                                 policy.rate_limit_cooldown_max_s)
            state.cooling_until = max(state.cooling_until, now + (cooldown_s or 0.0))
            state.breaker.record(None, now)
        elif isinstance(error, UpstreamError) or may_fail_over(error):
            state.breaker.record(False, now)  # 5xx, timeout, reset, malformed, cut mid-stream
            if isinstance(error, UpstreamTimeout) and attempt.first_byte_at is None:
                state.observe_ttft(now - attempt.started_at, self._router.latency)
        else:
            state.breaker.record(True, now)  # the request's fault (400, context length), not the deployment's

    def abandon(self, attempt: Attempt) -> None:
        """The attempt was cancelled (the client left): no verdict on the deployment's health."""
        if not attempt.ended:
            attempt.ended = True
            attempt.state.in_flight -= 1
            attempt.state.breaker.record(None, self._router.clock())

    def stream_ended(self, attempt: Attempt, failure: TenantgateError | None, finished: bool) -> None:
        """A stream that had started is over: failed mid-way, finished, or abandoned by the client."""
        if failure is not None:
            self.end(attempt, failure)
        elif finished:
            self.end(attempt, None)
        else:
            self.abandon(attempt)

    def failed(self, attempt: Attempt, error: TenantgateError) -> None:
        """The attempt failed before anything reached the client."""
        self.end(attempt, error)
        self.last_error = error
        if may_fail_over(error):
            self._failed.append(attempt.state)
            if error.retry_after_s is not None:
                self._not_before[id(attempt.state)] = self._router.clock() + error.retry_after_s
            else:
                self._not_before.pop(id(attempt.state), None)

    def exhausted(self) -> TenantgateError:
        """The error to answer with when no attempt succeeded."""
        if self.last_error is not None:
            return self.last_error
        decision = self._decision
        retry_after_s = decision.reopens_in_s if decision is not None else None
        if decision is not None and decision.rule is not None and decision.rule.pinned:
            tags = ", ".join(sorted(decision.rule.residency))
            return ResidencyUnavailable(
                f"No deployment of the model '{self.models[-1]}' in the residency this compartment "
                f"is pinned to ({tags}) is available right now; requests never leave it.",
                retry_after_s=retry_after_s,
            )
        return NoDeploymentAvailable(retry_after_s=retry_after_s)

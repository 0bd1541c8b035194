"""The request flow of universal credits: hold before the upstream, settle or release after.

``hold`` prices the request at its maximum (the prompt bounded by ``prompt_tokens``, plus
``max_tokens`` or the model's output cap, at the dearest deployment it may be routed to) and
places one linked chain of pending transfers: every budget that applies (key, user, target
compartment and its ancestors, tenancy), then the earliest-expiring commitment that can
cover it. The chain commits or fails as a whole inside one group-committed batch, so
concurrent requests (and replicas) can never together exceed a budget or a commitment. A
budget that cannot cover it is 429 ``budget_exceeded``; no commitment that can is 429
``insufficient_quota``. Either way the upstream is never called.

``settle`` prices the usage at the deployment that answered and posts it (streams too, with
a local estimate flagged when the upstream reported none); ``release`` voids the hold when
nothing was delivered. Both are queued, not awaited: the answer does not wait for the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenantgate.credits import hold_plan
from tenantgate.credits.accounts import period_key
from tenantgate.credits.batcher import LedgerBatcher
from tenantgate.credits.hold_plan import HoldPlan
from tenantgate.credits.pricing import Price, RateCard, RateEntry, hold_amount, to_micro, usage_cost
from tenantgate.credits.prompt_tokens import chat_prompt_tokens, text_prompt_tokens
from tenantgate.errors import BudgetExceeded, InsufficientQuota, InternalError, ModelNotPriced
from tenantgate.ledger import CreateTransferResult
from tenantgate.ledger.model import JsonValue
from tenantgate.settings import CreditsSettings

if TYPE_CHECKING:  # the store is only handed in; importing it here would tie start-up to its tables
    from tenantgate.credits.alerts import BudgetAlerts
    from tenantgate.credits.budgets import Budget
    from tenantgate.credits.commitments import Commitment
    from tenantgate.credits.store import CreditStore

logger = logging.getLogger("tenantgate.credits")

_CACHE_S = 5.0
_EXHAUSTED_S = 1.0
_ALERT_CHECK_S = 5.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A deployment the request may be routed to: its upstream model name and region."""

    upstream_model: str
    region: str | None


@dataclass(frozen=True, slots=True)
class Payer:
    """Whose budgets apply: the key, the user, and the target compartment with its ancestors."""

    key_id: str | None
    user_id: str | None
    compartment_ids: tuple[str, ...]
    principal_type: str = "anonymous"
    principal_id: str = "anonymous"

    @property
    def compartment_id(self) -> str | None:
        """The target compartment (the first of the chain), None before a tenancy exists."""
        return self.compartment_ids[0] if self.compartment_ids else None


@dataclass(frozen=True, slots=True)
class Hold:
    """A placed hold: its ledger plan and what settlement needs to price the answer."""

    plan: HoldPlan
    model: str
    request_id: str
    prices: dict[str | None, Price]
    prompt_tokens_max: int
    payer: Payer
    operation: str = "chat"


def rate_card_from(settings: CreditsSettings) -> RateCard:
    """The rate card of the settings, prices converted to exact micro-credits."""
    return RateCard(
        RateEntry(
            model=line.model, region=line.region, effective_from=line.effective_from,
            price=Price(to_micro(line.input_per_1m), to_micro(line.output_per_1m),
                        None if line.cached_input_per_1m is None else to_micro(line.cached_input_per_1m)),
        )
        for line in settings.rate_card
    )


class Metering:
    """Holds, settles and releases credits for inference calls on one replica."""

    def __init__(
        self, settings: CreditsSettings, store: CreditStore, *, output_caps: dict[str, int | None],
        clock: Callable[[], datetime], alerts: BudgetAlerts | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._alerts = alerts
        self._caps = output_caps
        self._clock = clock
        self.rate_card = rate_card_from(settings)
        self.batcher = LedgerBatcher(store.ledger, linger_ms=settings.commit_linger_ms)
        self._budgets: dict[Payer, tuple[float, list[Budget]]] = {}
        self._commitments: tuple[float, list[Commitment]] = (float("-inf"), [])
        self._exhausted: dict[str, float] = {}
        self._funded: set[str] = set()
        self._budget_queries: dict[Payer, asyncio.Future[list[Budget]]] = {}
        self._commitment_query: asyncio.Future[list[Commitment]] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._store.ensure_system_accounts()
        self.batcher.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="tenantgate-credits-sweeper")
        self._watcher = asyncio.create_task(self._watch_budgets(), name="tenantgate-budget-alerts")

    async def aclose(self) -> None:
        for task in (self._sweeper, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.batcher.aclose()

    # Hold

    async def hold(
        self, *, model: str, operation: str, body: dict[str, Any], request_id: str,
        candidates: Sequence[Candidate], payer: Payer,
    ) -> Hold:
        """Reserve the request's maximum cost on every budget and one commitment, or raise 429."""
        now = self._clock()
        prices, amount, prompt_max = self._price(model, operation, body, candidates, now)
        budgets = await self._budgets_for(payer)
        accounts = [await self._budget_account(budget, period_key(budget.period, now)) for budget in budgets]
        for commitment in await self._active_commitments(now):
            if self._exhausted.get(commitment.id, 0.0) > time.monotonic():
                continue
            plan = HoldPlan(_new_hold_id(), amount, tuple(accounts), commitment.account_id)
            transfers = hold_plan.hold_transfers(
                plan, timeout_s=self._settings.hold_timeout_s, user_data={"request_id": request_id})
            results = await self.batcher.submit(transfers)
            failed = _first_failure([r.result for r in results])
            if failed is None:
                return Hold(plan, model, request_id, prices, prompt_max, payer, operation)
            index, code = failed
            if code is not CreateTransferResult.EXCEEDS_CREDITS:
                logger.error("credit hold refused by the ledger",
                             extra={"code": code.name, "request_id": request_id})
                raise InternalError()
            if index < len(accounts):
                raise BudgetExceeded(
                    f"The budget '{budgets[index].name}' cannot cover this request's maximum cost "
                    "in the current period. Lower max_tokens, or ask an administrator to raise it.")
            self._exhausted[commitment.id] = time.monotonic() + _EXHAUSTED_S
        raise InsufficientQuota()

    def _price(
        self, model: str, operation: str, body: dict[str, Any], candidates: Sequence[Candidate],
        now: datetime,
    ) -> tuple[dict[str | None, Price], int, int]:
        """Prices per region, the hold (the dearest candidate) and the prompt bound."""
        prices: dict[str | None, Price] = {}
        amount = prompt_max = 0
        output_max = self._output_max(model, operation, body)
        for candidate in candidates:
            try:
                price = prices.get(candidate.region) or self.rate_card.price(model, now, candidate.region)
            except LookupError:
                raise ModelNotPriced(f"The model '{model}' has no price on the rate card.") from None
            prices[candidate.region] = price
            prompt = self._prompt_max(operation, body, candidate.upstream_model)
            prompt_max = max(prompt_max, prompt)
            amount = max(amount, hold_amount(price, prompt_tokens_max=prompt, output_tokens_max=output_max))
        return prices, max(amount, 1), prompt_max

    @staticmethod
    def _prompt_max(operation: str, body: dict[str, Any], upstream_model: str) -> int:
        if operation == "chat":
            return chat_prompt_tokens(body, upstream_model)
        return text_prompt_tokens(body.get("prompt", body.get("input")), upstream_model)

    def _output_max(self, model: str, operation: str, body: dict[str, Any]) -> int:
        """Output tokens the answer may have: the request's limit, else the model's cap, times n."""
        if operation == "embedding":
            return 0
        asked = body.get("max_completion_tokens") or body.get("max_tokens")
        cap = self._caps.get(model)
        if isinstance(asked, int) and asked > 0:
            limit = min(asked, cap) if cap else asked  # the request's own limit bounds the answer
        else:
            limit = cap or self._settings.default_max_output_tokens
        n = body.get("n")
        choices = n if isinstance(n, int) and n > 0 else 1
        return limit * choices

    async def _budgets_for(self, payer: Payer) -> list[Budget]:
        """The payer's budgets, cached briefly; concurrent misses share one query."""
        cached = self._budgets.get(payer)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        pending = self._budget_queries.get(payer)
        if pending is None:
            pending = asyncio.ensure_future(self._store.budgets_for(
                key_id=payer.key_id, user_id=payer.user_id, compartment_ids=payer.compartment_ids))
            self._budget_queries[payer] = pending
            pending.add_done_callback(lambda _: self._budget_queries.pop(payer, None))
        budgets = await asyncio.shield(pending)
        if len(self._budgets) > 10_000:
            self._budgets.clear()
        self._budgets[payer] = (time.monotonic() + _CACHE_S, budgets)
        return budgets

    async def _budget_account(self, budget: Budget, period: str) -> str:
        account = budget.account_id(period)
        if account not in self._funded:
            await self._store.ensure_budget_account(budget, period)
            self._funded.add(account)
        return account

    async def _active_commitments(self, now: datetime) -> list[Commitment]:
        """Active commitments, earliest expiry first, cached briefly; concurrent misses share one query."""
        expires, found = self._commitments
        if expires > time.monotonic():
            return found
        if self._commitment_query is None or self._commitment_query.done():
            self._commitment_query = asyncio.ensure_future(self._store.active_commitments(now))
        found = await asyncio.shield(self._commitment_query)
        self._commitments = (time.monotonic() + _CACHE_S, found)
        return found

    # Settle and release

    def settle(self, hold: Hold, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int,
               region: str | None, estimated: bool, deployment: str | None = None) -> int:
        """Post what the answer cost at the answering deployment's price; return that cost."""
        price = hold.prices.get(region) or next(iter(hold.prices.values()))
        cost = usage_cost(price, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                          cached_tokens=cached_tokens)
        payer = hold.payer
        usage: dict[str, JsonValue] = {  # the usage record: reports read it from the ledger's posts
            "request_id": hold.request_id, "model": hold.model, "operation": hold.operation,
            "region": region, "deployment": deployment,
            "principal_type": payer.principal_type, "principal_id": payer.principal_id,
            "key_id": payer.key_id, "user_id": payer.user_id, "compartment_id": payer.compartment_id,
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "cached_tokens": cached_tokens, "estimated": estimated, "cost": cost,
        }
        self.batcher.submit_nowait(hold_plan.settle_transfers(hold.plan, cost, user_data=usage))
        if cost > hold.plan.amount:
            self._spawn(self._charge_overage(hold.plan, cost - hold.plan.amount, usage))
        return cost

    def release(self, hold: Hold) -> None:
        """Void the hold: the request failed before anything was delivered."""
        self.batcher.submit_nowait(hold_plan.void_transfers(hold.plan))

    async def _charge_overage(self, plan: HoldPlan, overage: int, usage: dict[str, JsonValue]) -> None:
        logger.warning("answer cost more than its hold (the upstream ignored max_tokens)",
                       extra={"request_id": usage["request_id"], "overage": overage, "hold": plan.amount})
        results = await self.batcher.submit(hold_plan.overage_transfers(plan, overage, user_data=usage))
        if not results[-1].result.succeeded:
            await self.batcher.submit([hold_plan.overage_fallback(plan, overage, user_data=usage)])

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch_budgets(self) -> None:
        """Fire threshold alerts of the budgets this replica charged recently (off the hot path).

        ``BudgetAlerts.observe`` makes each threshold fire once per period across replicas.
        """
        if self._alerts is None:
            return
        while True:
            await asyncio.sleep(_ALERT_CHECK_S)
            seen = {b.id: b for _, budgets in list(self._budgets.values()) for b in budgets}
            for budget in seen.values():
                try:
                    status = await self._store.budget_status(budget, self._clock())
                    await self._alerts.observe(budget, status.period, status.spent)
                except Exception as exc:
                    logger.warning("budget alert check failed",
                                   extra={"budget": budget.id, "error": repr(exc)})

    async def _sweep(self) -> None:
        """Release holds whose replica never settled them, and forfeit ended commitments."""
        while True:
            await asyncio.sleep(self._settings.sweep_interval_s)
            try:
                expired = await self._store.ledger.expire_pending(self._clock())
                if expired:
                    logger.warning("released expired credit holds", extra={"holds": expired})
                await self._store.expire_commitments(self._clock())
            except Exception as exc:
                logger.warning("credit sweep failed", extra={"error": repr(exc)})


def _first_failure(results: list[CreateTransferResult]) -> tuple[int, CreateTransferResult] | None:
    """The member that failed a chain (the others say ``linked_event_failed``), if any."""
    if all(result.succeeded for result in results):
        return None
    for index, result in enumerate(results):
        if not result.succeeded and result is not CreateTransferResult.LINKED_EVENT_FAILED:
            return index, result
    return len(results) - 1, results[-1]


def _new_hold_id() -> str:
    """Random, never the caller's request id: a reused request id must not reuse a hold."""
    return os.urandom(12).hex()

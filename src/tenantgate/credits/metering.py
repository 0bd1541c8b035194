"""The request flow of universal credits: hold before the upstream, settle or release after.

``hold`` prices the request at its maximum (the prompt bounded by ``prompt_tokens``, plus
``max_tokens`` or the model's output cap, at the dearest deployment it may be routed to) and
reserves it on its chain: every budget that applies (key, user, target compartment and its
ancestors, tenancy), then the earliest-expiring commitment that can cover it. The
reservation comes from a credit lease (``reservations``): a pending chain in the ledger
with room for many requests, so concurrent requests (and replicas) can never together
exceed a budget or a commitment, while most requests are admitted without a ledger write.
A budget that cannot cover it is 429 ``budget_exceeded``; no commitment that can is 429
``insufficient_quota``. Either way the upstream is never called.

``settle`` prices the usage at the deployment that answered (streams too, with a local
estimate flagged when the upstream reported none) and hands its usage record to the lease,
whose next roll posts it and books the record in one transaction; ``release`` frees the
reservation when nothing was delivered. Neither waits for the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from tenantgate.background import stop_tasks
from tenantgate.credits._budget_store import require_accounts
from tenantgate.credits.accounts import period_key
from tenantgate.credits.batcher import LedgerBatcher
from tenantgate.credits.hold_plan import HoldPlan
from tenantgate.credits.leases import Lease
from tenantgate.credits.pricing import Price, RateCard, hold_amount, usage_cost
from tenantgate.credits.prompt_tokens import chat_prompt_tokens, text_prompt_tokens
from tenantgate.credits.provider_costs import attempt_cost, provider_cost_account, provider_cost_transfer
from tenantgate.credits.rate_card_entries import config_entries
from tenantgate.credits.reservations import ChainRefused, Reservations, new_id
from tenantgate.credits.usage_record import UsageRecord, UsageStatus
from tenantgate.credits.usage_table import recorded_at
from tenantgate.errors import BudgetExceeded, InsufficientQuota, InternalError, ModelNotPriced
from tenantgate.ledger import AccountFlags, CreateTransferResult, Transfer
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
_OWN_SCOPES = frozenset({"key", "user"})


class Candidate(NamedTuple):
    """A deployment the request may be routed to: its upstream model name, region and type.

    Tuples, like ``Payer``: one is built per request and deployment, and a tuple is built
    (and hashed, for the budget cache) in C.
    """

    upstream_model: str
    region: str | None
    deployment_type: str | None = None
    """``on_demand`` or ``dedicated`` (its capacity class), where the rate card tells them apart."""


PriceKey = tuple[str | None, str | None]
"""(region, deployment type): what the rate card may price differently for one model."""


class Payer(NamedTuple):
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


@dataclass(slots=True)
class Hold:
    """A request's reservation: its lease, its own plan (amount, accounts, ids for an overage)
    and what settlement needs to price the answer."""

    plan: HoldPlan
    model: str
    request_id: str
    prices: dict[PriceKey, Price]
    prompt_tokens_max: int
    payer: Payer
    lease: Lease
    operation: str = "chat"
    budget_left: int | None = None
    """What the caller's own budgets had left as the hold was placed (``Metering.budget_left``)."""


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
        self.rate_card = RateCard(config_entries(settings.rate_card))
        """Replaced as a whole by ``RateCardSource`` when administered prices change."""
        self.batcher = LedgerBatcher(store.ledger, linger_ms=settings.commit_linger_ms)
        self.reservations = Reservations(
            self.batcher, timeout_s=settings.hold_timeout_s, roll_interval_s=settings.lease_roll_interval_s,
            idle_s=settings.lease_idle_s, lease_max_requests=settings.lease_max_requests,
            on_roll=self._book_unbilled, free_of=self._free_of)
        self._unbilled: list[UsageRecord] = []
        self._left: dict[str, int] = {}
        """Per budget id: its limit minus what it was charged, as of the last alert check."""
        self._budgets: dict[Payer, tuple[float, list[Budget]]] = {}
        self._commitments: tuple[float, list[Commitment]] = (float("-inf"), [])
        self._exhausted: dict[str, float] = {}
        self._funded: set[str] = set()
        self._budget_queries: dict[Payer, asyncio.Future[list[Budget]]] = {}
        self._commitment_query: asyncio.Future[list[Commitment]] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._provider_accounts: set[str] = set()
        self._absorbing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._store.ensure_system_accounts()
        self.batcher.start()
        self.reservations.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="tenantgate-credits-sweeper")
        self._watcher = asyncio.create_task(self._watch_budgets(), name="tenantgate-budget-alerts")

    async def aclose(self) -> None:
        await stop_tasks(self._sweeper, self._watcher)
        with contextlib.suppress(Exception):
            await self.reservations.aclose()
        await self.batcher.aclose()

    async def flush(self) -> None:
        """Book every settled request now (tests, shutdown): roll the leases, write the records."""
        if self._absorbing:
            await asyncio.gather(*list(self._absorbing), return_exceptions=True)
        await self.reservations.roll()
        await self.batcher.flush()

    # Hold

    async def hold(
        self, *, model: str, operation: str, body: dict[str, Any], request_id: str,
        candidates: Sequence[Candidate], payer: Payer,
    ) -> Hold:
        """Reserve the request's maximum cost on every budget and one commitment, or raise 429."""
        now = self._clock()
        prices, amount, prompt_max = self._price(model, operation, body, candidates, now)
        monotonic = time.monotonic()
        cached = self._budgets.get(payer)  # the common case awaits nothing until the lease
        fresh = cached is not None and cached[0] > monotonic
        budgets = cached[1] if fresh and cached is not None else await self._budgets_for(payer)
        accounts = await self._budget_accounts(budgets, now) if budgets else ()
        hold_id = new_id()
        expires, commitments = self._commitments
        if expires <= monotonic:
            commitments = await self._active_commitments(now)
        for commitment in commitments:
            if self._exhausted and self._exhausted.get(commitment.id, 0.0) > monotonic:
                continue
            chain = (accounts, commitment.account_id)
            try:
                lease = self.reservations.admit_now(chain, amount) or await self.reservations.reserve(
                    chain, amount)
            except ChainRefused as refused:
                if refused.code is not CreateTransferResult.EXCEEDS_CREDITS:
                    logger.error("credit hold refused by the ledger",
                                 extra={"code": refused.code.name, "request_id": request_id})
                    raise InternalError() from None
                if refused.index < len(accounts):
                    self._refused(hold_id, request_id, model, operation, payer)
                    raise BudgetExceeded(
                        f"The budget '{budgets[refused.index].name}' cannot cover this request's maximum "
                        "cost in the current period. Lower max_tokens, or ask an administrator to raise it."
                    ) from None
                self._exhausted[commitment.id] = time.monotonic() + _EXHAUSTED_S
                continue
            plan = HoldPlan(hold_id, amount, accounts, chain[1])
            return Hold(plan, model, request_id, prices, prompt_max, payer, lease, operation,
                        self._own_left(budgets) if budgets else None)
        self._refused(hold_id, request_id, model, operation, payer)
        raise InsufficientQuota()

    def _price(
        self, model: str, operation: str, body: dict[str, Any], candidates: Sequence[Candidate],
        now: datetime,
    ) -> tuple[dict[PriceKey, Price], int, int]:
        """Prices per (region, deployment type), the hold (the dearest candidate) and the prompt bound."""
        prices: dict[PriceKey, Price] = {}
        prompts: dict[str, int] = {}  # deployments of one upstream model count the prompt once
        amount = prompt_max = 0
        output_max = self._output_max(model, operation, body)
        for candidate in candidates:
            key = (candidate.region, candidate.deployment_type)
            try:
                price = prices.get(key) or self.rate_card.price(
                    model, now, candidate.region, deployment_type=candidate.deployment_type,
                    operation=operation)
            except LookupError:
                raise ModelNotPriced(f"The model '{model}' has no price on the rate card.") from None
            prices[key] = price
            prompt = prompts.get(candidate.upstream_model)
            if prompt is None:
                prompt = prompts[candidate.upstream_model] = self._prompt_max(
                    operation, body, candidate.upstream_model)
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

    async def _budget_accounts(self, budgets: list[Budget], now: datetime) -> tuple[str, ...]:
        return tuple([await self._budget_account(b, period_key(b.period, now)) for b in budgets])

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

    async def _free_of(self, account_ids: Sequence[str]) -> int | None:
        """The least that any limited account of a chain has free for holds, from the ledger."""
        free = [r.balance.credits_posted - r.balance.debits_posted - r.balance.debits_pending
                for r in await self._store.ledger.lookup_accounts(account_ids)
                if r.account.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS]
        return max(0, min(free)) if free else None

    def budget_left(self, payer: Payer) -> int | None:
        """What the caller's own budgets (its key's and its user's) have left, the least of them.

        As of the last alert check (every few seconds), not counting requests in flight; None
        when the caller has no budget of its own or none was checked yet. Compartment budgets
        are not shown: reading them is a ``credits-family`` permission, not the caller's own.
        """
        cached = self._budgets.get(payer)
        return None if cached is None else self._own_left(cached[1])

    def _own_left(self, budgets: list[Budget]) -> int | None:
        left = [self._left[b.id] for b in budgets if b.scope_type in _OWN_SCOPES and b.id in self._left]
        return min(left) if left else None

    # Settle and release

    def settle(self, hold: Hold, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int,
               region: str | None, estimated: bool, deployment: str | None = None,
               deployment_type: str | None = None, latency_ms: int | None = None,
               attempts: Sequence[str] | None = None) -> int:
        """Charge what the answer cost at the answering deployment's price; return that cost.

        The lease pays up to the request's hold; a cost beyond it (an upstream that ignored
        ``max_tokens``) is an overage its next roll charges too, and the record counts both.
        """
        price = hold.prices.get((region, deployment_type)) or next(iter(hold.prices.values()))
        cost = usage_cost(price, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                          cached_tokens=cached_tokens)
        payer = hold.payer
        record = UsageRecord(
            id=hold.plan.hold_id, request_id=hold.request_id, operation=hold.operation, model=hold.model,
            principal_type=payer.principal_type, principal_id=payer.principal_id, key_id=payer.key_id,
            user_id=payer.user_id, compartment_id=payer.compartment_id, deployment=deployment,
            region=region, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            cached_tokens=cached_tokens, estimated=estimated, cost_micros=cost,
            paid_by=hold.plan.commitment_account, latency_ms=latency_ms,
            attempts=_trail(attempts))
        hold.lease.settle(hold.plan.amount, cost, record)
        if cost > hold.plan.amount:
            logger.warning("answer cost more than its hold (the upstream ignored max_tokens)",
                           extra={"request_id": hold.request_id, "overage": cost - hold.plan.amount,
                                  "hold": hold.plan.amount})
        return cost

    def release(
        self, hold: Hold, *, latency_ms: int | None = None, attempts: Sequence[str] | None = None
    ) -> None:
        """Free the reservation: the request failed before anything was delivered."""
        hold.lease.release(hold.plan.amount)
        self._unbilled.append(self._record(
            hold.plan.hold_id, hold.request_id, hold.model, hold.operation, hold.payer,
            status=UsageStatus.RELEASED.value, latency_ms=latency_ms,
            attempts=_trail(attempts)))

    def absorb(self, hold: Hold, *, attempt_id: str, deployment: str, region: str | None,
               deployment_type: str | None, error_code: str) -> int:
        """Book a failed attempt that the upstream took on to its deployment's provider cost
        account (``provider_costs``), never to the caller; return the estimate (0: not booked)."""
        price = hold.prices.get((region, deployment_type))
        cost = attempt_cost(price, prompt_tokens=hold.prompt_tokens_max) if price is not None else 0
        if cost <= 0:
            return 0
        transfer = provider_cost_transfer(
            attempt_id=attempt_id, deployment=deployment, amount=cost, request_id=hold.request_id,
            prompt_tokens=hold.prompt_tokens_max, error_code=error_code)
        if transfer.debit_account_id in self._provider_accounts:
            self.batcher.submit_nowait([transfer])
        else:  # a deployment's first failure: open its account, then book (off the request's path)
            task = asyncio.create_task(self._book_absorbed(deployment, transfer))
            self._absorbing.add(task)
            task.add_done_callback(self._absorbing.discard)
        return cost

    async def _book_absorbed(self, deployment: str, transfer: Transfer) -> None:
        try:
            require_accounts(await self._store.ledger.create_accounts([provider_cost_account(deployment)]))
        except Exception as exc:
            logger.error("could not open a provider cost account; the attempt's cost is not booked",
                         extra={"deployment": deployment, "transfer_id": transfer.id, "error": repr(exc)})
            return
        self._provider_accounts.add(transfer.debit_account_id)
        self.batcher.submit_nowait([transfer])

    def _refused(self, hold_id: str, request_id: str, model: str, operation: str, payer: Payer) -> None:
        self._unbilled.append(self._record(hold_id, request_id, model, operation, payer,
                                           status=UsageStatus.REFUSED.value))

    @staticmethod
    def _record(hold_id: str, request_id: str, model: str, operation: str, payer: Payer, *, status: str,
                latency_ms: int | None = None, attempts: tuple[str, ...] | None = None) -> UsageRecord:
        return UsageRecord(
            id=hold_id, request_id=request_id, operation=operation, model=model,
            principal_type=payer.principal_type, principal_id=payer.principal_id, key_id=payer.key_id,
            user_id=payer.user_id, compartment_id=payer.compartment_id, status=status,
            latency_ms=latency_ms, attempts=attempts)

    def _book_unbilled(self) -> None:
        """Write the records of refused and released requests (they move no money)."""
        if self._unbilled:
            records, self._unbilled = self._unbilled, []
            self.batcher.submit_nowait([], also=recorded_at(records, self._clock()))

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
                    self._left[budget.id] = max(0, status.limit - status.spent)
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


def _trail(attempts: Sequence[str] | None) -> tuple[str, ...] | None:
    """A usage record's attempts as a tuple (records are plain-value tuples)."""
    return None if attempts is None else tuple(attempts)

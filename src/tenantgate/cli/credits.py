"""`tenantgate credits`: commitments (credits bought) and budgets (who may spend how much).

Amounts are typed and printed as decimal credits (``1000``, ``12.5``) and handled as exact
integer micro-credits in between; nothing is ever a float. Works on the local database.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import click

from tenantgate.cli._store_session import config_option, json_option, run_with_database, utc_now
from tenantgate.cli._tables import Cell, print_rows
from tenantgate.cli.credits_rates import rates_group
from tenantgate.cli.credits_report import report
from tenantgate.credits.accounts import PROVIDER_BILLS, Period
from tenantgate.credits.budgets import TENANCY_SCOPE_ID, Budget, BudgetStatus, ScopeType
from tenantgate.credits.commitments import Commitment, CommitmentBalance, CommitmentKind, is_active
from tenantgate.credits.pricing import format_credits, to_micro
from tenantgate.credits.store import CreditStore
from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database

_KINDS = {"annual": CommitmentKind.ANNUAL, "monthly-flex": CommitmentKind.MONTHLY_FLEX,
          "payg": CommitmentKind.PAYG}
_KIND_NAMES = {kind: name for name, kind in _KINDS.items()}
_DAY = click.DateTime(formats=["%Y-%m-%d"])
T = TypeVar("T")


@click.group("credits")
def credits_group() -> None:
    """Universal credits: commitments, balances, budgets and usage reports."""


credits_group.add_command(report)
credits_group.add_command(rates_group)


@credits_group.command("add")
@config_option
@json_option
@click.option("--amount", help="Credits bought, as a decimal (required unless --type payg).")
@click.option("--type", "kind", type=click.Choice(list(_KINDS)), default="annual", show_default=True)
@click.option("--starts", type=_DAY, help="First day, UTC (default: today).")
@click.option("--ends", type=_DAY, help="Day it ends, UTC, exclusive (default: a year after --starts; "
                                          "none for payg).")
@click.option("--monthly-allotment", help="monthly-flex: credits per month (default: spread evenly).")
@click.option("--overage", default="0", show_default=True, help="Credits usable beyond the amount.")
@click.option("--name", help="What to call it (default: the type and start day).")
def add(config_file: Path | None, as_json: bool, amount: str | None, kind: str, starts: datetime | None,
        ends: datetime | None, monthly_allotment: str | None, overage: str, name: str | None) -> None:
    """Record a commitment and grant its credits."""
    chosen = _KINDS[kind]
    if amount is None and chosen is not CommitmentKind.PAYG:
        raise click.UsageError("give --amount (credits bought)")
    micros = _credits(amount or "0", "--amount")
    starts_at = (starts or datetime.combine(utc_now().date(), datetime.min.time())).replace(tzinfo=UTC)
    ends_at = ends.replace(tzinfo=UTC) if ends else None
    if ends_at is None and chosen is not CommitmentKind.PAYG:
        ends_at = _a_year_after(starts_at)
    allotment = None
    if chosen is CommitmentKind.MONTHLY_FLEX:
        allotment = (_credits(monthly_allotment, "--monthly-allotment") if monthly_allotment
                     else micros // _months(starts_at, ends_at or starts_at))
    made = _run(config_file, lambda credits, _: credits.add_commitment(
        name=name or f"{kind} {starts_at:%Y-%m-%d}", kind=chosen, amount=micros, starts_at=starts_at,
        ends_at=ends_at, monthly_allotment=allotment, overage_allowance=_credits(overage, "--overage")))
    if as_json:
        click.echo(json.dumps(_commitment_json(made), indent=2))
        return
    until = f" until {made.ends_at:%Y-%m-%d}" if made.ends_at else ""
    click.echo(f"Added commitment {made.id} ({kind}): {format_credits(made.granted)} credits "
               f"from {made.starts_at:%Y-%m-%d}{until}.")


@credits_group.command("list")
@config_option
@json_option
def list_(config_file: Path | None, as_json: bool) -> None:
    """List commitments with what is granted, available, held, used and forfeited."""
    found = _run(config_file, lambda credits, _: credits.list_commitments())
    rows: list[list[Cell]] = [
        [b.commitment.id, b.commitment.name, _KIND_NAMES[b.commitment.kind], b.commitment.starts_at,
         b.commitment.ends_at, *(format_credits(v) for v in (b.granted, b.available, b.held, b.used,
                                                               b.forfeited))]
        for b in found]
    print_rows(["id", "name", "type", "starts", "ends", "granted", "available", "held", "used", "forfeited"],
               rows, as_json=as_json)


@credits_group.command("balance")
@config_option
@json_option
def balance(config_file: Path | None, as_json: bool) -> None:
    """Credits available now across active commitments, and what each budget has left."""
    now = utc_now()

    async def work(
        credits: CreditStore, iam: IdentityStore
    ) -> tuple[list[CommitmentBalance], list[BudgetStatus], dict[str, str], int]:
        active = [b for b in await credits.list_commitments() if is_active(b.commitment, now)]
        statuses = [await credits.budget_status(b, now) for b in await credits.list_budgets()]
        bills = await credits.ledger.lookup_accounts([PROVIDER_BILLS])
        absorbed = bills[0].balance.credits_posted if bills else 0
        return active, statuses, await _scope_labels(iam), absorbed

    active, statuses, labels, absorbed = _run(config_file, work)
    total = sum(max(0, b.available) for b in active)  # pay-as-you-go may run below zero
    ending = [b.commitment for b in active if b.commitment.ends_at is not None]
    expiring = min(ending, key=lambda c: c.ends_at or now, default=None)
    expiry = expiring.ends_at if expiring else None
    payg = any(b.commitment.kind is CommitmentKind.PAYG for b in active)
    if as_json:
        click.echo(json.dumps({
            "available": format_credits(total), "active_commitments": [b.commitment.id for b in active],
            "earliest_expiry": expiry.isoformat() if expiry else None, "payg": payg,
            "budgets": [_status_json(s, labels) for s in statuses],
            "absorbed_by_failed_attempts": format_credits(absorbed)}, indent=2))
        return
    click.echo(f"Available: {format_credits(total)} credits in {len(active)} active commitment(s)"
               + (f", earliest expiry {expiry:%Y-%m-%d %H:%M} ({expiring.id})" if expiring and expiry else "")
               + ".")
    if payg:
        click.echo("Pay-as-you-go is active: usage beyond the prepaid credits is billed afterwards.")
    if absorbed:
        click.echo(f"Failed attempts the upstreams took on may have cost {format_credits(absorbed)} credits"
                   " (estimated, not charged to callers; by deployment: GET /admin/v1/deployments).")
    if statuses:
        click.echo("")
        print_rows(["budget", "scope", "period", "limit", "spent", "remaining"],
                   [[s.budget.name, _scope(s.budget, labels), s.period, format_credits(s.limit),
                     format_credits(s.spent), format_credits(s.remaining)] for s in statuses], as_json=False)


@credits_group.group("budgets")
def budgets_group() -> None:
    """Spending limits per key, user, compartment or the whole tenancy."""


@budgets_group.command("set")
@config_option
@json_option
@click.option("--key", "key_id", help="Scope: the API key with this id.")
@click.option("--user", "user_name", help="Scope: the user with this name.")
@click.option("--compartment", "compartment_path", help="Scope: the compartment at this path (and below).")
@click.option("--tenancy", is_flag=True, help="Scope: every request.")
@click.option("--limit", required=True, help="Credits per period, as a decimal.")
@click.option("--period", type=click.Choice(["monthly", "daily", "lifetime"]), default="monthly",
              show_default=True)
@click.option("--soft", is_flag=True, help="Only alert when passed; do not refuse requests.")
@click.option("--alert", "alerts", default="50,80,100", show_default=True,
              help="Alert at these percentages of the limit.")
@click.option("--webhook", "webhook_url", metavar="URL", help="POST each alert as JSON to URL.")
@click.option("--name", help="What to call it (default: the scope).")
def budgets_set(config_file: Path | None, as_json: bool, key_id: str | None, user_name: str | None,
                compartment_path: str | None, tenancy: bool, limit: str, period: str, soft: bool,
                alerts: str, webhook_url: str | None, name: str | None) -> None:
    """Set (create or replace) the budget of one scope and period."""
    scopes = [s for s in (key_id, user_name, compartment_path) if s is not None] + (["t"] if tenancy else [])
    if len(scopes) != 1:
        raise click.UsageError("give exactly one of --key, --user, --compartment or --tenancy")
    micros = _credits(limit, "--limit")
    try:
        thresholds = tuple(int(part) for part in alerts.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter("a comma-separated list of percentages", param_hint="--alert") from None

    async def work(credits: CreditStore, iam: IdentityStore) -> Budget:
        scope_type, scope_id, label = await _resolve_scope(iam, key_id, user_name, compartment_path)
        return await credits.set_budget(
            scope_type=scope_type, scope_id=scope_id, period=Period(period), limit=micros,
            hard=not soft, thresholds=thresholds, name=name or f"{label} {period}", webhook_url=webhook_url)

    budget = _run(config_file, work)
    if as_json:
        click.echo(json.dumps(_budget_json(budget), indent=2))
        return
    click.echo(f"Budget {budget.id} ({budget.name}): {format_credits(budget.limit)} credits "
               f"{budget.period}, {'hard' if budget.hard else 'soft'}.")


@budgets_group.command("list")
@config_option
@json_option
def budgets_list(config_file: Path | None, as_json: bool) -> None:
    """List budgets with this period's spending, what is left and when it runs out at this rate."""
    now = utc_now()

    async def work(credits: CreditStore, iam: IdentityStore) -> tuple[list[BudgetStatus], dict[str, str]]:
        statuses = [await credits.budget_status(b, now) for b in await credits.list_budgets()]
        return statuses, await _scope_labels(iam)

    statuses, labels = _run(config_file, work)
    if as_json:
        click.echo(json.dumps([_status_json(s, labels) for s in statuses], indent=2))
        return
    print_rows(["id", "name", "scope", "period", "kind", "limit", "spent", "remaining", "forecast", "alerts"],
               [[s.budget.id, s.budget.name, _scope(s.budget, labels), s.period,
                 "hard" if s.budget.hard else "soft", format_credits(s.limit), format_credits(s.spent),
                 format_credits(s.remaining), s.forecast_exhausted_at, [f"{t}%" for t in s.budget.thresholds]]
                for s in statuses], as_json=False)


@budgets_group.command("delete")
@config_option
@click.argument("budget_id")
def budgets_delete(config_file: Path | None, budget_id: str) -> None:
    """Delete the budget BUDGET_ID (its ledger history stays)."""
    _run(config_file, lambda credits, _: credits.delete_budget(budget_id))
    click.echo(f"Deleted budget {budget_id}.")


def _run(config_file: Path | None, work: Callable[[CreditStore, IdentityStore], Awaitable[T]]) -> T:
    """Run ``work(credit_store, identity_store)`` on the configured database."""

    async def session(db: Database) -> T:
        return await work(CreditStore(db, clock=utc_now), IdentityStore(db, clock=utc_now))

    return run_with_database(config_file, session)


async def _resolve_scope(iam: IdentityStore, key_id: str | None, user_name: str | None,
                         compartment_path: str | None) -> tuple[ScopeType, str, str]:
    """The scope type, id and a readable label, checking that the key, user or compartment exists."""
    if key_id is not None:
        return "key", (await iam.get_api_key(key_id)).id, f"key:{key_id}"
    if user_name is not None:
        return "user", (await iam.find_user(user_name)).id, f"user:{user_name}"
    if compartment_path is not None:
        found = await iam.resolve_compartment(compartment_path)
        return "compartment", found.id, f"compartment:{found.path_text or '(root)'}"
    return "tenancy", TENANCY_SCOPE_ID, "tenancy"


async def _scope_labels(iam: IdentityStore) -> dict[str, str]:
    labels = {u.id: f"user:{u.name}" for u in await iam.list_users()}
    return labels | {c.id: f"compartment:{c.path_text or '(root)'}" for c in await iam.list_compartments()}


def _scope(budget: Budget, labels: dict[str, str]) -> str:
    fallback = "tenancy" if budget.scope_type == "tenancy" else f"{budget.scope_type}:{budget.scope_id}"
    return labels.get(budget.scope_id, fallback)


def _credits(text: str, option: str) -> int:
    try:
        micros = to_micro(text.strip())
    except (ValueError, ArithmeticError):
        raise click.BadParameter(f"{text!r} is not an amount of credits", param_hint=option) from None
    if micros < 0:
        raise click.BadParameter("must not be negative", param_hint=option)
    return micros


def _a_year_after(moment: datetime) -> datetime:
    leap_day = (moment.month, moment.day) == (2, 29)
    return moment.replace(year=moment.year + 1, day=28 if leap_day else moment.day)


def _months(starts_at: datetime, ends_at: datetime) -> int:
    last: date = (ends_at - timedelta(microseconds=1)).date()
    return max(1, (last.year - starts_at.year) * 12 + last.month - starts_at.month + 1)


def _commitment_json(c: Commitment) -> dict[str, object]:
    allotment = None if c.monthly_allotment is None else format_credits(c.monthly_allotment)
    return {"id": c.id, "name": c.name, "type": _KIND_NAMES[c.kind], "amount": format_credits(c.amount),
            "overage": format_credits(c.overage_allowance), "monthly_allotment": allotment,
            "starts": c.starts_at.isoformat(), "ends": c.ends_at.isoformat() if c.ends_at else None}


def _budget_json(b: Budget) -> dict[str, object]:
    return {"id": b.id, "name": b.name, "scope_type": b.scope_type, "scope_id": b.scope_id,
            "period": b.period.value, "limit": format_credits(b.limit), "hard": b.hard,
            "alerts": list(b.thresholds), "webhook": b.webhook_url}


def _status_json(s: BudgetStatus, labels: dict[str, str]) -> dict[str, object]:
    forecast = s.forecast_exhausted_at.isoformat() if s.forecast_exhausted_at else None
    return {**_budget_json(s.budget), "scope": _scope(s.budget, labels), "current_period": s.period,
            "spent": format_credits(s.spent), "held": format_credits(s.held),
            "remaining": format_credits(s.remaining), "forecast_exhausted_at": forecast}

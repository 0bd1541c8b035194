"""`tenantgate credits report`: usage and cost per compartment, model, key or user, from the ledger.

The same fold as the admin API's reports (``credits.usage_report``), over the local database:
requests, input (of them cached) and output tokens, cost in credits and how many requests
were settled from a local estimate. ``--focus`` prints the range as a FOCUS 1.0 CSV instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from tenantgate.cli._store_session import config_option, json_option, run_with_database, utc_now
from tenantgate.cli._tables import Cell, print_rows
from tenantgate.credits.focus import FOCUS_GROUP_BY, BillingAccount, focus_csv, focus_rows
from tenantgate.credits.pricing import format_credits
from tenantgate.credits.usage_report import (
    WIDTHS_S,
    Bucket,
    Span,
    UsageFilter,
    UsageTotals,
    spans,
    unix_seconds,
)
from tenantgate.credits.usage_rows import fold_usage
from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database

_BY = {"compartment": "project_id", "model": "model", "key": "api_key_id", "user": "user_id"}
_DAY = click.DateTime(formats=["%Y-%m-%d"])
_COUNTS = ["requests", "input_tokens", "cached_tokens", "output_tokens", "cost", "estimated"]


@click.command("report")
@config_option
@json_option
@click.option("--by", "by", type=click.Choice(list(_BY)), default="compartment", show_default=True,
              help="One row per compartment, model, key or user.")
@click.option("--from", "from_day", type=_DAY, help="First day, UTC (default: the 1st of this month).")
@click.option("--to", "to_day", type=_DAY, help="Day the report ends, UTC, exclusive (default: tomorrow).")
@click.option("--focus", is_flag=True, help="Print a FOCUS 1.0 CSV (one row per day, model, deployment, "
                                             "compartment and key) instead of the table.")
def report(config_file: Path | None, as_json: bool, by: str, from_day: datetime | None,
           to_day: datetime | None, focus: bool) -> None:
    """Usage and cost from the ledger, exactly what the commitments were charged."""
    today = datetime.combine(utc_now().date(), datetime.min.time(), tzinfo=UTC)
    starts = from_day.replace(tzinfo=UTC) if from_day else today.replace(day=1)
    ends = to_day.replace(tzinfo=UTC) if to_day else today + timedelta(days=1)
    if ends <= starts:
        raise click.UsageError("--to must be after --from")
    start_s, end_s = unix_seconds(starts), unix_seconds(ends)
    if focus:
        click.echo(run_with_database(config_file, lambda db: _focus(db, start_s, end_s)), nl=False)
        return
    dimension = _BY[by]

    async def work(db: Database) -> tuple[Bucket, dict[str, str]]:
        (bucket,) = await fold_usage(db, [Span(start_s, end_s)], group_by=[dimension], keep=UsageFilter())
        return bucket, await _labels(IdentityStore(db, clock=utc_now), by)

    bucket, labels = run_with_database(config_file, work)
    named = by != "model"  # a model is its own name; the others get an id column too
    headers = [by, *(["id"] if named else []), *_COUNTS]
    rows: list[list[Cell]] = []
    total = UsageTotals()
    for (value,), totals in bucket.sorted_groups():
        rows.append([labels.get(value or "", value), value, *_counts(totals)] if named
                    else [value, *_counts(totals)])
        total.merge(totals)
    if rows and not as_json:
        rows.append(["TOTAL", *([None] if named else []), *_counts(total)])
    print_rows(headers, rows, as_json=as_json)


def _counts(totals: UsageTotals) -> list[Cell]:
    return [totals.requests, totals.input_tokens, totals.cached_tokens, totals.output_tokens,
            format_credits(totals.cost_micros), totals.estimated_requests]


async def _labels(iam: IdentityStore, by: str) -> dict[str, str]:
    """Readable names of the ids in the rows: compartment paths, user and key names."""
    if by == "compartment":
        return {c.id: c.path_text or "(root)" for c in await iam.list_compartments()}
    if by == "user":
        return {u.id: u.name for u in await iam.list_users()}
    if by == "key":
        return {k.id: k.name for k in await iam.list_api_keys()}
    return {}


async def _focus(db: Database, start_s: int, end_s: int) -> str:
    day = WIDTHS_S["1d"]
    buckets = await fold_usage(db, spans(start_s, end_s, day), group_by=FOCUS_GROUP_BY, keep=UsageFilter())
    iam = IdentityStore(db, clock=utc_now)
    tenancy = await iam.find_tenancy()
    name = tenancy.name if tenancy is not None else ""
    paths = {c.id: c.path_text or name for c in await iam.list_compartments()}
    account = BillingAccount(id=tenancy.id if tenancy is not None else "", name=name, compartment_paths=paths)
    return focus_csv(focus_rows(buckets, account))

"""`tenantgate audit`: verify the hash chain and list recent events.

``verify`` exits 1 when the chain is broken, so it can run from cron or a monitoring check;
its OK line prints the full head hash, worth writing down elsewhere: a later verify that
ends in a different hash at the same seq means history was rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from tenantgate.audit.chain import format_timestamp
from tenantgate.audit.model import AuditEvent
from tenantgate.audit.store import LIST_LIMIT_MAX, AuditStore
from tenantgate.cli._store_session import config_option, fail, json_option, run_with_database, utc_now
from tenantgate.cli._tables import Cell, print_rows


@click.group("audit")
def audit_group() -> None:
    """Inspect the tamper-evident audit trail."""


@audit_group.command("verify")
@config_option
@click.option("--page-size", type=click.IntRange(min=1), default=1_000, show_default=True,
              help="Events read per query; memory stays flat whatever the chain's length.")
def verify(config_file: Path | None, page_size: int) -> None:
    """Check every hash and link, and that the chain ends where the head record says."""
    report = run_with_database(
        config_file, lambda db: AuditStore(db, clock=utc_now).verify(page_size=page_size)
    )
    broken = report.broken
    if broken is not None:
        fail(f"audit chain broken at seq {broken.seq}: {broken.kind} ({broken.detail}); "
             f"{report.events_checked} events before it verify")
    if report.events_checked == 0:
        click.echo("OK: 0 events (the audit trail is empty)")
    else:
        click.echo(f"OK: {report.events_checked} events, head seq {report.last_seq} hash {report.last_hash}")


@audit_group.command("list")
@config_option
@json_option
@click.option("--limit", type=click.IntRange(1, LIST_LIMIT_MAX), default=20, show_default=True,
              help="Show at most this many events, newest first.")
@click.option("--action", help="Only this action, or a prefix ending in .* (iam.*).")
@click.option("--actor", "actor_id", help="Only events by this actor id.")
def list_(
    config_file: Path | None, as_json: bool, limit: int, action: str | None, actor_id: str | None
) -> None:
    """List recent audit events, newest first."""
    found: list[AuditEvent] = run_with_database(
        config_file,
        lambda db: AuditStore(db, clock=utc_now).list_events(
            limit=limit, action=action, actor_id=actor_id, newest_first=True
        ),
    )
    if as_json:
        click.echo(json.dumps([_event_json(event) for event in found], indent=2))
        return
    rows: list[list[Cell]] = [_event_row(event) for event in found]
    print_rows(["seq", "time", "actor", "action", "outcome", "target", "statements"], rows, as_json=False)


def _event_row(event: AuditEvent) -> list[Cell]:
    actor = f"{event.actor_type}:{event.actor_name or event.actor_id}"
    target = f"{event.target_type}:{event.target_id}" if event.target_type else event.target_id
    when = event.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
    return [event.seq, when, actor, event.action, event.outcome, target, list(event.statement_ids)]


def _event_json(event: AuditEvent) -> dict[str, object]:
    fields = {name: getattr(event, name) for name in AuditEvent.__slots__}
    fields["occurred_at"] = format_timestamp(event.occurred_at)
    fields["statement_ids"] = list(event.statement_ids)
    return fields

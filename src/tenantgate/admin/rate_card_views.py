"""The rate card as the admin API shows it: entries with decimal-string prices, and the list query.

Prices are credits per 1M tokens as exact decimal strings with six places (``"2.500000"``),
never JSON numbers, so no client parses them through a float. Times are Unix seconds.
``status`` is relative to now: ``scheduled`` (not yet in effect), ``in_force`` (the entry
its key is priced at now) or ``superseded`` (a later entry of the same key took over).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from tenantgate.admin.query import Query
from tenantgate.admin.views import View, maybe_unix, unix
from tenantgate.credits.pricing import RateCard, RateEntry, format_credits

Status = Literal["scheduled", "in_force", "superseded"]


class RateCardQuery(Query):
    """``GET /admin/v1/rate-card``: optionally one model, optionally the card in force at an instant."""

    model: str | None = None
    at: Annotated[int, msgspec.Meta(ge=0, le=253_402_300_799, description=(
        "Unix seconds: only the entries in force at that instant (one per model, region and "
        "deployment type)."))] | None = None


class RateCardEntryView(View, kw_only=True):
    """One rate-card entry; ``id`` is null for entries from the settings file (``source: config``)."""

    id: str | None
    object: Literal["rate_card.entry"] = "rate_card.entry"
    model: str
    region: str | None
    deployment_type: Literal["on_demand", "dedicated"] | None
    input_per_1m: str
    cached_input_per_1m: str | None
    output_per_1m: str
    embedding_per_1m: str | None
    effective_from: int
    source: Literal["config", "api"]
    status: Status
    created_at: int | None
    created_by: str | None


def _optional(micros: int | None) -> str | None:
    return None if micros is None else format_credits(micros)


def rate_entry_view(entry: RateEntry, status: Status) -> RateCardEntryView:
    """The view of one entry."""
    price = entry.price
    return RateCardEntryView(
        id=entry.entry_id, model=entry.model, region=entry.region, deployment_type=entry.deployment_type,
        input_per_1m=format_credits(price.input), cached_input_per_1m=_optional(price.cached_input),
        output_per_1m=format_credits(price.output), embedding_per_1m=_optional(price.embedding),
        effective_from=unix(entry.effective_from), source=entry.source, status=status,
        created_at=maybe_unix(entry.created_at), created_by=entry.created_by,
    )


def status_of(entry: RateEntry, in_force_now: set[RateEntry], now: datetime) -> Status:
    """Where the entry stands at ``now``."""
    if entry.effective_from > now:
        return "scheduled"
    return "in_force" if entry in in_force_now else "superseded"


def listing(card: RateCard, *, at_s: int | None, now: datetime) -> list[RateCardEntryView]:
    """The list answer: every entry of ``card``, or those in force at ``at_s``; statuses as of now."""
    shown = card.entries if at_s is None else card.in_force(datetime.fromtimestamp(at_s, UTC))
    in_force_now = set(card.in_force(now))
    return [rate_entry_view(entry, status_of(entry, in_force_now, now)) for entry in shown]


def new_entry_status(entry: RateEntry, now: datetime) -> Status:
    """A just-added entry's status: it is the newest of its key, so in force unless still ahead."""
    return "scheduled" if entry.effective_from > now else "in_force"

"""Rules of administered rate-card entries (pure): exact prices, when they start, what may change.

* **Prices** are decimal strings of credits per 1M tokens, never floats: non-negative, at
  most six decimals (one micro-credit), at most ``PRICE_MAX`` credits.
* **Start.** An entry starts at ``effective_from``, at the earliest now (rounded up to the
  whole second, so an entry made "now" never covers an instant that has passed). An
  ``effective_from`` up to ``PAST_GRACE`` in the past means "now" (clocks differ); earlier is
  refused, because it would re-price requests already settled.
* **Withdrawal** is allowed only while ``effective_from`` is in the future; once an entry is
  in effect it is history, changed only by a newer entry.
* **Config and database.** Both feed one card (``merged_card``); see ``pricing`` for which
  entry wins. On the same key and instant, the administered entry wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from tenantgate.credits.pricing import Price, RateCard, RateEntry, to_micro
from tenantgate.errors import InvalidParameterValue, RateCardEntryInEffect
from tenantgate.settings import RateSettings

PRICE_MAX = Decimal(1_000_000_000)
"""The dearest price accepted, in credits per 1M tokens (a typo guard; it fits a BIGINT)."""
PAST_GRACE = timedelta(seconds=60)
"""An ``effective_from`` this far in the past is taken as now."""


def price_micros(text: str, param: str) -> int:
    """A decimal string of credits per 1M tokens as exact micro-credits; 400 naming ``param``."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidParameterValue(f"'{param}' must be a decimal number of credits, like \"2.50\".",
                                    param=param) from None
    if not value.is_finite() or value < 0:
        raise InvalidParameterValue(f"'{param}' must be a non-negative number of credits.", param=param)
    if value > PRICE_MAX:
        raise InvalidParameterValue(f"'{param}' is at most {PRICE_MAX} credits per 1M tokens.", param=param)
    try:
        return to_micro(value)
    except ValueError:
        raise InvalidParameterValue(f"'{param}' has at most 6 decimals (one micro-credit).",
                                    param=param) from None


def optional_price_micros(text: str | None, param: str) -> int | None:
    """``price_micros`` for an optional price."""
    return None if text is None else price_micros(text, param)


def start_of(requested: datetime | None, now: datetime) -> datetime:
    """When a new entry starts: ``requested``, or now (rounded up to the second) when omitted
    or within ``PAST_GRACE`` of now; 400 when further in the past."""
    if requested is not None and requested < now - PAST_GRACE:
        raise InvalidParameterValue(
            "'effective_from' is in the past: prices already in force never change. Omit it to "
            "start now, or give a future time.", param="effective_from")
    earliest = _second_ceiling(now)
    if requested is None or requested < earliest:
        return earliest
    return requested


def check_withdrawable(entry: RateEntry, now: datetime) -> None:
    """409 unless the entry is still in the future."""
    if entry.effective_from <= now:
        raise RateCardEntryInEffect(
            f"The rate-card entry {entry.entry_id} has been in effect since "
            f"{entry.effective_from.isoformat()}; it is history and cannot be withdrawn. "
            "To change the price, add a new entry with a later effective_from.")


def config_entries(lines: Sequence[RateSettings]) -> list[RateEntry]:
    """The settings file's rate card as entries (a time without a zone is UTC)."""
    return [
        RateEntry(
            model=line.model, region=line.region, deployment_type=line.deployment_type,
            effective_from=_aware(line.effective_from),
            price=Price(to_micro(line.input_per_1m), to_micro(line.output_per_1m),
                        None if line.cached_input_per_1m is None else to_micro(line.cached_input_per_1m),
                        None if line.embedding_per_1m is None else to_micro(line.embedding_per_1m)),
        )
        for line in lines
    ]


def merged_card(configured: Iterable[RateEntry], administered: Iterable[RateEntry]) -> RateCard:
    """One card from the settings' entries and the database's."""
    return RateCard([*configured, *administered])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _second_ceiling(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)

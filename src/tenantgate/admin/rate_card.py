"""``/admin/v1/rate-card``: the prices credits are metered at, listed, added and withdrawn.

The rate card is tenancy-wide, so every call is decided in the tenancy: reading needs
``read credits-family``, adding and withdrawing ``manage credits-family``. The list shows
the settings file's entries (``source: config``, no id) beside the administered ones.
Entries are immutable: a price change is a new entry with a later ``effective_from``, and an
entry can be withdrawn only while it is still in the future (409 once it is in effect), so
no call can re-price a request already settled. A change is applied on this replica before
the answer, and on the others within ``credits.rate_card_refresh_s``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.rate_card_views import RateCardQuery, listing, new_entry_status, rate_entry_view
from tenantgate.admin.schemas import RateCardCreate
from tenantgate.admin.views import Deleted, page
from tenantgate.credits.pricing import Price, RateEntry, format_credits
from tenantgate.credits.rate_card_entries import merged_card, optional_price_micros, price_micros
from tenantgate.credits.rate_card_store import RateCardStore
from tenantgate.iam.policy_model import ResourceType, Verb

CREDITS = ResourceType.CREDITS_FAMILY
TARGET = "rate_card_entry"
logger = logging.getLogger("tenantgate.admin")


async def list_rate_card(call: AdminCall) -> Reply:
    """``GET /admin/v1/rate-card``: every entry, or with ``at`` the card in force at that instant."""
    query = call.query_as(RateCardQuery)
    call.require(Verb.READ, CREDITS, call.root, TARGET, None)
    source = call.services.rate_cards
    configured = [e for e in source.configured if query.model is None or e.model == query.model]
    card = merged_card(configured, await source.store.list_entries(model=query.model))
    return Reply(200, page(listing(card, at_s=query.at, now=call.now)))


async def create_rate_card_entry(call: AdminCall) -> Reply:
    """``POST /admin/v1/rate-card``: a new price from ``effective_from`` (default now) on."""
    body = call.body_as(RateCardCreate)
    call.require(Verb.MANAGE, CREDITS, call.root, TARGET, None)
    entry = await add_entry(call.services.rate_cards.store, body, created_by=call.principal.id)
    await _apply(call)
    await call.changed(TARGET, entry.entry_id or "", call.root.id, **_details(entry))
    return Reply(201, rate_entry_view(entry, new_entry_status(entry, call.now)))


async def withdraw_rate_card_entry(call: AdminCall) -> Reply:
    """``DELETE /admin/v1/rate-card/{id}``: only an entry not yet in effect (else 409)."""
    entry_id = call.params["id"]
    call.require(Verb.MANAGE, CREDITS, call.root, TARGET, entry_id)
    entry = await call.services.rate_cards.store.withdraw(entry_id, by=call.principal.id)
    await _apply(call)
    await call.changed(TARGET, entry_id, call.root.id, **_details(entry))
    return Reply(200, Deleted(id=entry_id, object="rate_card.entry.deleted"))


async def add_entry(store: RateCardStore, body: RateCardCreate, *, created_by: str) -> RateEntry:
    """Validate the body's prices (400 naming the field) and record the entry; the CLI's path too."""
    price = Price(price_micros(body.input_per_1m, "input_per_1m"),
                  price_micros(body.output_per_1m, "output_per_1m"),
                  optional_price_micros(body.cached_input_per_1m, "cached_input_per_1m"),
                  optional_price_micros(body.embedding_per_1m, "embedding_per_1m"))
    starts = None if body.effective_from is None else datetime.fromtimestamp(body.effective_from, UTC)
    return await store.add(model=body.model, price=price, created_by=created_by, region=body.region,
                           deployment_type=body.deployment_type, effective_from=starts)


async def _apply(call: AdminCall) -> None:
    """Reload this replica's card now; on failure the next poll does (the change is committed)."""
    try:
        await call.services.rate_cards.refresh()
    except Exception as exc:
        logger.warning("rate card reload after a change failed", extra={"error": repr(exc)})


def _details(entry: RateEntry) -> dict[str, object]:
    price = entry.price
    optional = {"cached_input_per_1m": price.cached_input, "embedding_per_1m": price.embedding}
    return {
        "model": entry.model, "region": entry.region, "deployment_type": entry.deployment_type,
        "input_per_1m": format_credits(price.input), "output_per_1m": format_credits(price.output),
        **{name: format_credits(value) for name, value in optional.items() if value is not None},
        "effective_from": entry.effective_from.isoformat(),
    }

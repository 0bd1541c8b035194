"""``RateCardSource``: the rate card metering prices with, from the settings and the database.

One per replica. ``start`` loads the settings' entries and the administered ones into one
``RateCard`` and hands it to the target (``Metering.rate_card``, read on every hold); then,
every ``credits.rate_card_refresh_s``, it asks the store for its revision (one aggregate
query) and reloads only when the revision moved, so an entry added or withdrawn on any
replica is in force everywhere within one interval. ``refresh`` reloads at once (the admin
API calls it after a change, so the replica that made it applies it before answering). A
failed refresh keeps the card it had and logs: prices never disappear because the database
blinked.

Which entry wins between the two sources is the rate card's rule (``credits.pricing``): the
latest ``effective_from`` of the most specific key; on a tie, the administered entry.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from tenantgate.background import stop_tasks
from tenantgate.credits.pricing import RateCard, RateEntry
from tenantgate.credits.rate_card_entries import config_entries, merged_card
from tenantgate.credits.rate_card_store import RateCardStore, Revision
from tenantgate.settings import CreditsSettings

logger = logging.getLogger("tenantgate.credits")


class PricesWith(Protocol):
    """What the source keeps up to date: anything with a ``rate_card`` (``Metering``)."""

    rate_card: RateCard


class RateCardSource:
    """Keeps ``target.rate_card`` equal to the settings' entries plus the database's."""

    def __init__(
        self, settings: CreditsSettings, store: RateCardStore, *, target: PricesWith | None = None
    ) -> None:
        self.configured: tuple[RateEntry, ...] = tuple(config_entries(settings.rate_card))
        self.store = store
        self.card = merged_card(self.configured, ())
        self._target = target
        self._interval_s = settings.rate_card_refresh_s
        self._revision: Revision | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the card once (failing start-up if the database cannot be read), then poll."""
        await self.refresh(force=True)
        self._task = asyncio.create_task(self._poll(), name="tenantgate-rate-card")

    async def aclose(self) -> None:
        """Stop polling."""
        await stop_tasks(self._task)
        self._task = None

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if the store's revision moved (or ``force``); True when a new card was applied."""
        async with self._lock:
            revision = await self.store.revision()
            if revision == self._revision and not force:
                return False
            administered = await self.store.list_entries()
            self.card = merged_card(self.configured, administered)
            self._revision = revision
            if self._target is not None:
                self._target.rate_card = self.card
            return True

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                if await self.refresh():
                    logger.info("rate card reloaded", extra={"revision": list(self._revision or ())})
            except Exception as exc:  # keep serving with the card we have
                logger.warning("rate card refresh failed", extra={"error": repr(exc)})

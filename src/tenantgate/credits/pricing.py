"""The rate card: effective-dated prices per model (region, deployment type), and exact costs.

Prices are written per million tokens in credits (``2.50`` = 2.5 credits per 1M input
tokens), parsed as ``Decimal`` and turned into integer *micro-credits per million tokens*
once, so every cost below is integer arithmetic: ``ceil(Σ tokens x price / 1,000,000)``.
Rounding up, once per request, means a request never costs less than its tokens and the
same usage always costs the same. A price change is a new entry with a later
``effective_from``; history is never rewritten, and a request is priced at the entry in
force when it started.

**Which entry prices a request.** Entries are keyed by (model, region, deployment type),
``None`` meaning "any". Among the keys that match the request, the most specific one that
has an entry in force wins: region and deployment type both named, then the region only,
then the deployment type only, then neither. Within a key the entry in force is the one
with the latest ``effective_from`` not after the instant; on a tie an administered entry
(``source="api"``) beats a configured one, then the later ``created_at`` wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

MICRO = 1_000_000
"""Micro-credits per credit."""
PER_TOKENS = 1_000_000
"""Prices are quoted per this many tokens."""
DeploymentType = Literal["on_demand", "dedicated"]
DEPLOYMENT_TYPES: tuple[DeploymentType, ...] = ("on_demand", "dedicated")
RateSource = Literal["config", "api"]
_SOURCE_RANK = {"config": 0, "api": 1}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micro(credits: Decimal | str | int) -> int:
    """Credits (exact decimal) to integer micro-credits; refuses sub-micro precision."""
    value = Decimal(credits) * MICRO
    if value != value.to_integral_value():
        raise ValueError(f"{credits} has more precision than one micro-credit")
    return int(value)


def format_credits(micro: int) -> str:
    """Micro-credits as a decimal credits string (``1234567`` → ``"1.234567"``), for humans and headers."""
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{fraction:06d}"


@dataclass(frozen=True, slots=True)
class Price:
    """Micro-credits per million tokens of each kind; cached input defaults to the input price,
    and embeddings are priced at ``embedding`` when it is set, else at the input price."""

    input: int
    output: int = 0
    cached_input: int | None = None
    embedding: int | None = None

    @classmethod
    def per_million(cls, input: str | Decimal, output: str | Decimal = "0",
                    cached_input: str | Decimal | None = None,
                    embedding: str | Decimal | None = None) -> Price:
        """Build from credits per 1M tokens, as rate cards are written."""
        cached = None if cached_input is None else to_micro(cached_input)
        embed = None if embedding is None else to_micro(embedding)
        return cls(to_micro(input), to_micro(output), cached, embed)

    @property
    def cached(self) -> int:
        return self.input if self.cached_input is None else self.cached_input

    def for_operation(self, operation: str | None) -> Price:
        """The price an operation pays: an embedding's input at ``embedding`` (no output), else this."""
        if operation == "embedding" and self.embedding is not None:
            return Price(self.embedding, 0)
        return self


@dataclass(frozen=True, slots=True)
class RateEntry:
    """One line of the rate card: a model's price from ``effective_from`` on, in ``region`` and
    for ``deployment_type`` (None: any). ``source``, ``entry_id``, ``created_at`` and ``created_by``
    say where it came from: an administered entry has them, a configured one has none."""

    model: str
    price: Price
    effective_from: datetime
    region: str | None = None
    deployment_type: DeploymentType | None = None
    source: RateSource = "config"
    entry_id: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """What the entry prices: (model, region, deployment type)."""
        return self.model, self.region, self.deployment_type

    def precedence(self) -> tuple[datetime, int, datetime, str]:
        """Order within a key: the latest ``effective_from``, then api over config, then newest."""
        return (self.effective_from, _SOURCE_RANK[self.source], self.created_at or _EPOCH,
                self.entry_id or "")


class UnpricedModel(LookupError):
    """No rate-card entry covers this model at this time: the request cannot be metered."""


Key = tuple[str, str | None, str | None]


class RateCard:
    """Finds the price in force for a model, region, deployment type and time; the most
    specific key with an entry in force wins (see the module docstring)."""

    def __init__(self, entries: Iterable[RateEntry]) -> None:
        self._by_key: dict[Key, list[RateEntry]] = {}
        for entry in entries:
            self._by_key.setdefault(entry.key, []).append(entry)
        for found in self._by_key.values():
            found.sort(key=RateEntry.precedence, reverse=True)
        self._models = frozenset(model for model, _, _ in self._by_key)
        self._found: dict[tuple[str, str | None, str | None, str | None], _Found] = {}
        """Recent answers of ``price``, each with the span of time it holds for (the card is immutable)."""

    def __contains__(self, model: str) -> bool:
        return model in self._models

    @property
    def entries(self) -> list[RateEntry]:
        """Every entry, by key then ``effective_from``."""
        return sorted((e for found in self._by_key.values() for e in found), key=_listing_order)

    def price(self, model: str, at: datetime, region: str | None = None, *,
              deployment_type: str | None = None, operation: str | None = None) -> Price:
        """The price of ``model`` at ``at`` for ``operation`` (``"embedding"`` uses the embedding
        price); the most specific key in force wins, a region's own price first.

        Every request prices each of its candidates, so the answer is remembered with the span
        it holds for: from the entry's start until the next entry of a matching key starts.
        """
        lookup = (model, region, deployment_type, operation)
        found = self._found.get(lookup)
        if found is not None and found.since <= at < found.until:
            return found.price
        entry = self.entry(model, at, region, deployment_type=deployment_type)
        if entry is None:
            raise UnpricedModel(f"No price for model {model!r} at {at.isoformat()}"
                                + (f" in {region}" if region else ""))
        price = entry.price.for_operation(operation)
        if len(self._found) > 4096:
            self._found.clear()
        self._found[lookup] = _Found(price, entry.effective_from, self._next_change(model, at, region,
                                                                                       deployment_type))
        return price

    def _next_change(self, model: str, at: datetime, region: str | None, deployment_type: str | None
                     ) -> datetime:
        """When the price in force at ``at`` may next change: the earliest later start of a matching key."""
        later = [e.effective_from for key in _keys(model, region, deployment_type)
                 for e in self._by_key.get(key, ()) if e.effective_from > at]
        return min(later, default=_END_OF_TIME)

    def entry(self, model: str, at: datetime, region: str | None = None, *,
              deployment_type: str | None = None) -> RateEntry | None:
        """The entry that prices ``model`` at ``at``, or None."""
        for key in _keys(model, region, deployment_type):
            for entry in self._by_key.get(key, ()):
                if entry.effective_from <= at:
                    return entry
        return None

    def in_force(self, at: datetime) -> list[RateEntry]:
        """The card as it stood at ``at``: per key, the entry in force then (keys not yet priced omitted)."""
        found = [next((e for e in entries if e.effective_from <= at), None)
                 for entries in self._by_key.values()]
        return sorted((e for e in found if e is not None), key=_listing_order)


_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Found:
    """A remembered price and the instants it holds for: ``since <= at < until``."""

    price: Price
    since: datetime
    until: datetime


def _keys(model: str, region: str | None, deployment_type: str | None) -> list[Key]:
    """The keys that match a request, most specific first (each once)."""
    keys: list[Key] = [(model, region, deployment_type), (model, region, None),
                       (model, None, deployment_type), (model, None, None)]
    return list(dict.fromkeys(keys))


def _listing_order(entry: RateEntry) -> tuple[str, str, str, datetime, int, datetime, str]:
    effective, rank, created, entry_id = entry.precedence()
    return (entry.model, entry.region or "", entry.deployment_type or "", effective, rank, created, entry_id)


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def usage_cost(price: Price, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> int:
    """What an answer costs, in micro-credits: uncached, cached and output tokens at their prices."""
    cached = min(max(cached_tokens, 0), prompt_tokens)
    total = ((prompt_tokens - cached) * price.input + cached * price.cached
             + completion_tokens * price.output)
    return _ceil_div(total, PER_TOKENS)


def hold_amount(price: Price, *, prompt_tokens_max: int, output_tokens_max: int) -> int:
    """The most a request can cost: every prompt token uncached, every allowed output token used."""
    return _ceil_div(prompt_tokens_max * price.input + output_tokens_max * price.output, PER_TOKENS)

"""The rate card: effective-dated prices per model (and region), and exact costs in micro-credits.

Prices are written per million tokens in credits (``2.50`` = 2.5 credits per 1M input
tokens), parsed as ``Decimal`` and turned into integer *micro-credits per million tokens*
once, so every cost below is integer arithmetic: ``ceil(Σ tokens x price / 1,000,000)``.
Rounding up, once per request, means a request never costs less than its tokens and the
same usage always costs the same. A price change is a new entry with a later
``effective_from``; history is never rewritten, and a request is priced at the entry in
force when it started.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

MICRO = 1_000_000
"""Micro-credits per credit."""
PER_TOKENS = 1_000_000
"""Prices are quoted per this many tokens."""


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
    """Micro-credits per million tokens of each kind; cached input defaults to the input price."""

    input: int
    output: int = 0
    cached_input: int | None = None

    @classmethod
    def per_million(cls, input: str | Decimal, output: str | Decimal = "0",
                    cached_input: str | Decimal | None = None) -> Price:
        """Build from credits per 1M tokens, as rate cards are written."""
        cached = None if cached_input is None else to_micro(cached_input)
        return cls(to_micro(input), to_micro(output), cached)

    @property
    def cached(self) -> int:
        return self.input if self.cached_input is None else self.cached_input


@dataclass(frozen=True, slots=True)
class RateEntry:
    """One line of the rate card: a model's price from ``effective_from`` on (in ``region``, or anywhere)."""

    model: str
    price: Price
    effective_from: datetime
    region: str | None = None


class UnpricedModel(LookupError):
    """No rate-card entry covers this model at this time: the request cannot be metered."""


class RateCard:
    """Finds the price in force for a model, region and time; an exact region beats a wildcard."""

    def __init__(self, entries: Iterable[RateEntry]) -> None:
        self._by_model: dict[str, list[RateEntry]] = {}
        for entry in entries:
            self._by_model.setdefault(entry.model, []).append(entry)
        for found in self._by_model.values():
            found.sort(key=lambda e: e.effective_from, reverse=True)

    def __contains__(self, model: str) -> bool:
        return model in self._by_model

    def price(self, model: str, at: datetime, region: str | None = None) -> Price:
        """The price of ``model`` at ``at``: the latest entry not after it, preferring ``region``'s own."""
        wildcard: RateEntry | None = None
        for entry in self._by_model.get(model, ()):
            if entry.effective_from > at:
                continue
            if entry.region == region and region is not None:
                return entry.price
            if entry.region is None and wildcard is None:
                wildcard = entry
        if wildcard is None:
            raise UnpricedModel(f"No price for model {model!r} at {at.isoformat()}"
                                + (f" in {region}" if region else ""))
        return wildcard.price


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

"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an anonymous quickstart caller or the holder of a key."""

    id: str
    type: str  # "anonymous" | "apikey"


ANONYMOUS = Principal(id="anonymous", type="anonymous")

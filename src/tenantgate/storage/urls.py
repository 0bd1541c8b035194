"""Database URL normalisation: one place decides which async driver serves a URL.

Operators write the URL they know (``sqlite:///gate.db``, ``postgresql://...``); the
gateway is async, so each dialect is pinned to its async driver here. URLs may carry
passwords, so anything shown to humans goes through ``render_url_safely``.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from tenantgate.storage.errors import InvalidDatabaseUrl

Dialect = Literal["sqlite", "postgresql"]

_ASYNC_DRIVERNAMES: dict[str, str] = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and pin it to the async driver for its dialect.

    Raises ``InvalidDatabaseUrl`` for unparseable URLs or dialects other than SQLite and
    PostgreSQL. The raw string is never echoed back, since it may contain a password.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as exc:
        raise InvalidDatabaseUrl(
            "database URL could not be parsed; expected sqlite:///PATH or postgresql://USER@HOST/DB"
        ) from exc
    drivername = _ASYNC_DRIVERNAMES.get(parsed.drivername)
    if drivername is None:
        raise InvalidDatabaseUrl(
            f"unsupported database driver {parsed.drivername!r}; use one of {sorted(_ASYNC_DRIVERNAMES)}"
        )
    return parsed.set(drivername=drivername)


def dialect_of(url: URL) -> Dialect:
    """Name the dialect of a normalised URL, for the few places that branch on it."""
    return "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"


def render_url_safely(url: str | URL) -> str:
    """Render a URL for logs and error messages with its password masked as ``***``."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)

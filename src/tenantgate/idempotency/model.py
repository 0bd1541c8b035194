"""Idempotency values and rules, pure: key syntax, request fingerprints, what a retry gets.

A record is kept per (scope, key): the scope is the caller's principal, so two principals
never see each other's keys. ``decide`` says what an arriving request does given the record
already there (or none); the store and the API carry it out. ``docs/idempotency.md`` has the
semantics these rules implement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import msgspec

from tenantgate.errors import IdempotencyKeyInvalid

Clock = Callable[[], datetime]
"""Returns the current aware UTC time."""

KEY_LENGTH_MAX = 255
SCOPE_LENGTH_MAX = 160
IN_PROGRESS_RETRY_AFTER_S = 1.0
_PRINTABLE_FIRST, _PRINTABLE_LAST = 0x20, 0x7E
_NOT_REPLAYED_STATUSES = frozenset({408, 409, 429})
_canonical = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.Decoder().decode


class RecordState(StrEnum):
    """Where a record is: its first request still running, answered, or answered too large to keep."""

    IN_FLIGHT = "in_flight"
    DONE = "done"
    UNREPLAYABLE = "unreplayable"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What the first request answered, as replayed: status, kept headers and the exact body.

    ``headers`` holds lower-case names; ``content-type`` is always among them, and an
    event-stream content type marks a stored SSE transcript.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def content_type(self) -> str:
        """The stored content type (JSON when none was kept)."""
        return next((value for name, value in self.headers if name == "content-type"), "application/json")

    @property
    def is_stream(self) -> bool:
        """Whether the body is an SSE transcript rather than one JSON document."""
        return self.content_type.startswith("text/event-stream")


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """One row of ``idempotency_records``: a key's request fingerprint, state and stored answer."""

    scope: str
    key: str
    fingerprint: str
    owner: str
    state: RecordState
    response: StoredResponse | None
    created_at: datetime
    locked_until: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Run:
    """No live record (none, expired, or an in-flight one whose lease ran out): run the request."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The same request was answered before: send the stored answer again."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class Conflict:
    """The same request is still running elsewhere: answer 409 and let the caller come back."""

    retry_after_s: float = IN_PROGRESS_RETRY_AFTER_S


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used for a different request: answer 422."""


@dataclass(frozen=True, slots=True)
class ReplayUnavailable:
    """The same request was answered, but its answer was too large to keep: answer 409."""


Decision = Run | Replay | Conflict | Mismatch | ReplayUnavailable


def decide(existing: IdempotencyRecord | None, fingerprint: str, now: datetime) -> Decision:
    """What a request with ``fingerprint`` does, given the record for its key (if any) at ``now``.

    Order matters: an expired record is as if absent; a different request is refused whatever
    state the record is in; then the state decides.
    """
    if existing is None or existing.expires_at <= now:
        return Run()
    if existing.fingerprint != fingerprint:
        return Mismatch()
    if existing.state is RecordState.IN_FLIGHT:
        return Run() if existing.locked_until <= now else Conflict()
    if existing.state is RecordState.UNREPLAYABLE or existing.response is None:
        return ReplayUnavailable()
    return Replay(existing.response)


def parse_key(raw: bytes) -> str:
    """The key in an ``Idempotency-Key`` header value: 1 to 255 printable ASCII characters."""
    if not 1 <= len(raw) <= KEY_LENGTH_MAX or any(
        byte < _PRINTABLE_FIRST or byte > _PRINTABLE_LAST for byte in raw
    ):
        raise IdempotencyKeyInvalid(
            f"The Idempotency-Key header must be 1 to {KEY_LENGTH_MAX} printable ASCII characters.",
            param="Idempotency-Key",
        )
    return raw.decode("ascii")


def scope_of(principal_type: str, principal_id: str) -> str:
    """The namespace of a principal's keys: ``user:<id>``, ``apikey:<id>``, ``anonymous:anonymous``."""
    scope = f"{principal_type}:{principal_id}"
    if len(scope) <= SCOPE_LENGTH_MAX:
        return scope
    return f"{principal_type[:32]}:sha256:{hashlib.sha256(principal_id.encode()).hexdigest()}"


def fingerprint(method: str, path: str, compartment: str | None, body: bytes) -> str:
    """SHA-256 (hex) of what makes two requests the same: method, path, compartment, JSON body.

    The body is canonical JSON (keys sorted, no whitespace), so a client that re-serializes
    the same object in another key order or spacing still matches. A body that is not JSON
    is hashed as sent (it fails validation either way, and that answer is replayed).
    """
    try:
        canonical = _canonical(_decode(body))
    except (msgspec.DecodeError, TypeError, ValueError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), (compartment or "").encode()):
        digest.update(part)
        digest.update(b"\x00")
    digest.update(canonical)
    return digest.hexdigest()


def is_replayable(status: int) -> bool:
    """Whether an answer with ``status`` is stored for retries (Stripe's rule).

    Successes and the caller's own mistakes (400, 401, 403, 404, 413, 422, ...) are final,
    so they are kept. 5xx, 429 and 408/409 say "try again", so nothing is kept and a retry
    runs for real.
    """
    return status < 500 and status not in _NOT_REPLAYED_STATUSES

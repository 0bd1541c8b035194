"""The hash chain, as pure functions: canonical encoding, link hashes and streaming verification.

Every event's hash covers its predecessor's hash and all of its own fields::

    hash(n) = sha256( bytes.fromhex(hash(n-1)) || canonical(event n) )      hash(0) = GENESIS_HASH

``canonical`` is version 1 of the encoding: a JSON object of every field except ``hash``
(``seq`` and ``prev_hash`` included) plus ``"v": 1``, with sorted keys, no whitespace, ASCII
only, and ``occurred_at`` as RFC 3339 UTC with microseconds (``2025-03-01T12:00:00.000000Z``).
Editing, deleting, inserting or reordering any event therefore breaks the chain at that
event; the head record (last seq and hash) catches a cut or rewritten tail. Nothing here
does I/O: the store feeds events in, page by page, and reports what comes out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from tenantgate.audit.model import AuditEntry, AuditEvent, JsonValue

CANONICAL_VERSION = 1
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of event 1: there is nothing before it."""

BreakKind = Literal["edited", "gap", "duplicate", "out_of_order", "broken_link", "truncated", "beyond_head"]


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, one spelling for every instant (no ``+00:00`` variant)."""
    u = _as_utc(moment)
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
            f".{u.microsecond:06d}Z")


def _as_utc(moment: datetime) -> datetime:
    # A naive time would be read as local time: refuse it rather than guess, as UtcDateTime does.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def event_fields(event: AuditEvent) -> dict[str, JsonValue]:
    """Everything the hash covers: each field but ``hash`` itself, plus the encoding version."""
    return {
        "v": CANONICAL_VERSION,
        "seq": event.seq,
        "id": event.id,
        "occurred_at": format_timestamp(event.occurred_at),
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "outcome": event.outcome,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "compartment_id": event.compartment_id,
        "statement_ids": _faithful(event.statement_ids),
        "request_id": event.request_id,
        "client_ip": event.client_ip,
        "details": _faithful(event.details),
        "prev_hash": event.prev_hash,
    }


def _faithful(value: object) -> JsonValue:
    """Tuples and mappings as JSON, anything else untouched: a tampered value of the wrong type
    (a string where a list was) must not be coerced back into the original's shape."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value)
    return value  # type: ignore[return-value]


def canonical_bytes(fields: Mapping[str, JsonValue]) -> bytes:
    """The one byte string for these fields: sorted keys, compact separators, ASCII escapes."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.encode("ascii")


def link_hash(prev_hash: str, fields: Mapping[str, JsonValue]) -> str:
    """``sha256(bytes.fromhex(prev_hash) || canonical_bytes(fields))`` as lower-case hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_bytes(fields)).hexdigest()


def event_hash(event: AuditEvent) -> str:
    """The hash ``event`` must carry for its contents and predecessor."""
    return link_hash(event.prev_hash, event_fields(event))


def seal(entry: AuditEntry, *, seq: int, event_id: str, occurred_at: datetime, prev_hash: str) -> AuditEvent:
    """Place ``entry`` in the chain after ``prev_hash`` as event ``seq``, with its hash."""
    unsealed = AuditEvent(
        seq=seq, id=event_id, occurred_at=_as_utc(occurred_at),
        actor_type=entry.actor_type, actor_id=entry.actor_id, actor_name=entry.actor_name,
        action=entry.action, outcome=entry.outcome, target_type=entry.target_type,
        target_id=entry.target_id, compartment_id=entry.compartment_id,
        statement_ids=entry.statement_ids, request_id=entry.request_id,
        client_ip=entry.client_ip, details=entry.details, prev_hash=prev_hash, hash="",
    )
    return replace(unsealed, hash=event_hash(unsealed))


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain fails, and how: ``seq`` is where verification stopped."""

    kind: BreakKind
    seq: int
    detail: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What verification found: the intact prefix, where it ends, and the first break if any."""

    events_checked: int
    last_seq: int
    last_hash: str
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        """True when every event links and the chain ends exactly where the head says."""
        return self.broken is None


class ChainVerifier:
    """Checks events one at a time, in seq order, so a chain of any length needs O(1) memory.

    ``expected_head`` is ``(last_seq, last_hash)`` from the head record: without it a cut
    tail is undetectable, since what remains is itself a valid chain.
    """

    def __init__(self, *, expected_head: tuple[int, str] | None = None) -> None:
        self._head = expected_head
        self._checked = 0
        self._last_seq = 0
        self._last_hash = GENESIS_HASH
        self._broken: ChainBreak | None = None

    @property
    def broken(self) -> ChainBreak | None:
        """The first break found so far; once set, later events are ignored."""
        return self._broken

    def feed(self, event: AuditEvent) -> ChainBreak | None:
        """Check the next event; return the first break (this one or an earlier one), if any."""
        if self._broken is None:
            self._broken = self._check(event)
            if self._broken is None:
                self._checked += 1
                self._last_seq, self._last_hash = event.seq, event.hash
        return self._broken

    def finish(self) -> ChainReport:
        """The report, once every event is fed: compares the chain's end with the head record."""
        broken = self._broken or self._check_head()
        return ChainReport(self._checked, self._last_seq, self._last_hash, broken)

    def _check(self, event: AuditEvent) -> ChainBreak | None:
        expected = self._last_seq + 1
        if self._checked and event.seq == self._last_seq:
            return ChainBreak("duplicate", event.seq, f"seq {event.seq} appears twice")
        if event.seq < expected:
            return ChainBreak("out_of_order", event.seq, f"seq {event.seq} came after {self._last_seq}")
        if event.seq > expected:
            missing = f"{expected}" if event.seq == expected + 1 else f"{expected}..{event.seq - 1}"
            return ChainBreak("gap", expected, f"seq {missing} missing (deleted)")
        if event.prev_hash != self._last_hash:
            return ChainBreak("broken_link", event.seq, "prev_hash is not the previous event's hash "
                              "(an event was inserted, removed or moved)")
        try:
            recomputed = event_hash(event)
        except (TypeError, ValueError):  # e.g. NaN or a naive time written in by hand
            return ChainBreak("edited", event.seq, "the event's contents cannot be encoded")
        if recomputed != event.hash:
            return ChainBreak("edited", event.seq, "the stored hash does not match the event's contents")
        if self._head is not None and event.seq > self._head[0]:
            return ChainBreak("beyond_head", event.seq,
                              f"the head record accounts for {self._head[0]} events only")
        return None

    def _check_head(self) -> ChainBreak | None:
        if self._head is None:
            return None
        head_seq, head_hash = self._head
        if self._last_seq < head_seq:
            return ChainBreak("truncated", self._last_seq + 1,
                              f"the head records {head_seq} events, the chain ends at {self._last_seq}")
        if self._last_hash != head_hash:
            return ChainBreak("truncated", self._last_seq,
                              "the chain's last hash differs from the head record (the tail was rewritten)")
        return None


def verify_chain(
    events: Iterable[AuditEvent], *, expected_head: tuple[int, str] | None = None
) -> ChainReport:
    """Verify ``events`` (in seq order), stopping at the first break."""
    verifier = ChainVerifier(expected_head=expected_head)
    for event in events:
        if verifier.feed(event) is not None:
            break
    return verifier.finish()

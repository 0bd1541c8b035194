"""Builders shared by the audit tests: a stepping clock, a typical entry, a valid chain."""

from datetime import UTC, datetime, timedelta

from tenantgate.audit.chain import GENESIS_HASH, seal
from tenantgate.audit.model import AuditEntry, AuditEvent


class SteppingClock:
    """A clock tests move by hand; microseconds set so timestamp precision is exercised."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_entry(index: int = 0, **overrides: object) -> AuditEntry:
    """A typical admin-change entry; ``index`` lands in details so order can be checked."""
    fields: dict[str, object] = {
        "actor_type": "user",
        "actor_id": "usr_aaaaaaaaaaaaaaaaaaaa",
        "actor_name": "alice",
        "action": "iam.policy.create",
        "outcome": "succeeded",
        "target_type": "policy",
        "target_id": f"pol_{index:020d}",
        "compartment_id": "cmp_bbbbbbbbbbbbbbbbbbbb",
        "statement_ids": ("pol_root:1",),
        "request_id": f"req-{index}",
        "client_ip": "203.0.113.7",
        "details": {"index": index, "name": f"policy-{index}", "tags": ["a", "b"], "nested": {"ok": True}},
    }
    fields.update(overrides)
    return AuditEntry(**fields)  # type: ignore[arg-type]


def build_chain(entries: list[AuditEntry]) -> list[AuditEvent]:
    """Seal ``entries`` into a valid chain, without a database."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events: list[AuditEvent] = []
    prev_hash = GENESIS_HASH
    for seq, entry in enumerate(entries, start=1):
        event = seal(entry, seq=seq, event_id=f"aud_{seq:020d}",
                     occurred_at=start + timedelta(microseconds=seq * 1001), prev_hash=prev_hash)
        events.append(event)
        prev_hash = event.hash
    return events

"""A refused request, as the access layer reports it to the audit trail.

The access layer knows nothing of how denials are stored: it hands each one to a
``DenialSink`` (the gateway wires the audit recorder in), which must not block, so a flood
of refused requests costs the hot path one function call each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Denial:
    """Who was refused what, from where, and the reason code they were given (the audit trail stamps when)."""

    action: str
    reason: str
    principal_type: str
    principal_id: str
    principal_name: str | None
    key_id: str | None
    request_id: str | None
    ip: str | None
    details: Mapping[str, object] = field(default_factory=dict)


DenialSink = Callable[[Denial], None]

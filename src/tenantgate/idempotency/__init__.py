"""``Idempotency-Key`` for inference calls: a retried request replays its first answer, charged once.

``model.py`` holds the rules (key syntax, request fingerprint, ``decide``), pure;
``store.py`` claims and completes records in the shared database, safe across replicas;
the API layer (``tenantgate.api.idempotency``) wraps the inference routes with them.
``docs/idempotency.md`` gives the semantics.
"""

from tenantgate.idempotency.model import (
    Conflict,
    Decision,
    IdempotencyRecord,
    Mismatch,
    RecordState,
    Replay,
    ReplayUnavailable,
    Run,
    StoredResponse,
    decide,
    fingerprint,
    is_replayable,
    parse_key,
    scope_of,
)
from tenantgate.idempotency.store import Claim, ClaimResult, IdempotencyStore

__all__ = [
    "Claim",
    "ClaimResult",
    "Conflict",
    "Decision",
    "IdempotencyRecord",
    "IdempotencyStore",
    "Mismatch",
    "RecordState",
    "Replay",
    "ReplayUnavailable",
    "Run",
    "StoredResponse",
    "decide",
    "fingerprint",
    "is_replayable",
    "parse_key",
    "scope_of",
]

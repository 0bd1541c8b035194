"""What the fake upstream saw: one record per request, kept for tests to assert on."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Literal

import msgspec

AuthKind = Literal["bearer", "api-key", "signature", "none"]
Flavour = Literal["openai", "azure", "oci-openai", "oci"]


class RecordedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request as received: enough to assert on calls, parameters and credentials.

    ``headers`` has lower-case names.  ``body`` is the parsed JSON (None when empty or not
    JSON).  ``auth`` is the credential kind presented, ``auth_ok`` whether it was accepted,
    ``signature_verified`` is None unless an OCI signature was checked.  ``fault`` is the kind
    of fault applied to this request, if any.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    arrived_at: float
    flavour: Flavour
    model: str | None
    stream: bool
    auth: AuthKind
    auth_ok: bool
    signature_verified: bool | None = None
    key_id: str | None = None
    fault: str | None = None


class Recorder:
    """Thread-safe, bounded log of received requests (oldest dropped past ``limit``)."""

    def __init__(self, limit: int | None) -> None:
        self._lock = threading.Lock()
        self._records: deque[RecordedRequest] = deque(maxlen=limit)

    def add(self, record: RecordedRequest) -> None:
        """Append one record."""
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of every record, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

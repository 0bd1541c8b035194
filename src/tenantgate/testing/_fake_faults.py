"""Scriptable faults for the fake upstream: what they are and which request takes which.

A fault describes one way an upstream misbehaves.  Faults wait in a FIFO queue; each incoming
request takes the first queued fault whose filters (``path`` prefix, ``model``, streaming-only
kinds) match it.  Independently, a request whose model (or Azure deployment) name is a
*fault model name* such as ``fault-503`` always gets that fault, so a catalog can describe a
permanently broken deployment without any test code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec

FaultKind = Literal[
    "rate_limit",
    "status",
    "reset_before_headers",
    "cut_stream_after",
    "missing_usage",
    "missing_done",
    "malformed_chunk",
    "stall_before_headers",
    "stall_after_chunks",
    "slow_first_token",
]

STREAM_ONLY_KINDS: frozenset[str] = frozenset(
    {"cut_stream_after", "missing_usage", "missing_done", "malformed_chunk", "stall_after_chunks"}
)
"""Kinds that only make sense for a streamed reply; non-streaming requests pass them by."""


class Fault(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One scripted misbehaviour; the same fields are the JSON accepted by ``POST /_fake/faults``.

    ``status`` is the HTTP status for ``status`` faults (``rate_limit`` always answers 429).
    ``retry_after_s`` adds ``Retry-After`` (and ``retry-after-ms``) to a 429; None omits them.
    ``after_chunks`` is the number of SSE events written before the fault acts.
    ``seconds`` is the stall length.  ``path`` (a prefix) and ``model`` restrict which requests
    take the fault; ``times`` is how many matching requests it applies to.
    """

    kind: FaultKind
    status: int = 500
    retry_after_s: float | None = None
    after_chunks: int = 0
    seconds: float = 0.0
    path: str | None = None
    model: str | None = None
    message: str | None = None
    times: int = 1

    @property
    def stream_only(self) -> bool:
        """Whether only streaming requests can take this fault."""
        return self.kind in STREAM_ONLY_KINDS

    def matches(self, path: str, model: str | None, stream: bool) -> bool:
        """Whether a request with these attributes takes this fault."""
        if self.stream_only and not stream:
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        return self.model is None or self.model == model


def decode_faults(raw: bytes) -> list[Fault]:
    """Parse the control API body: one fault object or a JSON list of them."""
    decoded = msgspec.json.decode(raw, type=list[Fault] | Fault)
    return decoded if isinstance(decoded, list) else [decoded]


_MODEL_FAULT_DEFAULTS: dict[str, Fault] = {
    "reset": Fault(kind="reset_before_headers"),
    "stall": Fault(kind="stall_before_headers", seconds=30.0),
    "cut": Fault(kind="cut_stream_after", after_chunks=2),
    "missing-usage": Fault(kind="missing_usage"),
    "missing-done": Fault(kind="missing_done"),
    "malformed": Fault(kind="malformed_chunk", after_chunks=1),
    "stall-mid": Fault(kind="stall_after_chunks", after_chunks=1, seconds=30.0),
    "slow": Fault(kind="slow_first_token", seconds=1.0),
    "429": Fault(kind="rate_limit", retry_after_s=1.0),
    "429-no-retry-after": Fault(kind="rate_limit"),
}


def fault_for_model_name(model: str | None) -> Fault | None:
    """Fault implied by a ``fault-…`` model name, e.g. ``fault-503`` or ``fault-stall-2.5``.

    Forms: ``fault-<status>``, ``fault-429``, ``fault-429-no-retry-after``, ``fault-reset``,
    ``fault-stall[-<s>]``, ``fault-stall-mid[-<s>]``, ``fault-slow[-<s>]``, ``fault-cut[-<n>]``,
    ``fault-malformed[-<n>]``, ``fault-missing-usage``, ``fault-missing-done``.
    """
    if model is None or not model.startswith("fault-"):
        return None
    spec = model[len("fault-") :]
    if spec in _MODEL_FAULT_DEFAULTS:
        return _MODEL_FAULT_DEFAULTS[spec]
    if spec.isdigit():
        return Fault(kind="status", status=int(spec))
    name, _, arg = spec.rpartition("-")
    base = _MODEL_FAULT_DEFAULTS.get(name)
    if base is None:
        return None
    try:
        value = float(arg)
    except ValueError:
        return None
    if base.kind in ("cut_stream_after", "malformed_chunk"):
        return msgspec.structs.replace(base, after_chunks=int(value))
    return msgspec.structs.replace(base, seconds=value)


class FaultQueue:
    """Thread-safe FIFO of pending faults, filled from tests and drained by the server loop."""

    def __init__(self, model_faults: Mapping[str, Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []
        self._model_faults = dict(model_faults or {})

    def enqueue(self, faults: Iterable[Fault]) -> None:
        """Queue faults for upcoming requests, in order."""
        with self._lock:
            self._pending.extend(faults)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._pending.clear()

    @property
    def pending(self) -> list[Fault]:
        """A snapshot of the faults still waiting."""
        with self._lock:
            return list(self._pending)

    def take(self, path: str, model: str | None, stream: bool) -> Fault | None:
        """The fault this request gets, consuming one use of a queued fault."""
        by_name = self._model_faults.get(model or "") or fault_for_model_name(model)
        if by_name is not None and by_name.matches(path, model, stream):
            return by_name
        if not self._pending:
            return None
        with self._lock:
            for i, fault in enumerate(self._pending):
                if fault.matches(path, model, stream):
                    if fault.times <= 1:
                        del self._pending[i]
                    else:
                        self._pending[i] = msgspec.structs.replace(fault, times=fault.times - 1)
                    return fault
        return None

"""Which local models are loaded now and roughly how much memory each holds, for /metrics.

The figure is the size of the model files on disk. llama.cpp maps the GGUF into memory and
onnxruntime copies the ONNX weights, so the file size is a stable lower bound of what a
loaded model holds; measured RSS deltas are noisy (allocator arenas, thread stacks) and
cannot be attributed per model when several load in one process. The llama KV cache is added
for chat models because it is allocated up front and is known exactly.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_resident: dict[int, tuple[str, int]] = {}


def mark_loaded(owner: object, label: str, size_bytes: int) -> None:
    """Record that ``owner`` (an engine) holds a loaded model (called from its worker thread)."""
    with _lock:
        _resident[id(owner)] = (label, size_bytes)


def mark_unloaded(owner: object) -> None:
    """Record that ``owner`` unloaded its model."""
    with _lock:
        _resident.pop(id(owner), None)


def loaded_models() -> list[tuple[str, int]]:
    """(model label, bytes) for every loaded local model; the /metrics memory gauge reads this.

    Engines that share a label (two deployments of one model) are summed.
    """
    totals: dict[str, int] = {}
    with _lock:
        for label, size in _resident.values():
            totals[label] = totals.get(label, 0) + size
    return sorted(totals.items())

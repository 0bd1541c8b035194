"""The request bodies the benchmark sends: a realistic ~1.1 KB multi-turn chat request.

The same body as the stack measurement (/tmp/stackbench/payloads.py), so figures compare.
Streaming bodies ask for the usage chunk: the gateway always asks its upstream for usage, so
with this the direct call and the gateway's upstream call carry the same events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_SYSTEM = "You are a helpful assistant. Answer concisely and accurately. " * 3
_TEXT = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8


def chat_request(model: str, *, stream: bool) -> dict[str, Any]:
    """A chat completion request body for ``model``."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": "Summarize the following text in two sentences: " + _TEXT},
            {"role": "assistant", "content": "Sure, here is a short summary of the text you provided."},
            {"role": "user", "content": "Now translate it to French please."},
        ],
        "temperature": 0.7,
        "top_p": 1.0,
        "max_tokens": 256,
        "n": 1,
        "stream": stream,
        "user": "user-1234",
        "metadata": {"team": "research", "trace_id": "0af7651916cd43dd8448eb211c80319c"},
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def write_body(directory: Path, model: str, *, stream: bool) -> Path:
    """Write the compact JSON body to a file (wrk's Lua script reads it) and return its path."""
    kind = "stream" if stream else "plain"
    path = directory / f"{model}-{kind}.json"
    path.write_bytes(json.dumps(chat_request(model, stream=stream), separators=(",", ":")).encode())
    return path

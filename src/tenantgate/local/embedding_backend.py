"""The local embedding model as a Backend: OpenAI's ``embedding`` list with real token usage.

Requests queue through the same kind of :class:`Scheduler` as chat (one at a time, FIFO,
bounded) and run on a dedicated worker thread, so a large batch never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from tenantgate.errors import LocalModelUnavailable, UnsupportedParameter
from tenantgate.local.embedding_engine import EMBEDDING_DIMENSIONS, EmbeddingEngine, Embeddings
from tenantgate.local.scheduler import Scheduler
from tenantgate.providers.base import (
    Capabilities,
    DeploymentInfo,
    Operation,
    Reply,
    StreamPiece,
    Usage,
)

_encode = msgspec.json.Encoder().encode

EMBEDDING_CAPABILITIES = Capabilities(
    operations=frozenset({Operation.EMBEDDING}), streaming=False, tools=False, logprobs=False,
    usage_in_stream=False,
)


class LocalEmbeddingBackend:
    """Embeddings answered by the in-process MiniLM model."""

    def __init__(
        self, *, info: DeploymentInfo, engine: EmbeddingEngine, scheduler: Scheduler,
        idle_unload_s: int = 0,
    ) -> None:
        self.info = info
        self.capabilities = EMBEDDING_CAPABILITIES
        self.engine = engine
        self.scheduler = scheduler
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenantgate-onnx")
        self._idle_unload_s = idle_unload_s
        self._uses = 0
        self._idle_timer: asyncio.TimerHandle | None = None

    async def warm_up(self) -> None:
        """Load the model now (for ``local.load: startup``)."""
        await asyncio.wrap_future(self._executor.submit(self.engine.load))

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Reply:
        texts = embedding_inputs(body)
        encoding = body.get("encoding_format") or "float"
        cancel = threading.Event()
        slot = await self.scheduler.acquire()
        try:
            future = self._executor.submit(self.engine.embed, texts, cancel)
        except RuntimeError as exc:
            slot.release()
            raise LocalModelUnavailable("The local model is shutting down.") from exc
        try:
            result = await asyncio.wrap_future(future)
        finally:
            cancel.set()
            slot.release()
            self._after_use()
        usage = Usage(prompt_tokens=result.token_count, completion_tokens=0)
        model = str(body.get("model") or self.info.model_name)
        return Reply(embedding_list(result, encoding, model, usage), usage)

    async def stream(
        self, operation: Operation, body: dict[str, Any]
    ) -> AsyncGenerator[StreamPiece, None]:
        raise UnsupportedParameter("Embeddings cannot be streamed.", param="stream")
        yield  # pragma: no cover  (makes this an async generator)

    async def aclose(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        await asyncio.wrap_future(self._executor.submit(self.engine.unload))
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _after_use(self) -> None:
        self._uses += 1
        if self._idle_unload_s <= 0:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = asyncio.get_running_loop().call_later(
            self._idle_unload_s, self._unload_if_idle, self._uses
        )

    def _unload_if_idle(self, uses: int) -> None:
        if uses == self._uses and not self.scheduler.busy and self.engine.loaded:
            self._executor.submit(self.engine.unload)


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    """The request's texts; token-id inputs and other dimensions are refused by name."""
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions != EMBEDDING_DIMENSIONS:
        raise UnsupportedParameter(
            f"This model produces {EMBEDDING_DIMENSIONS}-dimensional embeddings only.",
            param="dimensions",
        )
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise UnsupportedParameter(
        "The local embedding model accepts a string or a list of strings, not token ids.",
        param="input",
    )


def embedding_list(result: Embeddings, encoding: str, model: str, usage: Usage) -> bytes:
    """OpenAI's embedding list; base64 is the little-endian float32 bytes of each vector."""
    data: list[dict[str, Any]] = []
    for index, row in enumerate(result.vectors):
        vector: Any
        if encoding == "base64":
            vector = base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
        else:
            vector = row.tolist()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    return _encode({"object": "list", "data": data, "model": model,
                    "usage": {"prompt_tokens": usage.prompt_tokens,
                              "total_tokens": usage.prompt_tokens}})

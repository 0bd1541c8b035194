"""all-MiniLM-L6-v2 sentence embeddings with onnxruntime and tokenizers (no torch).

The recipe is sentence-transformers' own: WordPiece with truncation at 256 tokens, the
transformer's ``last_hidden_state``, mean pooling over real tokens (padding masked out),
then L2 normalisation. Measured against sentence-transformers fp32 the int8 model gives
cosine >= 0.9995 (see shared/research/embedded-models.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenantgate.errors import LocalModelUnavailable
from tenantgate.local import residency
from tenantgate.local.model_files import ModelFiles

if TYPE_CHECKING:  # numpy is a `local` extra; import it only where the model runs
    import numpy as np
    import numpy.typing as npt

logger = logging.getLogger("tenantgate.local")

EMBEDDING_DIMENSIONS = 384
MAX_SEQUENCE_TOKENS = 256
BATCH_SIZE = 32


@dataclass(frozen=True, slots=True)
class Embeddings:
    """Unit vectors (one row per input, float32) and the real tokens they were made from."""

    vectors: npt.NDArray[np.float32]
    token_count: int


@dataclass(frozen=True, slots=True)
class EmbeddingEngineConfig:
    """How to load the embedding model."""

    label: str
    locate: Callable[[], ModelFiles]
    threads: int


class EmbeddingEngine:
    """Owns one ONNX session and tokenizer; call from one worker thread at a time."""

    def __init__(self, config: EmbeddingEngineConfig) -> None:
        self.config = config
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        """Load the model if needed; logs file, size and load time."""
        with self._lock:
            if self._session is not None:
                return
            files = self.config.locate()
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise LocalModelUnavailable(
                    "onnxruntime and tokenizers are not installed. Install them with: "
                    "pip install tryaii"
                ) from exc
            logger.info("loading local embedding model",
                        extra={"model": self.config.label, "file": str(files.model_path),
                               "size_bytes": files.size_bytes})
            started = time.perf_counter()
            tokenizer = Tokenizer.from_file(str(files.tokenizer_path))
            tokenizer.enable_truncation(max_length=MAX_SEQUENCE_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106  (a token, not a secret)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.config.threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                str(files.model_path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer
            load_s = time.perf_counter() - started
            residency.mark_loaded(self, self.config.label, files.size_bytes)
            logger.info(
                "local embedding model loaded",
                extra={"model": self.config.label, "file": str(files.model_path),
                       "size_bytes": files.size_bytes, "load_ms": round(load_s * 1000, 1),
                       "threads": self.config.threads},
            )

    def unload(self) -> None:
        """Free the session; the next request loads it again."""
        with self._lock:
            if self._session is None:
                return
            residency.mark_unloaded(self)
            self._session = None
            self._tokenizer = None
            logger.info("local embedding model unloaded", extra={"model": self.config.label})

    def embed(self, texts: list[str], cancel: threading.Event | None = None) -> Embeddings:
        """Embed every text, in batches of up to 32; stops early when ``cancel`` is set."""
        import numpy as np

        self.load()
        rows: list[npt.NDArray[np.float32]] = []
        tokens = 0
        for start in range(0, len(texts), BATCH_SIZE):
            if cancel is not None and cancel.is_set():
                break
            vectors, count = self._embed_batch(texts[start : start + BATCH_SIZE])
            rows.append(vectors)
            tokens += count
        if not rows:
            return Embeddings(np.zeros((0, EMBEDDING_DIMENSIONS), dtype=np.float32), 0)
        return Embeddings(np.concatenate(rows), tokens)

    def _embed_batch(self, texts: list[str]) -> tuple[npt.NDArray[np.float32], int]:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        return mean_pool_normalised(hidden, mask), int(mask.sum())


def mean_pool_normalised(
    hidden: npt.NDArray[Any], mask: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """Average the token vectors of real tokens, then scale each row to unit length."""
    import numpy as np

    weights = mask[..., None].astype(np.float32)
    summed = (hidden.astype(np.float32) * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1.0)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit

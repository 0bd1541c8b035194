"""The embedded local engine: llama.cpp chat and ONNX embeddings, in-process on the CPU.

Modules, one concept each: ``model_files`` (built-in ids -> files in installed packages),
``scheduler`` (fair bounded queue), ``chat_engine`` (llama worker thread), ``chat_backend``
and ``embedding_backend`` (the Backend protocol), ``throughput`` (benchmark helpers).
The provider entry point is :mod:`tenantgate.providers.local`.
"""

from tenantgate.local.chat_backend import LocalChatBackend
from tenantgate.local.embedding_backend import LocalEmbeddingBackend
from tenantgate.local.residency import loaded_models
from tenantgate.local.scheduler import Scheduler

__all__ = ["LocalChatBackend", "LocalEmbeddingBackend", "Scheduler", "loaded_models"]

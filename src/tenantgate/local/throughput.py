"""Throughput of the local chat engine, through the backend and with llama-cpp-python directly.

The benchmark reports the ratio backend / direct (goal >= 0.95). Both sides run the same
model file with the same threads and context on the same machine, alternating rounds so
background load hits both alike; each prompt starts with a fresh nonce so neither side
gets a prefix-cache hit. Generation speed is timed from the first to the last generated
token; prompt speed is prompt tokens over the time to the first token.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from tenantgate.local.chat_backend import LocalChatBackend
from tenantgate.local.model_files import SMOLLM2_135M_INSTRUCT, locate_builtin
from tenantgate.providers.base import DeploymentInfo, Operation
from tenantgate.settings import DeploymentSettings, LocalSettings

_PARAGRAPH = (
    "The gateway forwards requests to many providers, applies policies, meters usage and "
    "keeps an audit trail of every decision so that operators can explain what happened. "
)


@dataclass(frozen=True, slots=True)
class Throughput:
    """Median tokens per second of one side."""

    generation_tokens_per_s: float
    prompt_tokens_per_s: float


@dataclass(frozen=True, slots=True)
class ThroughputReport:
    """Both sides and their ratios (backend / direct)."""

    backend: Throughput
    direct: Throughput
    generated_tokens: int
    prompt_tokens: int

    @property
    def generation_ratio(self) -> float:
        return self.backend.generation_tokens_per_s / self.direct.generation_tokens_per_s

    @property
    def prompt_ratio(self) -> float:
        return self.backend.prompt_tokens_per_s / self.direct.prompt_tokens_per_s


def engine_direct_throughput(
    *, threads: int = 1, generated_tokens: int = 128, prompt_paragraphs: int = 16, rounds: int = 3
) -> ThroughputReport:
    """Measure the built-in chat model both ways (blocking; runs its own event loop)."""
    return asyncio.run(
        measure_throughput(threads=threads, generated_tokens=generated_tokens,
                           prompt_paragraphs=prompt_paragraphs, rounds=rounds)
    )


async def measure_throughput(
    *, threads: int = 1, generated_tokens: int = 128, prompt_paragraphs: int = 16, rounds: int = 3
) -> ThroughputReport:
    """The same as :func:`engine_direct_throughput`, for callers that already run a loop."""
    from llama_cpp import Llama

    from tenantgate.providers.local import create_backend

    settings = LocalSettings.model_validate({"threads": threads, "queue_deadline_ms": 600_000})
    deployment = DeploymentSettings.model_validate(
        {"provider": "local", "model": SMOLLM2_135M_INSTRUCT}
    )
    info = DeploymentInfo("bench", "local", SMOLLM2_135M_INSTRUCT, None, 0)
    services: Any = SimpleNamespace(local=settings)
    backend = create_backend(deployment, info, services)
    assert isinstance(backend, LocalChatBackend)
    await backend.warm_up()
    path = str(locate_builtin(SMOLLM2_135M_INSTRUCT).model_path)
    direct = Llama(model_path=path, n_ctx=settings.context_tokens, n_threads=threads,
                   n_threads_batch=threads, verbose=False)
    samples: dict[str, list[float]] = {"bg": [], "bp": [], "dg": [], "dp": []}
    prompt_tokens = 0
    try:
        for round_index in range(rounds):
            long_prompt = f"[{round_index}] " + _PARAGRAPH * prompt_paragraphs
            story = f"[{round_index}] Once upon a time, in a small village by the sea,"
            samples["bg"].append(await _backend_generation(backend, story, generated_tokens))
            samples["dg"].append(_direct_generation(direct, "x" + story, generated_tokens))
            rate, prompt_tokens = await _backend_prompt(backend, long_prompt)
            samples["bp"].append(rate)
            samples["dp"].append(_direct_prompt(direct, "x" + long_prompt))
    finally:
        direct.close()
        await backend.aclose()
    med = {key: statistics.median(values) for key, values in samples.items()}
    return ThroughputReport(
        backend=Throughput(med["bg"], med["bp"]),
        direct=Throughput(med["dg"], med["dp"]),
        generated_tokens=generated_tokens,
        prompt_tokens=prompt_tokens,
    )


async def _backend_generation(backend: LocalChatBackend, prompt: str, tokens: int) -> float:
    body = {"model": "bench", "prompt": prompt, "max_tokens": tokens, "temperature": 0}
    stamps: list[float] = []
    generated = 0
    async for piece in backend.stream(Operation.COMPLETION, body):
        if piece.usage is not None:
            generated = piece.usage.completion_tokens
        elif not piece.finished_choices:
            stamps.append(time.perf_counter())
    return (generated - 1) / (stamps[-1] - stamps[0])


async def _backend_prompt(backend: LocalChatBackend, prompt: str) -> tuple[float, int]:
    body = {"model": "bench", "prompt": prompt, "max_tokens": 1, "temperature": 0}
    started = time.perf_counter()
    reply = await backend.complete(Operation.COMPLETION, body)
    elapsed = time.perf_counter() - started
    assert reply.usage is not None
    return reply.usage.prompt_tokens / elapsed, reply.usage.prompt_tokens


def _direct_generation(llm: Any, prompt: str, tokens: int) -> float:
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
    stamps: list[float] = []
    for _token in llm.generate(ids, temp=0.0, top_k=40, top_p=1.0, min_p=0.05):
        stamps.append(time.perf_counter())
        if len(stamps) >= tokens:
            break
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _direct_prompt(llm: Any, prompt: str) -> float:
    started = time.perf_counter()
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
    for _token in llm.generate(ids, temp=0.0):
        break
    return len(ids) / (time.perf_counter() - started)

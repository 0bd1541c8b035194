"""The llama-cpp-python runner: one model, one dedicated worker thread, token-by-token output.

A llama context is not thread-safe, so every call that touches it (load, tokenize, generate,
unload) runs on the engine's single worker thread; the event loop never blocks on it. Output
travels back as :class:`EngineEvent` values through a callback that the caller makes
thread-safe. The loop checks a cancellation flag before every token, so a client that goes
away stops the work within one token.

Prompts use the model's own chat template from its GGUF metadata (or a configured
override), formatted and tokenized exactly as ``Llama.create_chat_completion`` does, so
``prompt_tokens`` equals ``llama.tokenize`` of the formatted prompt.
"""

from __future__ import annotations

import codecs
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tenantgate.errors import (
    ContextLengthExceeded,
    InvalidParameterValue,
    LocalModelUnavailable,
    UnsupportedParameter,
)
from tenantgate.local import residency
from tenantgate.local.chat_template import ChatTemplate
from tenantgate.local.generation_request import GenerationRequest
from tenantgate.local.model_files import ModelFiles
from tenantgate.local.stop_sequences import StopScanner
from tenantgate.providers.base import Operation, Usage

logger = logging.getLogger("tenantgate.local")

# llama.cpp's own sampling defaults; OpenAI has no such knobs, and without them a 135M model
# sampling from its whole vocabulary at temperature 1 rambles badly.
_TOP_K = 40
_MIN_P = 0.05


@dataclass(frozen=True, slots=True)
class Delta:
    """Text released to the client."""

    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    """Generation ended; ``finish_reason`` is OpenAI's ('stop' or 'length')."""

    finish_reason: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Failed:
    """Generation could not run; ``error`` is raised to the caller."""

    error: BaseException


EngineEvent = Delta | Finished | Failed
Emit = Callable[[EngineEvent], None]


@dataclass(frozen=True, slots=True)
class ChatEngineConfig:
    """How to load one chat model."""

    label: str
    locate: Callable[[], ModelFiles]
    context_tokens: int
    threads: int
    max_output_tokens: int
    chat_template: str | None = None


class ChatEngine:
    """Owns one ``llama_cpp.Llama`` on one worker thread; loads lazily, unloads on request."""

    def __init__(self, config: ChatEngineConfig) -> None:
        self.config = config
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenantgate-llama")
        self._llm: Any = None
        self._template: ChatTemplate | None = None
        self._eog: Callable[[int], bool] = lambda _token: False

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def submit(self, fn: Callable[[], None]) -> Future[None]:
        """Run ``fn`` on the worker thread (the only thread that touches the model)."""
        return self._executor.submit(fn)

    def shutdown(self) -> None:
        """Stop accepting work; the worker finishes what it has (cancelled jobs stop fast)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- worker-thread methods -------------------------------------------------------------

    def load(self) -> Any:
        """Load the model if needed (worker thread); logs file, size and load time."""
        if self._llm is not None:
            return self._llm
        files = self.config.locate()
        try:
            import llama_cpp
        except ImportError as exc:
            raise LocalModelUnavailable(
                "llama-cpp-python is not installed. Install it with: "
                'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python==0.3.36'
            ) from exc
        logger.info("loading local chat model",
                    extra={"model": self.config.label, "file": str(files.model_path),
                           "size_bytes": files.size_bytes})
        started = time.perf_counter()
        try:
            llm = llama_cpp.Llama(
                model_path=str(files.model_path),
                n_ctx=self.config.context_tokens,
                n_threads=self.config.threads,
                n_threads_batch=self.config.threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise LocalModelUnavailable(f"Could not load {files.model_path}: {exc}") from exc
        load_s = time.perf_counter() - started
        vocab = llm._model.vocab  # the EOG test needs the vocab; create_completion reads it so too
        self._eog = lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))
        self._template = ChatTemplate.from_llama(llm, self.config.chat_template)
        self._llm = llm
        size = files.size_bytes + _kv_cache_bytes(llm)
        residency.mark_loaded(self, self.config.label, size)
        logger.info(
            "local chat model loaded",
            extra={"model": self.config.label, "file": str(files.model_path),
                   "size_bytes": files.size_bytes, "load_ms": round(load_s * 1000, 1),
                   "threads": self.config.threads, "context_tokens": self.config.context_tokens},
        )
        return llm

    def unload(self) -> None:
        """Free the model (worker thread); the next request loads it again."""
        llm = self._llm
        if llm is None:
            return
        llm.close()
        residency.mark_unloaded(self)
        self._template = None
        self._llm = None
        logger.info("local chat model unloaded", extra={"model": self.config.label})

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The exact token ids the model will read for this request (worker thread)."""
        llm = self.load()
        if request.operation is Operation.COMPLETION:
            if isinstance(request.prompt, tuple):
                _check_token_ids(request.prompt, int(llm.n_vocab()))
                return list(request.prompt)
            return list(llm.tokenize(request.prompt.encode("utf-8"), add_bos=True, special=True))
        if self._template is None:
            raise UnsupportedParameter(
                "This local model has no chat template; use /v1/completions or configure "
                "`chat_template` on its deployment.",
                param="messages",
            )
        formatted = self._template.format(request.messages)
        return list(
            llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special,
                         special=True)
        )

    def run(self, request: GenerationRequest, cancel: threading.Event, emit: Emit) -> None:
        """Generate for one request (worker thread); always ends with Finished or Failed."""
        try:
            if cancel.is_set():
                return
            self._generate(request, cancel, emit)
        except Exception as exc:
            emit(Failed(exc))

    def _generate(self, request: GenerationRequest, cancel: threading.Event, emit: Emit) -> None:
        llm = self.load()
        tokens = self.prompt_tokens(request)
        budget = output_budget(
            len(tokens), request.max_tokens, self.config.context_tokens,
            self.config.max_output_tokens, request.prompt_noun,
        )
        sampling = request.sampling
        if sampling.seed is not None:
            # llama.cpp reuses the cached prefix of the previous request, and logits computed
            # in another batch shape differ in the last bits: a seeded request starts clean so
            # the same request gives the same answer, as OpenAI's `seed` promises.
            llm.reset()
        llm.set_seed(sampling.seed if sampling.seed is not None else secrets.randbits(31))
        scanner = StopScanner(request.stop)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generated = 0
        finish_reason = "length"
        tokens_iter = llm.generate(
            tokens, top_k=_TOP_K, top_p=sampling.top_p, min_p=_MIN_P,
            temp=sampling.temperature, repeat_penalty=1.0,
            frequency_penalty=sampling.frequency_penalty,
            presence_penalty=sampling.presence_penalty,
        ) if budget > 0 else iter(())
        for token in tokens_iter:
            if cancel.is_set():
                return
            if self._eog(token):
                finish_reason = "stop"
                break
            generated += 1
            text = scanner.feed(decoder.decode(llm.detokenize([token])))
            if text:
                emit(Delta(text))
            if scanner.stopped:
                finish_reason = "stop"
                break
            if generated >= budget:
                break
        if cancel.is_set():
            return
        tail = scanner.feed(decoder.decode(b"", final=True)) + scanner.flush()
        if tail:
            emit(Delta(tail))
        emit(Finished(finish_reason, Usage(len(tokens), generated)))


def output_budget(
    prompt_tokens: int, requested: int | None, context_tokens: int, default_max: int, noun: str
) -> int:
    """Tokens the answer may use; raises ContextLengthExceeded in OpenAI's words when it cannot fit.

    An explicit ``max_tokens`` must fit beside the prompt; without one the answer gets the
    default cap or whatever room is left, whichever is smaller.
    """
    if prompt_tokens >= context_tokens:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {context_tokens} tokens. However, your "
            f"{noun} resulted in {prompt_tokens} tokens. Please reduce the length of the {noun}.",
            param=noun,
        )
    if requested is None:
        return min(default_max, context_tokens - prompt_tokens)
    if prompt_tokens + requested > context_tokens:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {context_tokens} tokens. However, you "
            f"requested {prompt_tokens + requested} tokens ({prompt_tokens} in the {noun}, "
            f"{requested} in the completion). Please reduce the length of the {noun} or "
            "completion.",
            param=noun,
        )
    return requested


def _check_token_ids(ids: tuple[int, ...], vocab_size: int) -> None:
    bad = next((t for t in ids if not 0 <= t < vocab_size), None)
    if bad is not None:
        raise InvalidParameterValue(
            f"Token id {bad} is outside this model's vocabulary (0..{vocab_size - 1}).",
            param="prompt",
        )


def _kv_cache_bytes(llm: Any) -> int:
    """Bytes of the f16 KV cache: 2 (K and V) x layers x context x embedding width x 2 bytes.

    Grouped-query models hold fewer KV heads; the metadata says how many when it is known.
    """
    meta = llm.metadata
    arch = meta.get("general.architecture", "llama")
    try:
        layers = int(meta[f"{arch}.block_count"])
        heads = int(meta[f"{arch}.attention.head_count"])
        kv_heads = int(meta.get(f"{arch}.attention.head_count_kv", heads))
        width = int(llm.n_embd()) * kv_heads // heads
    except (KeyError, ValueError, ZeroDivisionError):
        return 0
    return 2 * layers * int(llm.n_ctx()) * width * 2

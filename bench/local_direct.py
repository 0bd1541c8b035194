"""The embedded engines driven directly, without Tenantgate: the baseline of the local benchmark.

Run as its own process (bench/local_bench.py starts it pinned to the gateway's core), it
loads the same GGUF file with ``llama_cpp.Llama`` and the same thread counts as the gateway's
defaults, and the MiniLM ONNX model with onnxruntime + tokenizers, then answers one JSON
command per stdin line with one JSON line on stdout. Keeping it alive between rounds lets the
benchmark alternate gateway and direct runs without paying a model load each time, so both
sides are measured warm.

Commands: ``{"op": "generate", "prompt": str, "max_tokens": int}`` and
``{"op": "embed", "texts": [str], "repeat": int}``; ``{"op": "quit"}`` (or EOF) ends it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from tenantgate.local.model_files import MINILM_L6_V2_INT8, SMOLLM2_135M_INSTRUCT, locate_builtin
from tenantgate.settings import LocalSettings

# The gateway's sampling for temperature 0 (chat_engine.py): greedy, so top_k/min_p do not
# change the tokens, but they are passed the same way so the sampler chain costs the same.
_TOP_K = 40
_MIN_P = 0.05
SEED = 1


class Direct:
    """The two engines, loaded once, measured per command."""

    def __init__(self) -> None:
        import llama_cpp

        local = LocalSettings()
        self.threads = local.threads
        self.embedding_threads = local.embedding_threads
        chat = locate_builtin(SMOLLM2_135M_INSTRUCT)
        self.llm = llama_cpp.Llama(
            model_path=str(chat.model_path), n_ctx=local.context_tokens,
            n_threads=local.threads, n_threads_batch=local.threads, verbose=False,
        )
        self._session: Any = None
        self._tokenizer: Any = None

    def generate(self, prompt: str, max_tokens: int) -> dict[str, Any]:
        """Exactly ``max_tokens`` greedy tokens after a cold prompt (the cache is reset first,
        as the gateway does for a seeded request), timed as a streaming client sees them:
        prompt time is until the first token, generation time from the first to the last.
        """
        llm = self.llm
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        llm.reset()
        llm.set_seed(SEED)
        stamps: list[float] = []
        cpu_started = time.process_time()
        started = time.perf_counter()
        for token in llm.generate(tokens, top_k=_TOP_K, top_p=1.0, min_p=_MIN_P, temp=0.0,
                                  repeat_penalty=1.0):
            llm.detokenize([token])  # the gateway turns every token into text; so do we
            stamps.append(time.perf_counter())
            if len(stamps) >= max_tokens:
                break
        return {"prompt_tokens": len(tokens), "completion_tokens": len(stamps),
                "first_token_s": stamps[0] - started, "generation_s": stamps[-1] - stamps[0],
                "cpu_s": time.process_time() - cpu_started}

    def embed(self, texts: list[str], repeat: int) -> dict[str, Any]:
        """Embed ``texts`` as one batch ``repeat`` times (tokenize, run, mean-pool, normalise)."""
        import numpy as np

        self._load_embeddings()
        started = time.perf_counter()
        for _ in range(repeat):
            encodings = self._tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
            pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return {"embeddings": len(texts) * repeat, "seconds": time.perf_counter() - started}

    def _load_embeddings(self) -> None:
        if self._session is not None:
            return
        import onnxruntime as ort
        from tokenizers import Tokenizer

        files = locate_builtin(MINILM_L6_V2_INT8)
        tokenizer = Tokenizer.from_file(str(files.tokenizer_path))
        tokenizer.enable_truncation(max_length=256)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 (a token)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.embedding_threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(files.model_path), options,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer


def main() -> None:
    """Load, say ready, then answer commands until quit or EOF."""
    direct = Direct()
    print(json.dumps({"ready": True, "threads": direct.threads}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "generate":
            answer = direct.generate(command["prompt"], int(command["max_tokens"]))
        elif command["op"] == "embed":
            answer = direct.embed(list(command["texts"]), int(command["repeat"]))
        else:
            return
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()

"""Local model throughput: the embedded models through the gateway vs their engines driven directly.

The same GGUF file, thread count, prompt tokens and number of generated tokens on both
sides, measured one after the other (never concurrently) on the same core, alternating for
a few rounds so that drift from other work on the machine hits both sides alike; medians
are reported. The gateway request is a streamed ``/v1/completions`` with a raw prompt,
``temperature: 0`` and a ``seed`` (a seeded request makes the gateway reset llama.cpp's
prompt cache, so each round processes the whole prompt, as the direct side does after
``reset()``). A raw-text continuation of this prompt does not hit end-of-generation within
``max_tokens``, so both sides generate exactly that many tokens; the report checks it.
Besides wall-clock tokens/s, tokens per CPU-second of the serving process (the gateway's
tree, or the direct process) are reported: on a shared machine other work steals the core
from either side at random, and CPU time is far less sensitive to that than wall time.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cpu_time
from stack import stop, taskset

BENCH_DIR = Path(__file__).resolve().parent
CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"
MAX_TOKENS = 64
REQUEST_TIMEOUT_S = 120.0
_SENTENCES = (
    "The lighthouse on the northern cape was built in 1852 from granite quarried nearby.",
    "Its keeper climbed one hundred and twelve steps every evening to light the lamp.",
    "Ships passing the reef relied on its beam, which could be seen for twenty miles.",
    "In winter the storms were so strong that waves reached the lantern room windows.",
    "The village below traded fish, wool and stories with the sailors who came ashore.",
)
PROMPT = " ".join(_SENTENCES) + " One night in the autumn of 1881,"
EMBED_TEXTS = [f"{sentence} (variant {i})" for i in range(8) for sentence in _SENTENCES[:4]]
EMBED_REPEAT = 3


@dataclass(frozen=True, slots=True)
class Generation:
    """One timed generation: tokens in and out, time to the first token, first to last token."""

    prompt_tokens: int
    completion_tokens: int
    first_token_s: float
    generation_s: float
    cpu_s: float

    @property
    def prompt_tps(self) -> float:
        """Prompt tokens per second, counting everything up to the first token."""
        return self.prompt_tokens / self.first_token_s if self.first_token_s > 0 else 0.0

    @property
    def tokens_per_cpu_s(self) -> float:
        """Prompt + generated tokens per CPU-second of the serving process: unlike wall-clock
        rates, barely moved by other work time-sharing the core."""
        return (self.prompt_tokens + self.completion_tokens) / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def generation_tps(self) -> float:
        """Generated tokens per second between the first and the last token."""
        intervals = self.completion_tokens - 1
        return intervals / self.generation_s if self.generation_s > 0 and intervals > 0 else 0.0


class DirectEngines:
    """bench/local_direct.py as a pinned child process, one JSON line each way per command."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self.threads = int(self._answer()["threads"])

    def _answer(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the direct engine process ended early")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        return self._answer()


@contextmanager
def direct_engines(cpus: str | None) -> Iterator[DirectEngines]:
    """Start the direct engines (pinned like the gateway); always stop them."""
    command = taskset(cpus, [sys.executable, str(BENCH_DIR / "local_direct.py")])
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield DirectEngines(process)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        stop(process)


def _post(base_url: str, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port,
                                            timeout=REQUEST_TIMEOUT_S)
    connection.request("POST", url.path + path, body=json.dumps(body),
                       headers={"content-type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {response.read()[:500]!r}")
    return response


def gateway_generation(base_url: str, prompt: str, max_tokens: int, pid: int) -> Generation:
    """Stream one completion through the gateway, stamping each content chunk on arrival;
    ``pid``'s process tree (the gateway) is charged the CPU time spent meanwhile."""
    body = {"model": CHAT_MODEL, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
            "seed": 1, "stream": True, "stream_options": {"include_usage": True}}
    cpu_started = cpu_time.tree_cpu_s(pid)
    started = time.perf_counter()
    response = _post(base_url, "/v1/completions", body)
    stamps: list[float] = []
    usage: dict[str, int] | None = None
    try:
        while line := response.readline():
            if not line.startswith(b"data: {"):
                continue
            chunk = json.loads(line[6:])
            if any(choice.get("text") for choice in chunk.get("choices", ())):
                stamps.append(time.perf_counter())
            if chunk.get("usage"):
                usage = chunk["usage"]
    finally:
        response.close()
    cpu_s = cpu_time.tree_cpu_s(pid) - cpu_started
    if usage is None or not stamps:
        raise RuntimeError("the gateway's stream carried no usage or no text")
    return Generation(usage["prompt_tokens"], usage["completion_tokens"], stamps[0] - started,
                      stamps[-1] - stamps[0], cpu_s)


def gateway_embeddings(base_url: str, texts: list[str], repeat: int) -> float:
    """Embeddings per second through the gateway, one batch of ``texts`` per request."""
    started = time.perf_counter()
    for _ in range(repeat):
        response = _post(base_url, "/v1/embeddings", {"model": EMBEDDING_MODEL, "input": texts})
        answer = json.loads(response.read())
        response.close()
        if len(answer["data"]) != len(texts):
            raise RuntimeError("the gateway returned the wrong number of embeddings")
    return len(texts) * repeat / (time.perf_counter() - started)


def _median_ratio(gateway: list[float], direct: list[float]) -> dict[str, float]:
    g, d = statistics.median(gateway), statistics.median(direct)
    return {"gateway": round(g, 1), "direct": round(d, 1), "ratio": round(g / d, 3) if d else 0.0}


def run_local(base_url: str, *, pid: int, cpus: str | None, rounds: int,
              embeddings: bool) -> dict[str, Any]:
    """Warm both sides, then ``rounds`` alternating gateway/direct runs; medians and ratios."""
    with direct_engines(cpus) as direct:
        gateway_generation(base_url, PROMPT, 8, pid)  # loads the gateway's model
        direct.ask({"op": "generate", "prompt": PROMPT, "max_tokens": 8})
        runs: dict[str, list[Generation]] = {"gateway": [], "direct": []}
        for round_index in range(rounds):
            order = ("gateway", "direct") if round_index % 2 == 0 else ("direct", "gateway")
            for side in order:
                if side == "gateway":
                    runs[side].append(gateway_generation(base_url, PROMPT, MAX_TOKENS, pid))
                else:
                    runs[side].append(Generation(**direct.ask(
                        {"op": "generate", "prompt": PROMPT, "max_tokens": MAX_TOKENS})))
        result: dict[str, Any] = {
            "threads": direct.threads, "rounds": rounds, "max_tokens": MAX_TOKENS,
            "prompt_tokens": {side: [g.prompt_tokens for g in gens] for side, gens in runs.items()},
            "completion_tokens": {side: [g.completion_tokens for g in gens]
                                  for side, gens in runs.items()},
            "generation_tps": _median_ratio([g.generation_tps for g in runs["gateway"]],
                                            [g.generation_tps for g in runs["direct"]]),
            "prompt_tps": _median_ratio([g.prompt_tps for g in runs["gateway"]],
                                        [g.prompt_tps for g in runs["direct"]]),
            "tokens_per_cpu_s": _median_ratio([g.tokens_per_cpu_s for g in runs["gateway"]],
                                              [g.tokens_per_cpu_s for g in runs["direct"]]),
            "runs": {side: [vars_of(g) for g in gens] for side, gens in runs.items()},
        }
        counts = {n for values in result["prompt_tokens"].values() for n in values}
        outs = {n for values in result["completion_tokens"].values() for n in values}
        result["same_tokens"] = len(counts) == 1 and outs == {MAX_TOKENS}
        if embeddings:
            result["embeddings_per_s"] = _embedding_rounds(base_url, direct, rounds)
    return result


def _embedding_rounds(base_url: str, direct: DirectEngines, rounds: int) -> dict[str, float]:
    gateway_embeddings(base_url, EMBED_TEXTS, 1)  # loads the gateway's model
    direct.ask({"op": "embed", "texts": EMBED_TEXTS, "repeat": 1})
    via: list[float] = []
    own: list[float] = []
    for _ in range(rounds):
        via.append(gateway_embeddings(base_url, EMBED_TEXTS, EMBED_REPEAT))
        answer = direct.ask({"op": "embed", "texts": EMBED_TEXTS, "repeat": EMBED_REPEAT})
        own.append(answer["embeddings"] / answer["seconds"])
    return _median_ratio(via, own)


def vars_of(generation: Generation) -> dict[str, float]:
    """A Generation as JSON-ready numbers, with its rates."""
    return {"prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "first_token_s": round(generation.first_token_s, 4),
            "generation_s": round(generation.generation_s, 4),
            "prompt_tps": round(generation.prompt_tps, 1),
            "generation_tps": round(generation.generation_tps, 1),
            "cpu_s": round(generation.cpu_s, 3),
            "tokens_per_cpu_s": round(generation.tokens_per_cpu_s, 1)}

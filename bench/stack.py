"""The processes under test: the fake upstream and the gateway's configuration.

The fake upstream runs as its own process (not a thread of the benchmark), so its CPU is
its own and it can be pinned like the others. Every child is started here and stopped in a
``finally``: a benchmark that leaks a server would poison the next run's figures.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

UPSTREAM_KEY = "sk-test"
UPSTREAM_KEY_ENV = "BENCH_UPSTREAM_KEY"
REMOTE_MODEL = "gpt-4o-mini"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class FakeProcess:
    """A running fake upstream: its base URL and its process (for CPU accounting)."""

    base_url: str
    process: subprocess.Popen[str]

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"


def taskset(cpus: str | None, command: list[str]) -> list[str]:
    """``command`` pinned to ``cpus`` (a taskset list such as "1" or "0,1"); None: unpinned."""
    return command if cpus is None else ["taskset", "-c", cpus, *command]


@contextlib.contextmanager
def fake_upstream(cpus: str | None) -> Iterator[FakeProcess]:
    """Start ``python -m tenantgate.testing.fake_upstream`` on loopback; always stop it.

    The request log is kept tiny (``--max-recorded 1``): recording every request of a load
    run would only grow the fake's memory and cost.
    """
    command = taskset(cpus, [sys.executable, "-m", "tenantgate.testing.fake_upstream", "--port",
                             "0", "--api-key", UPSTREAM_KEY, "--max-recorded", "1"])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        base_url = _first_line(process)
        yield FakeProcess(base_url, process)
    finally:
        stop(process)


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=START_TIMEOUT_S):
            raise TimeoutError("the fake upstream did not print its URL in time")
    line = process.stdout.readline().strip()
    if not line.startswith("http://127.0.0.1:"):
        raise RuntimeError(f"the fake upstream did not start (printed {line!r})")
    return line


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, wait a little, then SIGKILL: the child is gone when this returns."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def gateway_config(fake: FakeProcess) -> dict[str, Any]:
    """Production defaults (JSON access log on, auth as shipped, local models lazy) plus one
    ``openai`` model on the fake. Logging goes to the gateway's stdout, which
    gateway_process writes to a file, as a container runtime would collect it.
    """
    return {
        "models": [{
            "name": REMOTE_MODEL,
            "deployments": [{"provider": "openai", "base_url": fake.openai_base_url,
                             "model": REMOTE_MODEL, "credential_env": UPSTREAM_KEY_ENV}],
        }],
    }


def gateway_env() -> dict[str, str]:
    """The environment the gateway adds to ours: the upstream credential it references."""
    return {UPSTREAM_KEY_ENV: UPSTREAM_KEY}

"""Run a real ``tenantgate serve`` in a subprocess on loopback, for tests and the benchmark.

The gateway is exercised exactly as operators run it: the CLI, a settings file, the
environment, real HTTP. The process is stopped (and waited for) when the context exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

READY_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class RunningGateway:
    """A gateway process: where it listens and how to reach its logs."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def run_gateway(
    config: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    workdir: Path | None = None,
    cpu: int | None = None,
) -> Iterator[RunningGateway]:
    """Write ``config`` to a YAML file, start ``tenantgate serve`` on it, wait until ready.

    ``cpu`` pins the process to one core (``taskset``), as the benchmark does. A temporary
    ``workdir`` made here is removed afterwards; a given one is left for inspection.
    """
    directory = workdir or Path(tempfile.mkdtemp(prefix="tenantgate-"))
    port = free_port()
    settings = dict(config)
    settings.setdefault("storage", {"url": f"sqlite+aiosqlite:///{directory / 'tenantgate.db'}"})
    config_path = directory / "tenantgate.yaml"
    config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    log_path = directory / "gateway.log"
    command = [
        sys.executable,
        "-m",
        "tenantgate",
        "serve",
        "--config",
        str(config_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=directory,
        )
    gateway = RunningGateway(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_ready(gateway)
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if workdir is None:  # ours to remove: the config, the log and the SQLite file
            shutil.rmtree(directory, ignore_errors=True)


def _wait_ready(gateway: RunningGateway) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"gateway exited at start-up:\n{gateway.logs()[-4000:]}")
        try:
            with urllib.request.urlopen(gateway.base_url + "/readyz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"gateway not ready after {READY_TIMEOUT_S}s:\n{gateway.logs()[-4000:]}")

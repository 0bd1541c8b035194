"""A loopback HTTP server that speaks the upstream providers' wire formats, with scripted faults.

The gateway's tests and the benchmark use it as the upstream: it answers deterministically
(see ``_fake_reply``), records every request, and misbehaves on demand (see ``Fault``).  It
only ever binds 127.0.0.1.  Base URLs for each flavour, given ``fake = FakeUpstream()``:

* OpenAI / OpenAI-compatible: ``fake.openai_base_url`` (``base_url + "/v1"``)
* Azure OpenAI: ``fake.azure_endpoint`` (``base_url``; deployments and ``/openai/v1`` below it)
* OCI Generative AI service endpoint: ``fake.oci_endpoint`` (``base_url + "/oci"``), with
  the OpenAI-compatible API at ``fake.oci_openai_base_url`` (``+ "/oci/openai/v1"``) and the
  native API at ``+ "/oci/20231130/actions/..."``

Faults (``Fault(kind=..., ...)`` in Python, the same fields as JSON for ``POST
/_fake/faults``; see ``Fault`` for the fields): ``rate_limit`` (429, ``retry_after_s`` adds
``Retry-After``/``retry-after-ms``), ``status`` (any ``status``), ``reset_before_headers``,
``cut_stream_after`` (``after_chunks``), ``missing_usage``, ``missing_done``,
``malformed_chunk`` (``after_chunks``), ``stall_before_headers`` (``seconds``),
``stall_after_chunks`` (``after_chunks``, ``seconds``), ``slow_first_token`` (``seconds``).
A model or Azure deployment named ``fault-503``, ``fault-stall-2``, ``fault-cut-3``, ... gets
its fault on every request.

Run as a process for the benchmark::

    python -m tenantgate.testing.fake_upstream --port 0 --api-key sk-test

The first stdout line is the base URL; SIGINT or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import signal
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType

from aiohttp import web

from tenantgate.testing._fake_faults import Fault, FaultKind, FaultQueue
from tenantgate.testing._fake_flavours import AuthConfig
from tenantgate.testing._fake_oci_signing import PublicKeyInput, load_public_keys
from tenantgate.testing._fake_recording import RecordedRequest, Recorder
from tenantgate.testing._fake_reply import Responder, default_responder
from tenantgate.testing._fake_server import ServerState, build_app

__all__ = ["FakeUpstream", "Fault", "FaultKind", "RecordedRequest", "Responder", "main"]

HOST = "127.0.0.1"
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")


class FakeUpstream:
    """A provider-flavoured HTTP server on loopback, run on its own thread and event loop.

    ``api_keys`` are the OpenAI bearer keys; the Azure key/token sets and OCI API keys default
    to the same keys.  An empty collection accepts any credential of that kind.
    ``oci_public_keys`` maps an OCI keyId (``tenancy/user/fingerprint``) to a PEM public key;
    when given, OCI request signatures are verified.  ``azure_model_names`` maps an Azure
    deployment to the model name its responses report.  ``model_faults`` maps model names to
    faults applied to every request for that model (``fault-…`` names work without it).
    ``token_delay_s`` paces streamed chunks.  ``max_recorded`` bounds the request log.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = ("sk-test",),
        azure_api_keys: Iterable[str] | None = None,
        azure_entra_tokens: Iterable[str] | None = None,
        oci_api_keys: Iterable[str] | None = None,
        oci_public_keys: Mapping[str, PublicKeyInput] | None = None,
        azure_model_names: Mapping[str, str] | None = None,
        azure_content_filter: bool = True,
        models: Sequence[str] = DEFAULT_MODELS,
        model_faults: Mapping[str, Fault] | None = None,
        responder: Responder = default_responder,
        token_delay_s: float = 0.0,
        port: int = 0,
        max_recorded: int | None = 10_000,
    ) -> None:
        keys = frozenset(api_keys)
        self._auth = AuthConfig(
            api_keys=keys,
            azure_api_keys=keys if azure_api_keys is None else frozenset(azure_api_keys),
            azure_entra_tokens=keys
            if azure_entra_tokens is None
            else frozenset(azure_entra_tokens),
            oci_api_keys=keys if oci_api_keys is None else frozenset(oci_api_keys),
            oci_public_keys=load_public_keys(oci_public_keys or {}),
        )
        self._faults = FaultQueue(model_faults)
        self._recorder = Recorder(max_recorded)
        self._state = ServerState(
            auth=self._auth,
            responder=responder,
            models=tuple(models),
            azure_model_names=dict(azure_model_names or {}),
            azure_content_filter=azure_content_filter,
            token_delay_s=token_delay_s,
            faults=self._faults,
            recorder=self._recorder,
        )
        self._requested_port = port
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # Lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        """Start serving on a background thread; returns once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("FakeUpstream is already running")
        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._run, args=(loop, started), name="fake-upstream", daemon=True
        )
        thread.start()
        try:
            self._port = started.result(timeout=30)
        except BaseException:
            thread.join(timeout=10)
            raise
        self._loop, self._thread = loop, thread
        return self

    def _run(
        self, loop: asyncio.AbstractEventLoop, started: concurrent.futures.Future[int]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            port = loop.run_until_complete(self._serve())
        except BaseException as error:
            started.set_exception(error)
            loop.close()
            return
        started.set_result(port)
        loop.run_forever()
        # Handlers still stalled past the runner's shutdown timeout are cancelled and awaited,
        # so closing the loop leaves no pending task behind.
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _serve(self) -> int:
        runner = web.AppRunner(build_app(self._state), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, HOST, self._requested_port, backlog=1024)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port: int = runner.addresses[0][1]
        return port

    def stop(self) -> None:
        """Stop serving, cancelling in-flight (e.g. stalled) requests, and join the thread."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = self._runner = None
        self._port = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("FakeUpstream is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://{HOST}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for the OpenAI flavour (what the ``openai`` SDK calls ``base_url``)."""
        return self.base_url + "/v1"

    @property
    def azure_endpoint(self) -> str:
        """Azure OpenAI resource endpoint (``azure_endpoint`` in the ``openai`` SDK)."""
        return self.base_url

    @property
    def oci_endpoint(self) -> str:
        """OCI Generative AI inference service endpoint (the SDK's ``service_endpoint``)."""
        return self.base_url + "/oci"

    @property
    def oci_openai_base_url(self) -> str:
        """OCI's OpenAI-compatible base URL (``<service endpoint>/openai/v1``)."""
        return self.oci_endpoint + "/openai/v1"

    # Faults and records ----------------------------------------------------------------

    def enqueue(self, *faults: Fault) -> None:
        """Queue faults for upcoming requests (FIFO, each taken by the first matching request)."""
        self._faults.enqueue(faults)

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults queued but not yet taken."""
        return self._faults.pending

    @property
    def received(self) -> list[RecordedRequest]:
        """Every recorded request, oldest first (a snapshot)."""
        return self._recorder.snapshot()

    def reset(self) -> None:
        """Forget recorded requests and drop pending faults."""
        self._faults.clear()
        self._recorder.clear()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake as a process; prints its base URL as the first stdout line."""
    parser = argparse.ArgumentParser(prog="python -m tenantgate.testing.fake_upstream")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument("--api-key", action="append", default=[], help="accepted key (repeatable)")
    parser.add_argument("--token-delay-s", type=float, default=0.0, help="pause between chunks")
    parser.add_argument("--max-recorded", type=int, default=10_000, help="request log bound")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    fake = FakeUpstream(
        api_keys=args.api_key or ("sk-test",),
        port=args.port,
        token_delay_s=args.token_delay_s,
        max_recorded=args.max_recorded,
    )
    with fake:
        sys.stdout.write(fake.base_url + "\n")
        sys.stdout.flush()
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

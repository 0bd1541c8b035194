"""The HTTP transport: the one place upstream bytes are sent and transport errors are mapped.

One pooled HTTP/1.1 client (``_http1_client``, an asyncio protocol on httptools) serves every
HTTP deployment: in a client-side microbenchmark it cost ~100 µs of CPU per request against
aiohttp's ~300 µs, and aiohttp's client had been ~40% of the gateway's event loop. Foreign
exceptions become our types here, by type, most specific first (like httpx's
``map_httpcore_exceptions``), so failover logic never inspects the client.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from tenantgate import __version__
from tenantgate.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from tenantgate.providers._http1_client import (
    ConnectError,
    Http1Client,
    Http1Response,
    HttpClientError,
    RequestProgress,
)
from tenantgate.providers.base import UpstreamRequest, UpstreamResponse
from tenantgate.settings import UpstreamSettings, UpstreamTimeouts

USER_AGENT = f"tenantgate/{__version__}"
_DEFAULT_HEADERS = {"user-agent": USER_AGENT, "accept": "*/*", "accept-encoding": "gzip, deflate"}
_KEEPALIVE_S = 30.0
# After a stream's answer is complete, how long and how much to read for the rest of the body
# (usually just the chunked terminator, often a moment after `[DONE]`) before pooling the
# connection instead of closing it.
_DRAIN_S = 1.0
_DRAIN_BYTES_MAX = 64 * 1024


def _upstream_error(exc: Exception, phase: str) -> UpstreamError | None:
    """Our error for a client/asyncio failure, most specific type first; None if not ours to map."""
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"The upstream timed out ({phase}).")
    if isinstance(exc, ConnectError):
        return UpstreamUnavailable(f"Could not connect to the upstream ({phase}).")
    if isinstance(exc, (HttpClientError, ConnectionError)):
        return UpstreamUnavailable(f"The upstream connection failed ({phase}: {type(exc).__name__}).")
    return None


@contextmanager
def mapped_transport_errors(phase: str) -> Iterator[None]:
    """Translate client/asyncio failures into UpstreamTimeout / UpstreamUnavailable."""
    try:
        yield
    except Exception as exc:
        mapped = _upstream_error(exc, phase)
        if mapped is None:
            raise
        raise mapped from exc


class UpstreamStream:
    """An open streaming response: its status and headers, then body chunks as they arrive."""

    __slots__ = ("_deadline", "_idle_s", "_response", "headers", "status")

    def __init__(self, response: Http1Response, idle_s: float, deadline: float) -> None:
        self._response = response
        self._idle_s = idle_s
        self._deadline = deadline
        self.status = response.status
        self.headers = response.headers

    def _wait_until(self) -> float:
        return min(self._deadline, asyncio.get_running_loop().time() + self._idle_s)

    async def read_all(self) -> bytes:
        """The whole body (used for error answers)."""
        with mapped_transport_errors("reading error body"):
            async with asyncio.timeout_at(self._wait_until()):
                return await self._response.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; a gap longer than the idle timeout raises UpstreamTimeout."""
        response = self._response
        while True:
            try:
                chunk = response.read_nowait()
                if chunk is None:
                    async with asyncio.timeout_at(self._wait_until()):
                        chunk = await response.read_chunk()
            except Exception as exc:
                mapped = _upstream_error(exc, "streaming")
                if mapped is None:
                    raise
                raise mapped from exc
            if not chunk:
                return
            yield chunk


class HttpTransport:
    """A pooled HTTP/1.1 client shared by every HTTP deployment of the process.

    ``ssl_context`` replaces the default one (system CA store, hostname check); tests use it
    to trust their own certificate authority.
    """

    def __init__(self, settings: UpstreamSettings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._settings = settings
        self._ssl_context = ssl_context
        self._client: Http1Client | None = None
        self._draining: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._client = Http1Client(
            connections_max=self._settings.connections_max,
            connections_per_host_max=self._settings.connections_per_host_max,
            default_headers=_DEFAULT_HEADERS,
            keepalive_s=_KEEPALIVE_S,
            ssl_context=self._ssl_context,
        )

    async def aclose(self) -> None:
        for task in list(self._draining):
            task.cancel()
        if self._draining:
            await asyncio.gather(*self._draining, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> Http1Client:
        if self._client is None:
            raise RuntimeError("HttpTransport.start() was not awaited")
        return self._client

    async def _open(
        self, request: UpstreamRequest, timeouts: UpstreamTimeouts, deadline: float
    ) -> Http1Response:
        """Send and wait for the headers, within the first-byte (and total) deadline.

        A wait that runs out after the request was sent is an ``accepted`` timeout: the
        upstream may be generating (and billing) an answer nobody will read.
        """
        loop = asyncio.get_running_loop()
        progress = RequestProgress()
        try:
            with mapped_transport_errors("request"):
                async with asyncio.timeout_at(
                    min(deadline, loop.time() + timeouts.first_byte_timeout_ms / 1000)
                ):
                    return await self.client.request(
                        request.method,
                        request.url,
                        request.headers,
                        request.body,
                        connect_timeout_s=timeouts.connect_timeout_ms / 1000,
                        progress=progress,
                    )
        except UpstreamTimeout as timeout:
            raise (timeout.accepted() if progress.sent else timeout) from timeout.__cause__

    async def send(self, request: UpstreamRequest, timeouts: UpstreamTimeouts) -> UpstreamResponse:
        """Send a request and read the whole answer, within the first-byte and idle deadlines."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.total_timeout_ms / 1000
        response = await self._open(request, timeouts, deadline)
        try:
            with mapped_transport_errors("reading the answer"):
                body = response.read_nowait()  # usually the whole body came with the headers
                if body is None or not response.at_eof:
                    idle_until = min(deadline, loop.time() + timeouts.idle_timeout_ms / 1000)
                    async with asyncio.timeout_at(idle_until):
                        rest = await response.read()
                    body = rest if body is None else body + rest
        except UpstreamError as error:
            raise (error.accepted() if response.status < 300 else error) from error.__cause__
        finally:
            response.release()
        return UpstreamResponse(status=response.status, headers=response.headers, body=body)

    @asynccontextmanager
    async def stream(
        self, request: UpstreamRequest, timeouts: UpstreamTimeouts
    ) -> AsyncIterator[UpstreamStream]:
        """Open a streaming request; leaving the block early aborts the upstream connection."""
        deadline = asyncio.get_running_loop().time() + timeouts.total_timeout_ms / 1000
        response = await self._open(request, timeouts, deadline)
        try:
            yield UpstreamStream(response, timeouts.idle_timeout_ms / 1000, deadline)
        except BaseException:
            response.release()  # unread to the end: closed, which cancels the upstream generation
            raise
        if response.at_eof:
            response.release()
        else:  # the caller has the whole answer; the body's last bytes may still be in flight
            task = asyncio.create_task(_drain_then_release(response))
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)


async def _drain_then_release(response: Http1Response) -> None:
    """Read what is left of a finished stream's body (bounded), so its connection can be reused.

    Runs in the background: the client already has its answer. Whatever goes wrong, the
    release closes a connection that is not at the end of its body.
    """
    read = 0
    try:
        async with asyncio.timeout(_DRAIN_S):
            while not response.at_eof and read <= _DRAIN_BYTES_MAX:
                chunk = await response.read_chunk()
                if not chunk:
                    break
                read += len(chunk)
    except (TimeoutError, HttpClientError, OSError):
        pass
    finally:
        response.release()

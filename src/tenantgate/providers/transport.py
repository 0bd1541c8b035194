"""The HTTP transport: the one place upstream bytes are sent and transport errors are mapped.

One pooled aiohttp session serves every HTTP deployment (aiohttp measured clearly cheaper
per request than httpx, see docs/performance.md). Foreign exceptions become our types here,
by type, most specific first (like httpx's ``map_httpcore_exceptions``), so failover logic
never inspects aiohttp.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import aiohttp

from tenantgate import __version__
from tenantgate.errors import UpstreamTimeout, UpstreamUnavailable
from tenantgate.providers.base import UpstreamRequest, UpstreamResponse
from tenantgate.settings import UpstreamSettings, UpstreamTimeouts

USER_AGENT = f"tenantgate/{__version__}"
_STREAM_READ_BYTES = 64 * 1024


@contextmanager
def mapped_transport_errors(phase: str) -> Iterator[None]:
    """Translate aiohttp/asyncio failures into UpstreamTimeout / UpstreamUnavailable."""
    try:
        yield
    except TimeoutError as exc:
        raise UpstreamTimeout(f"The upstream timed out ({phase}).") from exc
    except aiohttp.ServerTimeoutError as exc:
        raise UpstreamTimeout(f"The upstream timed out ({phase}).") from exc
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnavailable(f"Could not connect to the upstream ({phase}).") from exc
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise UpstreamUnavailable(
            f"The upstream connection failed ({phase}: {type(exc).__name__})."
        ) from exc


class UpstreamStream:
    """An open streaming response: its status and headers, then body chunks as they arrive."""

    __slots__ = ("_idle_s", "_response", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, idle_s: float) -> None:
        self._response = response
        self._idle_s = idle_s
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.headers.items()}

    async def read_all(self) -> bytes:
        """The whole body (used for error answers)."""
        with mapped_transport_errors("reading error body"):
            async with asyncio.timeout(self._idle_s):
                return await self._response.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; a gap longer than the idle timeout raises UpstreamTimeout."""
        content = self._response.content
        while True:
            with mapped_transport_errors("streaming"):
                async with asyncio.timeout(self._idle_s):
                    chunk = await content.readany()
            if not chunk:
                return
            yield chunk


class HttpTransport:
    """A pooled HTTP/1.1 client shared by every HTTP deployment of the process."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self._settings = settings
        self._client_timeouts: dict[tuple[int, int], aiohttp.ClientTimeout] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._settings.connections_max,
            limit_per_host=self._settings.connections_per_host_max,
            ttl_dns_cache=300,
            keepalive_timeout=30,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            headers={"user-agent": USER_AGENT},
            # One session serves every tenant: an upstream's cookies must never ride along on
            # another caller's request (and not filtering a jar per request is cheaper).
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            raise_for_status=False,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _timeout(self, timeouts: UpstreamTimeouts) -> aiohttp.ClientTimeout:
        """aiohttp's timeout for these deadlines, built once per distinct setting."""
        key = (timeouts.total_timeout_ms, timeouts.connect_timeout_ms)
        timeout = self._client_timeouts.get(key)
        if timeout is None:
            timeout = self._client_timeouts[key] = aiohttp.ClientTimeout(
                total=timeouts.total_timeout_ms / 1000,
                connect=timeouts.connect_timeout_ms / 1000,
                sock_connect=timeouts.connect_timeout_ms / 1000,
            )
        return timeout

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("HttpTransport.start() was not awaited")
        return self._session

    async def send(self, request: UpstreamRequest, timeouts: UpstreamTimeouts) -> UpstreamResponse:
        """Send a request and read the whole answer, within the first-byte and idle deadlines."""
        with mapped_transport_errors("request"):
            async with asyncio.timeout(timeouts.first_byte_timeout_ms / 1000):
                response = await self.session.request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=request.headers,
                    timeout=self._timeout(timeouts),
                    allow_redirects=False,
                )
            try:
                async with asyncio.timeout(timeouts.idle_timeout_ms / 1000):
                    body = await response.read()
            finally:
                response.release()
        return UpstreamResponse(
            status=response.status,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=body,
        )

    @asynccontextmanager
    async def stream(
        self, request: UpstreamRequest, timeouts: UpstreamTimeouts
    ) -> AsyncIterator[UpstreamStream]:
        """Open a streaming request; leaving the block early aborts the upstream connection."""
        with mapped_transport_errors("opening stream"):
            async with asyncio.timeout(timeouts.first_byte_timeout_ms / 1000):
                response = await self.session.request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=request.headers,
                    timeout=self._timeout(timeouts),
                    allow_redirects=False,
                )
        try:
            yield UpstreamStream(response, timeouts.idle_timeout_ms / 1000)
        finally:
            if response.content.at_eof():
                response.release()
            else:
                response.close()  # abandon the connection: cancels the upstream generation

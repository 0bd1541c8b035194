"""One upstream HTTP/1.1 connection: an asyncio protocol that llhttp (httptools) parses for.

It carries one exchange at a time (no pipelining). Body bytes are buffered as they arrive and
reading pauses when a slow consumer lets more than a bounded amount pile up. The server's
end of the connection completes a read-until-close body and fails any other unfinished one.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Callable
from typing import cast

import httptools

from tenantgate.providers._http1_pool import PoolKey

_BUFFER_HIGH_BYTES = 256 * 1024  # stream bytes held before reading from the socket pauses


class HttpClientError(Exception):
    """Base of the client's own failures; the transport maps them to our error types."""


class ConnectError(HttpClientError):
    """No connection could be opened (refused, unreachable, DNS, TLS handshake or certificate)."""


class ServerDisconnected(HttpClientError):
    """The server closed or reset the connection before the response was complete."""


class ProtocolError(HttpClientError):
    """The server's bytes are not a valid HTTP/1.1 response, or its body does not decode."""


class InvalidRequest(HttpClientError, ValueError):
    """The URL or a header cannot be sent (unsupported scheme, CR/LF in a header)."""


class Connection(asyncio.Protocol):
    """One keep-alive connection, carrying one request at a time; llhttp calls the on_* methods."""

    __slots__ = (
        "_buffered", "_chunks", "_closed", "_data_waiter", "_decoder", "_exc", "_head_waiter",
        "_headers_done", "_keep_alive", "_on_lost", "_parser", "_paused", "_transport",
        "_until_close", "active", "complete", "got_bytes", "headers", "idle_since", "key", "reused",
        "status",
    )

    def __init__(self, key: PoolKey, on_lost: Callable[[Connection], None]) -> None:
        self.key = key
        self.idle_since = 0.0
        self.reused = False
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._closed = False
        self._reset(active=False)

    def _reset(self, *, active: bool) -> None:
        self.active = active
        self.got_bytes = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.complete = False
        self._headers_done = False
        self._keep_alive = False
        self._until_close = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._exc: HttpClientError | None = None
        self._head_waiter: asyncio.Future[None] | None = None
        self._data_waiter: asyncio.Future[None] | None = None
        self._decoder: _Decoder | None = None
        self._paused = False

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.active or self.complete:  # bytes nobody asked for: the connection is spoilt
            self._keep_alive = False
            self.abort()
            return
        self.got_bytes = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(ProtocolError(f"invalid HTTP response ({exc})"), exc)
            self.abort()

    def eof_received(self) -> bool:
        self._end_of_stream(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._end_of_stream(exc)
        self._on_lost(self)

    def _end_of_stream(self, exc: Exception | None) -> None:
        if not self.active or self.complete:
            return
        if exc is None and self._headers_done and self._until_close:
            self._finish()  # a body delimited by the connection's end is now whole
        else:
            self._fail(ServerDisconnected("the server closed the connection"), exc)

    # --- llhttp callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer to one request: refuse it (data_received aborts)
            raise ProtocolError("unexpected bytes after the response")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("utf-8", "surrogateescape").lower()] = value.decode(
            "utf-8", "surrogateescape"
        )

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # an interim answer (100 Continue); the real one follows
            self.headers = {}
            return
        self.status = status
        headers = self.headers
        self._keep_alive = self._parser.should_keep_alive()
        self._until_close = "content-length" not in headers and "transfer-encoding" not in headers
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "deflate", "x-gzip"):
            self._decoder = _Decoder(encoding)
        self._headers_done = True
        _wake(self._head_waiter)

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as exc:
                self._fail(ProtocolError("the response body does not decode"), exc)
                self.abort()
                return
        if body:
            self._push(body)

    def on_message_complete(self) -> None:
        if self.status == 0:
            return  # the end of an interim answer
        if self._decoder is not None:
            try:
                tail = self._decoder.flush()
            except zlib.error as exc:
                self._fail(ProtocolError("the response body does not decode"), exc)
                return
            if tail:
                self._push(tail)
        self._finish()

    # --- used by the client -----------------------------------------------------------------

    def _push(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        _wake(self._data_waiter)
        if not self._paused and self._buffered > _BUFFER_HIGH_BYTES:
            self._paused = True
            if self._transport is not None:
                self._transport.pause_reading()

    def _finish(self) -> None:
        self.complete = True
        _wake(self._data_waiter)
        _wake(self._head_waiter)

    def _fail(self, error: HttpClientError, cause: BaseException | None) -> None:
        if self.complete:
            self._keep_alive = False
            return
        if self._exc is None:
            error.__cause__ = cause
            self._exc = error
        _wake(self._head_waiter)
        _wake(self._data_waiter)

    def is_reusable(self) -> bool:
        return not self._closed and self._transport is not None and not self._transport.is_closing()

    def abort(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.abort()

    def send(self, data: bytes) -> None:
        """Start one exchange: write the whole request."""
        self._reset(active=True)
        if not self.is_reusable() or self._transport is None:
            raise ServerDisconnected("the server closed the connection")
        self._transport.write(data)

    async def wait_headers(self) -> None:
        if not self._headers_done and self._exc is None and not self.complete:
            self._head_waiter = asyncio.get_running_loop().create_future()
            await self._head_waiter
        if self._exc is not None:
            raise self._exc
        if not self._headers_done:
            raise ServerDisconnected("the server closed the connection before any response")

    def read_nowait(self) -> bytes | None:
        """Buffered body bytes; b"" at the end; None when the caller must wait."""
        chunks = self._chunks
        if chunks:
            data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._buffered = 0
            if self._paused and self._transport is not None:
                self._paused = False
                self._transport.resume_reading()
            return data
        if self._exc is not None:
            raise self._exc
        return b"" if self.complete else None

    async def wait_data(self) -> None:
        self._data_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._data_waiter
        finally:
            self._data_waiter = None

    def at_eof(self) -> bool:
        """Whether the body was read to its end."""
        return self.complete and not self._chunks

    def reusable_after_response(self) -> bool:
        return self.complete and self._keep_alive and self._exc is None and self.is_reusable()


class _Decoder:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), decided on the first bytes."""

    __slots__ = ("_encoding", "_zlib")

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._zlib: zlib._Decompress | None = (
            None if encoding == "deflate" else zlib.decompressobj(16 + zlib.MAX_WBITS)
        )

    def decompress(self, data: bytes) -> bytes:
        if self._zlib is None:
            raw = data[0] & 0x0F != 8  # not a zlib header: a bare deflate stream
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        return self._zlib.decompress(data)

    def flush(self) -> bytes:
        return self._zlib.flush() if self._zlib is not None else b""


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)

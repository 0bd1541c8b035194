"""Minimal HTTP primitives over raw ASGI: the request we read and the responses we send.

The gateway sits on every request of a company, so the OpenAI surface runs on plain ASGI
with no framework in between (measured: a framework's request/response objects cost more
per request than the whole of our own work here).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from tenantgate.errors import (
    InvalidRequest,
    RequestTimeout,
    RequestTooLarge,
    TenantgateError,
    UnsupportedMediaType,
)
from tenantgate.iam.principal import ANONYMOUS_CALLER, Caller

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_CONTENT_TYPE = b"application/json"
_REQUEST_ID_MAX = 128


def _new_request_id() -> str:
    return "req_" + os.urandom(12).hex()


def request_id_from(header: bytes | None) -> str:
    """Reuse a caller's well-formed ``x-request-id`` (for tracing across hops), else mint one."""
    if header and len(header) <= _REQUEST_ID_MAX:
        text = header.decode("latin-1")
        if text.replace("-", "").replace("_", "").replace(".", "").isalnum():
            return text
    return _new_request_id()


@dataclass(slots=True)
class ApiRequest:
    """An incoming request: method, path, query string, selected headers and (once read) the body."""

    method: str
    path: str
    headers: dict[bytes, bytes]
    receive: Receive
    request_id: str
    client_host: str | None
    body: bytes = b""
    caller: Caller = ANONYMOUS_CALLER
    query_string: bytes = b""
    """The raw query string (ASGI ``query_string``): parsed only by the routes that read one."""

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None


@dataclass(slots=True)
class JsonResponse:
    """A complete JSON (or other) body."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    content_type: bytes = JSON_CONTENT_TYPE


@dataclass(slots=True)
class StreamResponse:
    """A Server-Sent Events body produced frame by frame."""

    frames: AsyncIterator[bytes]
    on_close: Callable[[], None] | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


ApiResponse = JsonResponse | StreamResponse


async def read_body(request: ApiRequest, *, max_bytes: int, timeout_s: float) -> bytes:
    """Read the whole body within ``timeout_s`` (slowloris) and ``max_bytes`` (413)."""
    content_type = request.headers.get(b"content-type")
    if content_type is not None and not _is_json(content_type):
        raise UnsupportedMediaType()
    declared = request.headers.get(b"content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise RequestTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
        except ValueError as exc:
            raise InvalidRequest("Invalid Content-Length header.") from exc
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected()
                chunk = message.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > max_bytes:
                        raise RequestTooLarge(
                            f"The request body exceeds the limit of {max_bytes} bytes."
                        )
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError as exc:
        raise RequestTimeout() from exc
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _is_json(content_type: bytes) -> bool:
    """Lenient on purpose: clients such as ``curl -d`` omit or mislabel JSON bodies, and the
    body is parsed as JSON either way; only multipart uploads are certainly something else."""
    return not content_type.lower().startswith(b"multipart/")


class ClientDisconnected(Exception):
    """The client went away before the response was sent; nothing is answered."""


def error_response(error: TenantgateError) -> JsonResponse:
    """The OpenAI-shaped error body with its status and, when known, Retry-After."""
    import msgspec

    headers: list[tuple[bytes, bytes]] = []
    if error.retry_after_s is not None:
        # Rounded up: a client told to come back earlier than the upstream asked is refused again.
        seconds = max(1, math.ceil(error.retry_after_s))
        headers.append((b"retry-after", str(seconds).encode()))
    if isinstance(error, RequestTooLarge | RequestTimeout):
        # The rest of the body was never read: the connection cannot carry another request.
        headers.append((b"connection", b"close"))
    return JsonResponse(error.status, msgspec.json.encode(error.to_body()), headers)

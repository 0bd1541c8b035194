"""A deployment reached over HTTP: an adapter (translation) + a signer (credentials) + the transport.

Every HTTP provider uses this one backend, so a new provider is only its adapter module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import Any

from tenantgate.errors import UpstreamBadResponse, UpstreamError, UpstreamStreamInterrupted
from tenantgate.providers.base import (
    Capabilities,
    DeploymentInfo,
    Operation,
    ProviderAdapter,
    Reply,
    RequestSigner,
    StreamDecoder,
    StreamPiece,
    UpstreamRequest,
    UpstreamResponse,
)
from tenantgate.providers.sse_parser import SseEvent, SseParser
from tenantgate.providers.transport import HttpTransport
from tenantgate.settings import UpstreamTimeouts


class HttpBackend:
    """Runs one attempt against one HTTP deployment."""

    def __init__(
        self,
        *,
        info: DeploymentInfo,
        adapter: ProviderAdapter,
        signer: RequestSigner,
        transport: HttpTransport,
        timeouts: UpstreamTimeouts,
    ) -> None:
        self.info = info
        self.adapter = adapter
        self.capabilities: Capabilities = adapter.capabilities
        self._signer = signer
        self._transport = transport
        self._timeouts = timeouts

    async def _signed(self, request: UpstreamRequest) -> UpstreamRequest:
        if self._signer.may_block:
            return await asyncio.to_thread(self._signer.sign, request)
        return self._signer.sign(request)

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Reply:
        request = await self._signed(self.adapter.build_request(operation, body, stream=False))
        response = await self._transport.send(request, self._timeouts)
        if response.status >= 300:
            raise self.adapter.map_error(response)
        try:
            return self.adapter.parse_response(operation, body, response)
        except UpstreamError as error:  # a 2xx the upstream did the work for, unusable to us
            raise error.accepted() from error.__cause__

    async def stream(self, operation: Operation, body: dict[str, Any]) -> AsyncGenerator[StreamPiece, None]:
        """Pieces of a streamed answer; a failure after a 2xx status is ``accepted`` (billable)."""
        request = await self._signed(self.adapter.build_request(operation, body, stream=True))
        async with self._transport.stream(request, self._timeouts) as upstream:
            if upstream.status >= 300:
                error_body = await upstream.read_all()
                raise self.adapter.map_error(
                    UpstreamResponse(status=upstream.status, headers=upstream.headers, body=error_body)
                )
            try:  # one generator, not two: every piece of every stream passes through here
                if not upstream.headers.get("content-type", "").startswith("text/event-stream"):
                    raise UpstreamBadResponse("The upstream did not answer with an event stream.")
                finished = 0
                decoder = self.adapter.stream_decoder(operation, body)
                parser = SseParser()
                chunks = upstream.chunks()
                while True:  # each upstream read, then what the parser still holds at the end
                    chunk = await anext(chunks, None)
                    read = _decode_read(parser.feed(chunk) if chunk is not None else parser.flush(), decoder)
                    for piece in read.pieces:
                        finished += piece.finished_choices
                        yield piece
                    if read.failure is not None:
                        raise read.failure
                    if read.done:
                        return
                    if chunk is None:
                        break
                if finished < _choices_expected(body):
                    raise UpstreamStreamInterrupted(
                        "The upstream closed the stream before the answer was complete."
                    )
                # Every choice finished but no [DONE]: the answer is whole, the upstream was sloppy.
            except UpstreamError as error:
                raise error.accepted() from error.__cause__

    async def aclose(self) -> None:
        """The transport is shared; nothing is held per deployment."""


@dataclass(slots=True)
class _DecodedRead:
    """The pieces of one upstream read, whether the stream ended in it, and what broke it."""

    pieces: list[StreamPiece]
    done: bool = False
    failure: UpstreamError | None = None


def _decode_read(events: Iterable[SseEvent], decoder: StreamDecoder) -> _DecodedRead:
    """Decode every event of one read, marking each piece but the last ``more_in_read``.

    A malformed event ends the read: the pieces before it still reach the client, then the
    failure does.
    """
    read = _DecodedRead([])
    try:
        for event in events:
            decoded = decoder.feed(event.data)
            read.pieces.extend(decoded.pieces)
            if decoded.done:
                read.done = True
                break
    except UpstreamError as failure:
        read.failure = failure
    for piece in read.pieces[:-1]:
        piece.more_in_read = True
    return read


def _choices_expected(body: dict[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and n > 0 else 1


"""Pieces that arrive in one upstream read reach the client in one write.

``_decode_read`` marks every piece of a read but the last ``more_in_read``, and keeps the
pieces before a malformed event; ``StreamSession.frames`` joins marked pieces into one frame
group, the stream's SSE events unchanged. A fake stream of pieces stands in for the backend:
what is asserted is the framing, not the transport (the SDK suites stream end to end).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from tenantgate.errors import UpstreamBadResponse, UpstreamStreamInterrupted
from tenantgate.pipeline import DONE_FRAME, InferenceCall, Outcome, StreamSession
from tenantgate.providers.base import Operation, StreamPiece, Usage
from tenantgate.providers.http_backend import _decode_read
from tenantgate.providers.openai_wire import OpenAIStreamDecoder
from tenantgate.providers.sse_parser import SseParser

CONTENT = b'{"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}],"usage":null}'
FINAL = b'{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}'
USAGE = b'{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}'


def sse(*payloads: bytes) -> bytes:
    return b"".join(b"data: " + payload + b"\n\n" for payload in payloads)


def test_every_piece_of_a_read_but_the_last_says_more_follows() -> None:
    read = _decode_read(SseParser().feed(sse(CONTENT % b"a", CONTENT % b"b", FINAL)),
                        OpenAIStreamDecoder())
    assert [p.more_in_read for p in read.pieces] == [True, True, False]
    assert not read.done
    assert read.failure is None


def test_a_read_that_ends_the_stream_stops_at_done() -> None:
    read = _decode_read(SseParser().feed(sse(FINAL, USAGE, b"[DONE]", CONTENT % b"late")),
                        OpenAIStreamDecoder())
    assert read.done
    assert [p.usage_only for p in read.pieces] == [False, True]  # nothing after [DONE]
    assert read.pieces[-1].more_in_read is False


def test_a_malformed_event_keeps_the_pieces_before_it() -> None:
    read = _decode_read(SseParser().feed(sse(CONTENT % b"a", CONTENT % b"b", b"{not json")),
                        OpenAIStreamDecoder())
    assert isinstance(read.failure, UpstreamBadResponse)
    assert [p.data for p in read.pieces] == [CONTENT % b"a", CONTENT % b"b"]
    assert read.pieces[-1].more_in_read is False  # sent before the failure is


def piece(text: str, *, more: bool, usage_only: bool = False) -> StreamPiece:
    data = USAGE if usage_only else CONTENT % text.encode()
    return StreamPiece(data, usage=Usage(3, 2) if usage_only else None, usage_only=usage_only,
                       more_in_read=more)


async def collect(pieces: list[StreamPiece | Exception], *, include_usage: bool) -> list[bytes]:
    async def upstream() -> AsyncGenerator[StreamPiece, None]:
        for item in pieces[1:]:
            if isinstance(item, Exception):
                raise item
            yield item

    first = pieces[0]
    assert isinstance(first, StreamPiece)
    call = InferenceCall(Operation.CHAT, "m", {"messages": []}, "req_1", stream=True,
                         include_usage=include_usage)
    session = StreamSession(call, first, upstream(), Outcome(), backend=None)  # type: ignore[arg-type]
    return [frame async for frame in session.frames()]


async def test_pieces_of_one_read_go_out_as_one_frame_group() -> None:
    frames = await collect([piece("a", more=True), piece("b", more=True), piece("c", more=False),
                            piece("d", more=False), piece("", more=False, usage_only=True)],
                           include_usage=True)
    assert frames == [sse(CONTENT % b"a", CONTENT % b"b", CONTENT % b"c"), sse(CONTENT % b"d"),
                      sse(USAGE), DONE_FRAME]


async def test_a_dropped_usage_chunk_still_ends_its_read() -> None:
    frames = await collect([piece("a", more=True), piece("", more=False, usage_only=True)],
                           include_usage=False)
    assert frames == [sse(CONTENT % b"a"), DONE_FRAME]


async def test_a_failure_after_pieces_of_a_read_sends_them_with_the_error() -> None:
    frames = await collect([piece("a", more=True), piece("b", more=True),
                            UpstreamStreamInterrupted("cut")], include_usage=False)
    assert len(frames) == 1
    events = frames[0].split(b"\n\n")
    assert events[:2] == [b"data: " + CONTENT % b"a", b"data: " + CONTENT % b"b"]
    assert b'"error"' in events[2]
    assert DONE_FRAME not in frames[0]  # no clean end

import msgspec
import pytest

from tenantgate.errors import (
    ContextLengthExceeded,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamStreamInterrupted,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tenantgate.providers import openai_wire
from tenantgate.providers.base import UpstreamResponse, Usage


def test_build_body_renames_model_and_always_requests_stream_usage():
    body = {"model": "alias", "messages": [], "stream_options": {"include_usage": False}, "x": 1}
    sent = msgspec.json.decode(openai_wire.build_body(body, "gpt-4o", stream=True))
    assert sent["model"] == "gpt-4o"
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["x"] == 1  # unknown fields pass through
    assert body["model"] == "alias"  # the caller's dict is untouched


def test_build_body_drops_stream_options_when_not_streaming():
    sent = msgspec.json.decode(
        openai_wire.build_body({"model": "a", "stream_options": {}}, "m", stream=False)
    )
    assert "stream_options" not in sent


def test_parse_reply_passes_bytes_through_and_reads_usage():
    raw = b'{"object":"chat.completion","usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":2}}}'
    reply = openai_wire.parse_reply(UpstreamResponse(200, {}, raw))
    assert reply.body is raw
    assert reply.usage is not None
    assert (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
        reply.usage.cached_tokens,
    ) == (3, 4, 2)


def test_parse_reply_rejects_invalid_json():
    with pytest.raises(UpstreamBadResponse):
        openai_wire.parse_reply(UpstreamResponse(200, {}, b"<html>"))


def test_stream_decoder_classifies_chunks():
    decoder = openai_wire.OpenAIStreamDecoder()
    content = decoder.feed(
        b'{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}'
    )
    assert content.pieces[0].usage is None
    assert not content.pieces[0].usage_only
    final = decoder.feed(b'{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')
    assert final.pieces[0].finished_choices == 1
    usage = decoder.feed(
        b'{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'
    )
    assert usage.pieces[0].usage_only
    assert usage.pieces[0].usage == Usage(1, 2)
    assert decoder.feed(b"[DONE]").done


def test_stream_decoder_raises_on_malformed_and_error_events():
    decoder = openai_wire.OpenAIStreamDecoder()
    with pytest.raises(UpstreamBadResponse):
        decoder.feed(b"{not json")
    with pytest.raises(UpstreamStreamInterrupted):
        decoder.feed(b'{"error":{"message":"boom"}}')


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (400, {}, b'{"error":{"message":"bad","code":null}}', UpstreamRejectedRequest),
        (
            400,
            {},
            b'{"error":{"message":"long","code":"context_length_exceeded"}}',
            ContextLengthExceeded,
        ),
        (401, {}, b'{"error":{"message":"key"}}', UpstreamAuthFailed),
        (429, {"retry-after": "2"}, b"{}", UpstreamRateLimited),
        (500, {}, b"oops", UpstreamUnavailable),
        (503, {}, b"", UpstreamUnavailable),
        (504, {}, b"", UpstreamTimeout),
        (404, {}, b"{}", UpstreamUnavailable),
        (302, {}, b"", UpstreamBadResponse),
    ],
)
def test_map_error_by_status(status, headers, body, expected):
    error = openai_wire.map_error(UpstreamResponse(status, headers, body), "openai")
    assert type(error) is expected
    if status == 429:
        assert error.retry_after_s == 2.0

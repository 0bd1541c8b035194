from tenantgate.providers.sse_parser import SseEvent, SseParser


def test_events_split_across_reads_are_reassembled():
    parser = SseParser()
    assert parser.feed(b'data: {"a"') == []
    assert parser.feed(b": 1}\n") == []
    assert parser.feed(b"\ndata: [DONE]\n\n") == [SseEvent(b'{"a": 1}'), SseEvent(b"[DONE]")]
    assert parser.pending == b""


def test_crlf_multiline_data_comments_and_event_names():
    parser = SseParser()
    events = parser.feed(b": keep-alive\r\n\r\nevent: delta\r\ndata: line1\r\ndata: line2\r\n\r\n")
    assert events == [SseEvent(b"line1\nline2", "delta")]


def test_flush_returns_an_unterminated_final_event():
    parser = SseParser()
    assert parser.feed(b"data: tail") == []
    assert parser.flush() == [SseEvent(b"tail")]
    assert parser.flush() == []


def test_data_without_space_after_colon():
    assert SseParser().feed(b"data:x\n\n") == [SseEvent(b"x")]

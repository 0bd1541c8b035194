"""The access log writes one JSON line per request, redacted, in the shape of every other line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tenantgate.observability.access_log import AccessEntry, AccessLog
from tenantgate.settings import LoggingSettings

ENTRY = AccessEntry("req_1", "POST", "/v1/chat/completions", 200, 1.25, "gpt-4o", 1,
                    {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})


def test_json_line_carries_every_field_in_order() -> None:
    stream = io.StringIO()
    AccessLog(LoggingSettings(), stream).record(ENTRY)
    line = stream.getvalue()
    assert line.endswith("\n")
    assert line.count("\n") == 1
    entry = json.loads(line)
    assert list(entry) == ["ts", "level", "logger", "msg", "request_id", "method", "path",
                           "status", "duration_ms", "deployment", "attempts", "usage"]
    assert entry["level"] == "info"
    assert entry["logger"] == "tenantgate.access"
    assert entry["status"] == 200
    assert entry["usage"]["total_tokens"] == 7
    assert entry["ts"].endswith("Z")
    assert len(entry["ts"]) == len("2026-01-01T00:00:00.000Z")


def test_secrets_in_a_path_are_redacted() -> None:
    stream = io.StringIO()
    leaky = AccessEntry("req_2", "GET", "/v1/models/sk-abcdefghijklmnop", 404, 0.1)
    AccessLog(LoggingSettings(), stream).record(leaky)
    assert "sk-abcdefghijklmnop" not in stream.getvalue()


@pytest.mark.parametrize("settings", [LoggingSettings(access_log=False),
                                      LoggingSettings(level="WARNING")])
def test_access_log_is_off_when_disabled_or_above_info(settings: LoggingSettings) -> None:
    assert not AccessLog(settings).enabled


def test_text_format_goes_through_logging(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tenantgate.access"):
        AccessLog(LoggingSettings(format="text")).record(ENTRY)
    [record] = caplog.records
    assert record.getMessage() == "request"
    assert record.__dict__["request_id"] == "req_1"

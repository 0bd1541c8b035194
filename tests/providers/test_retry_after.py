from tenantgate.providers.retry_after import RETRY_AFTER_MAX_S, parse_retry_after


def test_milliseconds_header_wins_over_seconds():
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5


def test_seconds_and_http_date():
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    when = "Wed, 25 Nov 2026 06:00:10 GMT"
    now = 1795586400.0  # 2026-11-25T06:00:00Z
    assert parse_retry_after({"retry-after": when}, now_epoch_s=now) == 10.0


def test_absent_garbage_negative_and_huge_values_are_safe():
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after({"retry-after": "1e12"}) == RETRY_AFTER_MAX_S
    assert parse_retry_after({"retry-after": "nan"}) is None

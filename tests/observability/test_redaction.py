import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantgate.observability.redaction import _PATTERNS, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer sk-abcdefghijklmnop", "sk-abcdefghijklmnop"),
        ('{"api-key": "0123456789abcdef"}', "0123456789abcdef"),
        ("api_key=supersecretvalue", "supersecretvalue"),
        ("leaked tg-AbCdEf0123456789xyz in a message", "tg-AbCdEf0123456789xyz"),
        ("postgresql://app:hunter2pass@db:5432/x", "hunter2pass"),
        ('Signature version="1",signature="QUJDREVGRw=="', "QUJDREVGRw=="),
    ],
)
def test_secrets_never_survive_redaction(text, secret):
    assert secret not in redact(text)


def test_ordinary_text_is_unchanged():
    text = "model gpt-4o answered in 12 ms for request req_abc"
    assert redact(text) == text


_PIECES = ["Bearer ", "BEARER ", "x-API-Key: ", "api_key=", "apikey:", "sk-", "tg-", "SK-",
           "://", "user:pw@", 'signature="', "abcdefgh1234", " ", '"', "=", ":", "\n", "é"]


@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_the_fast_path_never_skips_a_line_the_patterns_would_change(text):
    assert redact(text) == _redact_unconditionally(text)


def _redact_unconditionally(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text

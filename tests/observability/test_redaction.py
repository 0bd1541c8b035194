import pytest

from tenantgate.observability.redaction import redact


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

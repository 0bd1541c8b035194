"""The pure rules: key syntax, fingerprints, which answers are kept, and ``decide`` in every state."""

from datetime import UTC, datetime, timedelta

import pytest

from tenantgate.errors import IdempotencyKeyInvalid
from tenantgate.idempotency import (
    Conflict,
    IdempotencyRecord,
    Mismatch,
    RecordState,
    Replay,
    ReplayUnavailable,
    Run,
    StoredResponse,
    decide,
    fingerprint,
    is_replayable,
    parse_key,
    scope_of,
)

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
FP = "f" * 64
ANSWER = StoredResponse(200, (("content-type", "application/json"),), b'{"ok":true}')


def record(state: RecordState = RecordState.DONE, *, fp: str = FP, locked_for_s: float = 60,
           expires_in_s: float = 86_400) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope="user:u1", key="k", fingerprint=fp, owner="o" * 32, state=state,
        response=ANSWER if state is RecordState.DONE else None, created_at=NOW - timedelta(seconds=1),
        locked_until=NOW + timedelta(seconds=locked_for_s), expires_at=NOW + timedelta(seconds=expires_in_s),
    )


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, Run()),
        (record(RecordState.DONE, expires_in_s=0), Run()),
        (record(RecordState.IN_FLIGHT, expires_in_s=-1), Run()),
        (record(RecordState.DONE, fp="0" * 64, expires_in_s=0), Run()),
        (record(RecordState.DONE, fp="0" * 64), Mismatch()),
        (record(RecordState.IN_FLIGHT, fp="0" * 64), Mismatch()),
        (record(RecordState.UNREPLAYABLE, fp="0" * 64), Mismatch()),
        (record(RecordState.IN_FLIGHT), Conflict()),
        (record(RecordState.IN_FLIGHT, locked_for_s=0), Run()),
        (record(RecordState.UNREPLAYABLE), ReplayUnavailable()),
        (record(RecordState.DONE), Replay(ANSWER)),
    ],
    ids=["absent", "expired-done", "expired-in-flight", "expired-beats-mismatch", "mismatch-done",
         "mismatch-in-flight", "mismatch-unreplayable", "in-flight", "lease-ran-out", "too-large", "done"],
)
def test_decide_by_precedence_expiry_then_fingerprint_then_state(existing, expected):
    assert decide(existing, FP, NOW) == expected


def test_an_in_progress_conflict_asks_to_come_back_in_one_second():
    assert decide(record(RecordState.IN_FLIGHT), FP, NOW) == Conflict(retry_after_s=1.0)


@pytest.mark.parametrize("raw", [b"a", b"req-2025-03-01/42 #retry", b"~" * 255, bytes(range(0x20, 0x7F))])
def test_keys_of_1_to_255_printable_ascii_characters_are_accepted(raw):
    assert parse_key(raw) == raw.decode()


@pytest.mark.parametrize("raw", [b"", b"x" * 256, b"tab\there", b"nul\x00", b"caf\xc3\xa9", b"\x7f"],
                         ids=["empty", "256-chars", "tab", "nul", "utf8", "del"])
def test_other_keys_are_refused_with_idempotency_key_invalid(raw):
    with pytest.raises(IdempotencyKeyInvalid) as caught:
        parse_key(raw)
    assert (caught.value.status, caught.value.code, caught.value.param) == (
        400, "idempotency_key_invalid", "Idempotency-Key")


def test_fingerprint_ignores_key_order_and_whitespace_of_the_json_body():
    a = fingerprint("POST", "/v1/chat/completions", None, b'{"model": "m", "messages": [{"role": "user"}]}')
    b = fingerprint("POST", "/v1/chat/completions", None, b'{"messages":[{"role":"user"}],"model":"m"}')
    assert a == b
    assert len(a) == 64


@pytest.mark.parametrize(
    "other",
    [("POST", "/v1/completions", None, b'{"model":"m"}'),
     ("PUT", "/v1/chat/completions", None, b'{"model":"m"}'),
     ("POST", "/v1/chat/completions", "Finance", b'{"model":"m"}'),
     ("POST", "/v1/chat/completions", None, b'{"model":"n"}'),
     ("POST", "/v1/chat/completions", None, b'{"model":"m","stream":true}')],
    ids=["path", "method", "compartment", "value", "extra-field"],
)
def test_fingerprint_differs_when_anything_that_changes_the_request_differs(other):
    assert fingerprint("POST", "/v1/chat/completions", None, b'{"model":"m"}') != fingerprint(*other)


def test_a_body_that_is_not_json_is_fingerprinted_as_sent():
    assert fingerprint("POST", "/p", None, b"{nope") == fingerprint("POST", "/p", None, b"{nope")
    assert fingerprint("POST", "/p", None, b"{nope") != fingerprint("POST", "/p", None, b"{nope ")


def test_scopes_keep_principals_apart_and_stay_within_the_column():
    assert scope_of("user", "u1") == "user:u1"
    assert scope_of("user", "u1") != scope_of("apikey", "u1")
    long = scope_of("static-key", "x" * 500)
    assert len(long) <= 160
    assert long != scope_of("static-key", "y" * 500)


@pytest.mark.parametrize(("status", "kept"), [
    (200, True), (400, True), (401, True), (403, True), (404, True), (413, True), (422, True),
    (408, False), (409, False), (429, False), (500, False), (502, False), (503, False), (504, False),
])
def test_successes_and_client_errors_are_kept_retryable_answers_are_not(status, kept):
    assert is_replayable(status) is kept


def test_a_stored_event_stream_is_recognised_by_its_content_type():
    stream = StoredResponse(200, (("content-type", "text/event-stream; charset=utf-8"),), b"data: [DONE]\n\n")
    assert stream.is_stream
    assert not ANSWER.is_stream
    assert StoredResponse(200, (), b"{}").content_type == "application/json"


def test_the_package_exports_exactly_its_public_api():
    import tenantgate.idempotency

    assert sorted(tenantgate.idempotency.__all__) == [
        "Claim", "ClaimResult", "Conflict", "Decision", "IdempotencyRecord", "IdempotencyStore",
        "Mismatch", "RecordState", "Replay", "ReplayUnavailable", "Run", "StoredResponse",
        "decide", "fingerprint", "is_replayable", "parse_key", "scope_of",
    ]


def test_the_rules_module_is_pure_no_database_network_clock_or_randomness():
    import ast
    from pathlib import Path

    import tenantgate.idempotency.model as model

    forbidden = ("sqlalchemy", "aiohttp", "asyncio", "random", "time", "secrets", "tenantgate.storage",
                 "tenantgate.idempotency.store", "tenantgate.api")
    source = Path(model.__file__).read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert sorted(i for i in imported if i.split(".")[0] in forbidden or i.startswith(forbidden)) == []
    assert ".now(" not in source

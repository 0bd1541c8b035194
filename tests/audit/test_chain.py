"""The hash chain as pure functions: the exact encoding, and every kind of tampering detected."""

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from audit_factories import build_chain, make_entry
from hypothesis import given
from hypothesis import strategies as st

from tenantgate.audit.chain import (
    GENESIS_HASH,
    ChainVerifier,
    canonical_bytes,
    event_fields,
    event_hash,
    format_timestamp,
    link_hash,
    seal,
    verify_chain,
)
from tenantgate.audit.model import ACTION_PATTERN, ACTOR_TYPES, OUTCOMES, AuditEntry, AuditEvent


def _head(chain: list[AuditEvent]) -> tuple[int, str]:
    return (chain[-1].seq, chain[-1].hash) if chain else (0, GENESIS_HASH)


# The encoding, pinned: changing it silently would orphan every stored chain.


def test_canonical_encoding_is_sorted_compact_ascii_json_with_version_and_utc_micros():
    event = build_chain([make_entry(1, actor_name="zoë", details={"b": 1, "a": [True, None]})])[0]
    text = canonical_bytes(event_fields(event)).decode("ascii")
    decoded = json.loads(text)
    assert text == json.dumps(decoded, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert decoded["v"] == 1
    assert decoded["seq"] == 1
    assert decoded["prev_hash"] == GENESIS_HASH
    assert decoded["occurred_at"] == "2025-01-01T00:00:00.001001Z"
    assert "hash" not in decoded
    assert "zo\\u00eb" in text
    assert set(decoded) == {f.name for f in dataclasses.fields(AuditEvent)} - {"hash"} | {"v"}


def test_event_hash_is_sha256_of_previous_hash_bytes_then_canonical_bytes():
    first, second = build_chain([make_entry(1), make_entry(2)])
    expected = hashlib.sha256(bytes.fromhex(first.hash) + canonical_bytes(event_fields(second))).hexdigest()
    assert second.hash == expected == link_hash(first.hash, event_fields(second)) == event_hash(second)
    assert first.hash == hashlib.sha256(bytes(32) + canonical_bytes(event_fields(first))).hexdigest()


def test_timestamps_have_one_spelling_whatever_the_zone():
    utc = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    plus_two = utc.astimezone(timezone(timedelta(hours=2)))
    assert format_timestamp(utc) == format_timestamp(plus_two) == "2025-03-01T12:00:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2025, 3, 1))


def test_sealing_the_same_entry_at_the_same_place_is_deterministic():
    entry = make_entry(3)
    args = {"seq": 7, "event_id": "aud_x", "occurred_at": datetime(2025, 1, 1, tzinfo=UTC), "prev_hash": "ab" * 32}
    assert seal(entry, **args) == seal(entry, **args)
    assert seal(entry, **args).hash != seal(entry, **{**args, "seq": 8}).hash


# Verification, one scenario per kind of break.


def test_an_untouched_chain_verifies_with_its_head():
    chain = build_chain([make_entry(i) for i in range(5)])
    report = verify_chain(chain, expected_head=_head(chain))
    assert report.ok
    assert (report.events_checked, report.last_seq, report.last_hash) == (5, 5, chain[-1].hash)


def test_an_empty_chain_verifies_against_a_genesis_head():
    report = verify_chain([], expected_head=(0, GENESIS_HASH))
    assert report.ok
    assert (report.events_checked, report.last_seq, report.last_hash) == (0, 0, GENESIS_HASH)


def test_an_edited_field_is_reported_at_its_event():
    chain = build_chain([make_entry(i) for i in range(5)])
    chain[2] = dataclasses.replace(chain[2], outcome="denied")
    report = verify_chain(chain, expected_head=_head(chain))
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq, report.events_checked) == ("edited", 3, 2)


def test_a_deleted_middle_event_is_a_gap_at_its_seq():
    chain = build_chain([make_entry(i) for i in range(5)])
    del chain[1]
    report = verify_chain(chain)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == ("gap", 2)


def test_a_deleted_last_event_is_caught_only_by_the_head():
    chain = build_chain([make_entry(i) for i in range(5)])
    head = _head(chain)
    assert verify_chain(chain[:-1]).ok  # what remains is a valid chain on its own
    report = verify_chain(chain[:-1], expected_head=head)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == ("truncated", 5)


def test_a_rewritten_last_event_with_a_correct_hash_is_caught_by_the_head():
    chain = build_chain([make_entry(i) for i in range(3)])
    head = _head(chain)
    forged = seal(make_entry(9), seq=3, event_id=chain[2].id, occurred_at=chain[2].occurred_at,
                  prev_hash=chain[1].hash)
    report = verify_chain([*chain[:2], forged], expected_head=head)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == ("truncated", 3)


def test_an_event_beyond_the_head_is_reported():
    chain = build_chain([make_entry(i) for i in range(4)])
    report = verify_chain(chain, expected_head=_head(chain[:3]))
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == ("beyond_head", 4)


def test_an_inserted_event_breaks_the_link_of_the_one_after_it():
    chain = build_chain([make_entry(i) for i in range(4)])
    forged = seal(make_entry(99), seq=3, event_id="aud_forged", occurred_at=chain[2].occurred_at,
                  prev_hash=chain[1].hash)
    renumbered = [dataclasses.replace(e, seq=e.seq + 1) for e in chain[2:]]
    report = verify_chain([*chain[:2], forged, *renumbered])
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == ("broken_link", 4)


def test_a_repeated_seq_is_a_duplicate_and_a_lower_one_is_out_of_order():
    chain = build_chain([make_entry(i) for i in range(4)])
    duplicate = verify_chain([chain[0], chain[1], chain[1], chain[2]]).broken
    assert duplicate is not None
    assert (duplicate.kind, duplicate.seq) == ("duplicate", 2)
    backwards = verify_chain([chain[0], chain[1], chain[2], chain[0]]).broken
    assert backwards is not None
    assert (backwards.kind, backwards.seq) == ("out_of_order", 1)


def test_two_swapped_events_break_the_chain_where_the_first_one_moved():
    chain = build_chain([make_entry(i) for i in range(5)])
    swapped = list(chain)
    swapped[1] = dataclasses.replace(chain[3], seq=2)
    swapped[3] = dataclasses.replace(chain[1], seq=4)
    report = verify_chain(swapped)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == ("broken_link", 2)


def test_the_verifier_stops_at_the_first_break_and_keeps_it():
    chain = build_chain([make_entry(i) for i in range(4)])
    verifier = ChainVerifier()
    verifier.feed(chain[0])
    first = verifier.feed(dataclasses.replace(chain[1], actor_id="mallory"))
    assert first is not None
    assert verifier.feed(chain[3]) is first
    assert verifier.finish().events_checked == 1


def test_a_type_changed_value_is_not_normalised_back_into_the_original():
    chain = build_chain([make_entry(1, statement_ids=("ab",)), make_entry(2)])
    chain[0] = dataclasses.replace(chain[0], statement_ids="ab")  # type: ignore[arg-type]
    report = verify_chain(chain)
    assert report.broken is not None
    assert report.broken.kind == "edited"


def test_contents_that_cannot_be_encoded_are_an_edit_not_a_crash():
    chain = build_chain([make_entry(1), make_entry(2)])
    chain[1] = dataclasses.replace(chain[1], details={"ratio": float("nan")})
    report = verify_chain(chain)
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == ("edited", 2)


def test_a_fully_rewritten_chain_and_head_verify_which_is_the_documented_limit():
    original = build_chain([make_entry(i) for i in range(3)])
    rewritten = build_chain([make_entry(i, actor_name="mallory") for i in range(3)])
    assert rewritten != original
    assert verify_chain(rewritten, expected_head=_head(rewritten)).ok


# Property: any single edit, deletion, insertion or swap anywhere is detected.

_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_entries = st.builds(
    AuditEntry,
    actor_type=st.sampled_from(sorted(ACTOR_TYPES)),
    actor_id=_text.filter(bool),
    action=st.from_regex(ACTION_PATTERN, fullmatch=True).filter(lambda a: len(a) <= 100),
    outcome=st.sampled_from(sorted(OUTCOMES)),
    actor_name=st.none() | _text,
    target_type=st.none() | _text,
    target_id=st.none() | _text,
    statement_ids=st.lists(_text, max_size=3).map(tuple),
    request_id=st.none() | _text,
    details=st.dictionaries(_text, _json, max_size=4),
)


def _different(value: object, draw: st.DrawFn) -> object:
    """A value of the field's kind that differs from ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + draw(st.integers(1, 5)) * draw(st.sampled_from([-1, 1]))
    if isinstance(value, datetime):
        return value + timedelta(microseconds=draw(st.integers(1, 10**6)))
    if isinstance(value, tuple):
        return (*value, "forged")
    if isinstance(value, dict):
        key = "forged"
        while key in value:
            key += "_"
        return {**value, key: True}
    if value is None:
        return "forged"
    assert isinstance(value, str)
    if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return ("1" if value[0] == "0" else "0") + value[1:]
    return draw(_text.filter(lambda t: t != value))


@st.composite
def _tampered(draw: st.DrawFn) -> tuple[list[AuditEvent], list[AuditEvent], str]:
    chain = build_chain(draw(st.lists(_entries, min_size=1, max_size=8)))
    index = draw(st.integers(0, len(chain) - 1))
    tampering = draw(st.sampled_from(["edit", "delete", "insert", "insert_renumbered", "swap"]))
    tampered = list(chain)
    if tampering == "edit":
        field = draw(st.sampled_from([f.name for f in dataclasses.fields(AuditEvent)]))
        old = getattr(chain[index], field)
        if field == "actor_type":
            new: object = draw(st.sampled_from(sorted(ACTOR_TYPES - {old})))
        elif field == "outcome":
            new = draw(st.sampled_from(sorted(OUTCOMES - {old})))
        else:
            new = _different(old, draw)
        tampered[index] = dataclasses.replace(chain[index], **{field: new})
        tampering = f"edit {field}"
    elif tampering == "delete":
        del tampered[index]
    elif tampering.startswith("insert"):
        prev_hash = chain[index - 1].hash if index else GENESIS_HASH
        forged = seal(draw(_entries), seq=index + 1, event_id="aud_forged",
                      occurred_at=chain[index].occurred_at, prev_hash=prev_hash)
        after = chain[index:]
        if tampering == "insert_renumbered":
            after = [dataclasses.replace(e, seq=e.seq + 1) for e in after]
        tampered[index:] = [forged, *after]
    else:
        other = draw(st.integers(0, len(chain) - 1).filter(lambda i: i != index) if len(chain) > 1
                     else st.just(index))
        tampered[index], tampered[other] = chain[other], chain[index]
        if other == index:  # a one-event chain has nothing to swap with: forge a second copy
            tampered.append(chain[index])
    return chain, tampered, tampering


@given(_tampered())
def test_any_single_edit_deletion_insertion_or_swap_is_detected(case):
    chain, tampered, tampering = case
    head = _head(chain)
    assert verify_chain(chain, expected_head=head).ok
    assert not verify_chain(tampered, expected_head=head).ok, tampering

"""Entries are checked where they are built, so a bad one never reaches a shared batch."""

import pytest
from audit_factories import make_entry

from tenantgate.audit.model import InvalidAuditEntry, new_event_id


def test_a_typical_entry_keeps_its_fields_and_plain_json_details():
    entry = make_entry(1, statement_ids=["pol_a:1", "pol_a:2"], details={"t": (1, 2), "m": {"k": None}})
    assert entry.statement_ids == ("pol_a:1", "pol_a:2")
    assert entry.details == {"t": [1, 2], "m": {"k": None}}


def test_details_are_copied_so_later_changes_do_not_reach_the_entry():
    details = {"count": 1}
    entry = make_entry(details=details)
    details["count"] = 2
    assert entry.details == {"count": 1}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"actor_type": "robot"}, "actor_type"),
        ({"outcome": "maybe"}, "outcome"),
        ({"action": "Create"}, "dotted"),
        ({"action": "iam"}, "dotted"),
        ({"action": "iam." + "x" * 100}, "dotted"),
        ({"details": {"ratio": 0.5}}, "float"),
        ({"details": {1: "x"}}, "keys"),
        ({"details": ["not", "a", "mapping"]}, "mapping"),
        ({"actor_id": "a\x00b"}, "NUL"),
        ({"details": {"k": "a\x00"}}, "NUL"),
        ({"target_id": "\ud800"}, "surrogate"),
        ({"details": {"k": ["\udfff"]}}, "surrogate"),
        ({"actor_id": ""}, "actor_id"),
        ({"statement_ids": (1,)}, "string"),
        ({"compartment_id": "c" * 33}, "too long"),
    ],
)
def test_malformed_entries_are_refused_when_built(overrides, message):
    with pytest.raises(InvalidAuditEntry, match=message):
        make_entry(**overrides)


def test_event_ids_are_typed_and_drawn_through_the_injected_choice():
    assert new_event_id(lambda alphabet: alphabet[0]) == "aud_" + "a" * 20
    assert new_event_id() != new_event_id()

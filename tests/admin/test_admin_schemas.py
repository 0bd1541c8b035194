"""Request bodies are allowlists: unknown fields are refused by name, types are checked."""

import msgspec
import pytest

from tenantgate.admin.schemas import (
    BODIES,
    CompartmentUpdate,
    Empty,
    KeyCreate,
    KeyRotate,
    decode_body,
    given,
)
from tenantgate.errors import InvalidJson, InvalidParameterType, MissingParameter, UnknownParameter


@pytest.mark.parametrize("schema", BODIES, ids=lambda s: s.__name__)
def test_every_body_refuses_unknown_fields_by_name(schema):
    assert schema.__struct_config__.forbid_unknown_fields
    with pytest.raises(UnknownParameter) as refused:
        decode_body(b'{"built_in": true}', schema)
    assert refused.value.param == "built_in"


def test_an_empty_body_is_an_empty_object():
    assert decode_body(b"", Empty) == Empty()
    assert decode_body(b"  ", KeyRotate) == KeyRotate()
    with pytest.raises(MissingParameter):
        decode_body(b"", msgspec.defstruct("Needs", [("name", str)], bases=(Empty,)))


def test_types_and_json_are_checked():
    with pytest.raises(InvalidParameterType) as wrong:
        decode_body(b'{"allowed_models": "chat-a"}', KeyCreate)
    assert wrong.value.param == "allowed_models"
    with pytest.raises(InvalidJson):
        decode_body(b"[]", KeyCreate)


def test_patch_fields_left_out_stay_unset():
    body = decode_body(b'{"description": ""}', CompartmentUpdate)
    assert (given(body.name), given(body.description)) == (None, "")

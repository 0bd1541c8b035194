import msgspec
import pytest

from tenantgate.api.request_validation import parse_json_object, validation_error
from tenantgate.api.schemas.chat import decode_chat
from tenantgate.errors import (
    InvalidJson,
    InvalidParameterType,
    InvalidParameterValue,
    MissingParameter,
)


@pytest.mark.parametrize("body", [b"", b"{", b"[1,2]", b"null", b'"text"', b"\xff\xfe"])
def test_non_objects_are_invalid_json(body):
    with pytest.raises(InvalidJson):
        parse_json_object(body)


@pytest.mark.parametrize(
    ("raw", "error", "param"),
    [
        ({"model": "m"}, MissingParameter, "messages"),
        ({"model": "m", "messages": [{}]}, MissingParameter, "messages[0].role"),
        ({"model": 1, "messages": [{"role": "user"}]}, InvalidParameterType, "model"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, InvalidParameterType, "messages[0].content"),
        ({"model": "m", "messages": [{"role": "robot"}]}, InvalidParameterValue, "messages[0].role"),
        ({"model": "m", "messages": []}, InvalidParameterValue, "messages"),
        ({"model": "m", "messages": [{"role": "user"}], "temperature": 3}, InvalidParameterValue, "temperature"),
        ({"model": "m", "messages": [{"role": "user"}], "n": 0}, InvalidParameterValue, "n"),
    ],
)
def test_validation_errors_name_the_parameter(raw, error, param):
    with pytest.raises(msgspec.ValidationError) as caught:
        decode_chat(raw)
    mapped = validation_error(caught.value)
    assert type(mapped) is error
    assert mapped.param == param
    assert param in mapped.message

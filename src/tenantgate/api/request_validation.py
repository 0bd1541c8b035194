"""From request bytes to a validated body, with errors in OpenAI's terms (type, param, code)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from tenantgate.errors import (
    InvalidJson,
    InvalidParameterType,
    InvalidParameterValue,
    InvalidRequest,
    MissingParameter,
)

_decode_json = msgspec.json.Decoder().decode
_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode the body; anything but a JSON object is InvalidJson."""
    if not body:
        raise InvalidJson("The request body is empty; send a JSON object.")
    try:
        value = _decode_json(body)
    except msgspec.DecodeError as exc:
        raise InvalidJson(
            f"We could not parse the JSON body of your request ({exc}). "
            "The body must be a JSON object."
        ) from exc
    if not isinstance(value, dict):
        raise InvalidJson("The JSON body must be an object, not " + type(value).__name__ + ".")
    return value


def validation_error(exc: msgspec.ValidationError) -> InvalidRequest:
    """Map msgspec's message (which carries a JSON path) to our typed error with ``param``."""
    text = str(exc)
    match = _PATH.search(text)
    path = match.group("path") if match else ""
    detail = text[: match.start()] if match else text
    missing = _MISSING.match(detail)
    if missing:
        param = f"{path}.{missing.group('field')}" if path else missing.group("field")
        return MissingParameter(f"Missing required parameter: '{param}'.", param=param)
    param = path or None
    if ", got `" in detail:
        return InvalidParameterType(f"Invalid type for '{param}': {_lower_first(detail)}.", param=param)
    return InvalidParameterValue(f"Invalid value for '{param}': {_lower_first(detail)}.", param=param)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text

"""Query strings of the admin API, decoded into msgspec Structs like bodies: 400 before any decision.

A list field takes every value, named plainly (``project_ids=a&project_ids=b``) or with the
brackets the OpenAI SDKs send (``project_ids[]=a``); any other field takes exactly one. Values
are text converted by the Struct's types (``"7"`` is 7, ``"true"`` is True). An unknown name
is 400 ``unknown_parameter``, a missing or bad value 400 naming the parameter. The same
Structs generate the query parameters of ``GET /admin/v1/openapi.json``.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec

from tenantgate.api.request_validation import validation_error
from tenantgate.errors import InvalidParameterValue, UnknownParameter

Q = TypeVar("Q", bound="Query")
_SEQUENCES = (msgspec.inspect.ListType, msgspec.inspect.SetType, msgspec.inspect.FrozenSetType,
              msgspec.inspect.VarTupleType)


class Query(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every query schema."""


def _takes_many(kind: Any) -> bool:
    info = msgspec.inspect.type_info(kind)
    while isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    return isinstance(info, _SEQUENCES)


def decode_query(raw: bytes, schema: type[Q]) -> Q:
    """The query string as ``schema``; errors are 400s that name the parameter."""
    fields = {field.encode_name: field for field in msgspec.structs.fields(schema)}
    given: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        name = name.removesuffix("[]")
        if name not in fields:
            raise UnknownParameter(
                f"Unrecognized query parameter: {name!r}. Accepted: {', '.join(sorted(fields))}.", param=name)
        given.setdefault(name, []).append(value)
    data: dict[str, Any] = {}
    for name, values in given.items():
        if _takes_many(fields[name].type):
            data[name] = values
        elif len(values) > 1:
            raise InvalidParameterValue(f"Give '{name}' at most once.", param=name)
        else:
            data[name] = values[0]
    try:
        return msgspec.convert(data, schema, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from exc


def query_parameters(schema: type[Query] | None) -> list[dict[str, Any]]:
    """OpenAPI parameter objects (``in: query``) for ``schema``'s fields."""
    if schema is None:
        return []
    return [
        {"name": field.encode_name, "in": "query", "required": field.required,
         "schema": msgspec.json.schema(field.type)}
        for field in msgspec.structs.fields(schema)
    ]

"""OpenAI's published OpenAPI spec as JSON Schema validators, for the suites that check wire shapes.

The spec lives in the ``openai-openapi`` checkout beside this repository (``../shared`` in CI);
``spec_path`` finds it from any test file, so no absolute path is written down anywhere.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

REPOSITORY = Path(__file__).resolve().parents[1]
OPENAPI = REPOSITORY.parent / "shared" / "openai-openapi" / "openapi.yaml"


@functools.cache
def load_components(path: Path = OPENAPI) -> dict[str, Any]:
    """The spec's ``components``, wrapped so ``#/components/schemas/<Name>`` refs resolve.

    Parsing the spec takes seconds, so it is done once per test session (treat it as read-only).
    """
    spec = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    return {"components": allow_nullable(spec["components"])}


def allow_nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` (still used in places) as JSON Schema's null type."""
    if isinstance(node, list):
        return [allow_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: allow_nullable(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def schema_errors(openapi: dict[str, Any], name: str, instance: Any) -> list[str]:
    """Up to five readable violations of component ``name`` by ``instance``."""
    schema = {"$ref": f"#/components/schemas/{name}", **openapi}
    errors = list(Draft202012Validator(schema).iter_errors(instance))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def assert_schema(openapi: dict[str, Any], name: str, instance: Any) -> None:
    """Fail with the violations when ``instance`` is not a valid ``name``."""
    errors = schema_errors(openapi, name, instance)
    assert not errors, errors

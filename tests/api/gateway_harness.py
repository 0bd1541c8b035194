"""The end-to-end harness: provider flavours, their catalog, OCI signing keys, a gateway process.

Shared by the ``tests/api`` modules (their fixtures live in ``conftest.py``). Every address
is 127.0.0.1: the fake upstream's and the gateway's.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openapi_schemas import OPENAPI, assert_schema, load_components
from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway, run_gateway

__all__ = ["OPENAPI", "assert_schema", "load_components"]  # re-exported for the test modules

UPSTREAM_KEY = "sk-upstream-test"
UPSTREAM_KEY_ENV = "TG_E2E_UPSTREAM_KEY"
TENANCY = "ocid1.tenancy.oc1..aaaae2etenancy"
USER = "ocid1.user.oc1..aaaae2euser"
FINGERPRINT = ":".join(["cd"] * 16)
KEY_ID = f"{TENANCY}/{USER}/{FINGERPRINT}"
COMPARTMENT = "ocid1.compartment.oc1..aaaae2ecompartment"
HI = [{"role": "user", "content": "hi there"}]
REPLY = "Hello! You said: hi there"
ERROR_FIELDS = {"message", "type", "param", "code"}


@dataclass(frozen=True, slots=True)
class Flavour:
    """One way of reaching an upstream: how its deployments are configured and what it serves."""

    name: str
    chat_model: str
    embedding_model: str
    completions: bool = True
    auth: str = "bearer"

    @property
    def chat(self) -> str:
        """The public chat model of this flavour in the gateway's catalog."""
        return f"chat-{self.name}"

    @property
    def embedding(self) -> str:
        """The public embedding model of this flavour."""
        return f"embed-{self.name}"


FLAVOURS = (
    Flavour("openai", "gpt-4o-mini", "text-embedding-3-small"),
    Flavour("azure", "my-gpt", "my-embed", auth="api-key"),
    Flavour("azure-v1", "gpt-4o", "text-embedding-3-large", auth="api-key"),
    Flavour("oci-key", "meta.llama-3.3-70b-instruct", "cohere.embed-english-v3.0"),
    Flavour("oci-signed", "xai.grok-4", "cohere.embed-multilingual-v3.0", auth="signature"),
    Flavour(
        "oci-native",
        "meta.llama-3.1-405b-instruct",
        "cohere.embed-english-light-v3.0",
        completions=False,
        auth="signature",
    ),
)
FLAVOUR_IDS = [flavour.name for flavour in FLAVOURS]
AZURE_MODEL_NAMES = {"my-gpt": "gpt-4o-2024-08-06", "my-embed": "text-embedding-3-small"}


@dataclass(frozen=True, slots=True)
class OciIdentity:
    """An OCI CLI config file whose user key the fake upstream knows."""

    config_file: Path
    public_pem: bytes


def write_oci_identity(directory: Path) -> OciIdentity:
    """A fresh RSA key written as an OCI config + key file, so signatures really get verified."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = directory / "oci_api_key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config_file = directory / "config"
    config_file.write_text(
        f"[DEFAULT]\nuser={USER}\nfingerprint={FINGERPRINT}\ntenancy={TENANCY}\n"
        f"region=us-chicago-1\nkey_file={key_file}\n"
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return OciIdentity(config_file, public)


def deployment(
    flavour: str, fake: FakeUpstream, identity: OciIdentity, model: str, **extra: Any
) -> dict[str, Any]:
    """A deployment of ``flavour`` serving upstream ``model`` from the fake."""
    key = {"credential_env": UPSTREAM_KEY_ENV}
    signed = {
        "auth": "oci_config",
        "config_file": str(identity.config_file),
        "compartment_id": COMPARTMENT,
    }
    azure = {"provider": "azure_openai", "base_url": fake.azure_endpoint, **key}
    by_flavour: dict[str, dict[str, Any]] = {
        "openai": {"provider": "openai", "base_url": fake.openai_base_url, **key},
        "azure": azure,
        "azure-v1": {**azure, "api": "v1"},
        "oci-key": {"provider": "oci_genai", "base_url": fake.oci_openai_base_url, **key},
        "oci-signed": {"provider": "oci_genai", "base_url": fake.oci_openai_base_url, **signed},
        "oci-native": {"provider": "oci_genai_native", "base_url": fake.oci_endpoint, **signed},
    }
    return {**by_flavour[flavour], "model": model, **extra}


def flavour_models(fake: FakeUpstream, identity: OciIdentity) -> list[dict[str, Any]]:
    """One public chat model and one embedding model per flavour."""
    models = []
    for flavour in FLAVOURS:
        for public, upstream_model in (
            (flavour.chat, flavour.chat_model),
            (flavour.embedding, flavour.embedding_model),
        ):
            models.append(
                {
                    "name": public,
                    "deployments": [deployment(flavour.name, fake, identity, upstream_model)],
                }
            )
    return models


def gateway_config(models: list[dict[str, Any]], **sections: Any) -> dict[str, Any]:
    """A gateway settings file: this catalog, no embedded local models, quiet logs."""
    return {
        "local": {"enabled": False},
        "logging": {"level": "WARNING"},
        "models": models,
        **sections,
    }


@contextlib.contextmanager
def start_gateway(config: Mapping[str, Any], workdir: Path) -> Iterator[RunningGateway]:
    """A real ``tenantgate serve`` on loopback with the upstream key in its environment."""
    with run_gateway(config, env={UPSTREAM_KEY_ENV: UPSTREAM_KEY}, workdir=workdir) as gateway:
        yield gateway


@contextlib.contextmanager
def token_clients(base_url: str, tokens: Mapping[str, str]) -> Iterator[Callable[[str], httpx.Client]]:
    """An HTTP client per API key, looked up by the key's name, each sending its bearer token."""
    clients = {name: httpx.Client(base_url=base_url, timeout=10, headers={"authorization": f"Bearer {token}"})
               for name, token in tokens.items()}
    try:
        yield clients.__getitem__
    finally:
        for client in clients.values():
            client.close()


def sse_payloads(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, checking the exact framing on the way."""
    assert text.endswith("\n\n"), text[-200:]
    events = text[:-2].split("\n\n")
    assert all(event.startswith("data: ") and "\n" not in event for event in events), events
    return [event[len("data: ") :] for event in events]


def assert_openai_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an OpenAI-shaped error with this status and code; returns the error."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == ERROR_FIELDS, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["type"], str)
    assert response.headers["x-request-id"]
    return error


def assert_error_event(payload: str) -> dict[str, Any]:
    """An SSE payload that is an OpenAI error object; returns the error."""
    body = json.loads(payload)
    assert set(body) == {"error"}, body
    assert set(body["error"]) == ERROR_FIELDS, body
    error: dict[str, Any] = body["error"]
    return error


def metric_value(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """One sample's value from Prometheus text (0 when the series does not exist yet)."""
    wanted = dict(labels or {})
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == wanted:
            return float(match.group(3))
    return 0.0

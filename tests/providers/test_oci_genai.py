"""OCI's OpenAI-compatible endpoint: URLs, compartment headers, credentials, errors; the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantgate.errors import (
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamUnavailable,
)
from tenantgate.providers.auth.api_key import HeaderKeySigner
from tenantgate.providers.auth.oci_signing import OciRequestSigner
from tenantgate.providers.base import DeploymentInfo, Operation, UpstreamResponse
from tenantgate.providers.http_backend import HttpBackend
from tenantgate.providers.oci_genai import OciGenAIAdapter, build_signer
from tenantgate.providers.registry import PROVIDERS, HttpProvider
from tenantgate.providers.transport import HttpTransport
from tenantgate.settings import (
    DeploymentSettings,
    SettingsError,
    UpstreamSettings,
    UpstreamTimeouts,
)
from tenantgate.testing.fake_upstream import FakeUpstream

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaacompartment"
CHAT = {"model": "llama", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}
TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancy"
USER = "ocid1.user.oc1..aaaaaaaauser"
FINGERPRINT = "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34"


def _deployment(**fields: Any) -> DeploymentSettings:
    values: dict[str, Any] = {
        "provider": "oci_genai",
        "model": "meta.llama-3.3-70b-instruct",
        "region": "us-chicago-1",
        "credential_env": "OCI_GENAI_KEY",
        **fields,
    }
    return DeploymentSettings.model_validate(values)


def test_registered_as_an_http_provider() -> None:
    spec = PROVIDERS["oci_genai"]
    assert isinstance(spec, HttpProvider)
    assert spec.adapter is OciGenAIAdapter


def test_base_url_defaults_to_the_regional_openai_endpoint() -> None:
    request = OciGenAIAdapter(_deployment()).build_request(Operation.CHAT, dict(CHAT), stream=False)

    assert request.url == (
        "https://inference.generativeai.us-chicago-1.oci.oraclecloud.com/openai/v1/chat/completions"
    )
    assert request.headers == {"content-type": "application/json", "accept": "application/json"}
    assert json.loads(request.body) == {
        "model": "meta.llama-3.3-70b-instruct",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
    }


def test_configured_base_url_wins_over_region() -> None:
    adapter = OciGenAIAdapter(_deployment(base_url="https://proxy.example/openai/v1/"))

    request = adapter.build_request(Operation.EMBEDDING, {"model": "x", "input": "a"}, stream=False)

    assert request.url == "https://proxy.example/openai/v1/embeddings"


def test_region_or_base_url_is_required() -> None:
    with pytest.raises(SettingsError, match="region"):
        OciGenAIAdapter(_deployment(region=None))


def test_compartment_is_sent_in_both_header_spellings() -> None:
    adapter = OciGenAIAdapter(_deployment(compartment_id=COMPARTMENT))

    request = adapter.build_request(Operation.CHAT, dict(CHAT), stream=True)

    assert request.headers == {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "opc-compartment-id": COMPARTMENT,
        "compartmentid": COMPARTMENT,
    }
    assert json.loads(request.body)["stream_options"] == {"include_usage": True}


def test_iam_auth_requires_a_compartment() -> None:
    with pytest.raises(ValueError, match="compartment_id"):
        OciGenAIAdapter(_deployment(auth="instance_principal"))


def test_api_key_is_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCI_GENAI_KEY", "sk-oci")

    signer = build_signer(_deployment())
    signed = signer.sign(
        OciGenAIAdapter(_deployment()).build_request(Operation.CHAT, dict(CHAT), stream=False)
    )

    assert isinstance(signer, HeaderKeySigner)
    assert signed.headers["authorization"] == "Bearer sk-oci"


def test_missing_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCI_GENAI_KEY", raising=False)

    with pytest.raises(SettingsError, match="API key"):
        build_signer(_deployment())


@pytest.mark.parametrize("auth", ["oci_config", "instance_principal", "resource_principal"])
def test_iam_modes_use_the_oci_request_signer(auth: str) -> None:
    signer = build_signer(_deployment(auth=auth, compartment_id=COMPARTMENT))

    assert isinstance(signer, OciRequestSigner)


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = UpstreamResponse(
        status=status, headers=headers or {}, body=json.dumps(body).encode()
    )
    return OciGenAIAdapter(_deployment()).map_error(response)


def test_oci_errors_map_by_status_and_code() -> None:
    denied = _error(
        404,
        {"code": "NotAuthorizedOrNotFound", "message": "Authorization failed"},
        {"opc-request-id": "rid-1"},
    )
    assert isinstance(denied, UpstreamAuthFailed)
    assert "opc-request-id rid-1" in denied.message
    assert isinstance(_error(401, {"code": "NotAuthenticated", "message": "x"}), UpstreamAuthFailed)
    rejected = _error(400, {"error": {"message": "bad temperature", "code": None}})
    assert isinstance(rejected, UpstreamRejectedRequest)
    assert "bad temperature" in rejected.message
    limited = _error(429, {"code": "TooManyRequests", "message": "x"}, {"retry-after": "3"})
    assert isinstance(limited, UpstreamRateLimited)
    assert limited.retry_after_s == 3.0
    assert isinstance(
        _error(503, {"code": "ServiceUnavailable", "message": "x"}), UpstreamUnavailable
    )


# --- against the fake upstream --------------------------------------------------------------


@pytest.fixture(scope="module")
def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def fake(key_pair: rsa.RSAPrivateKey) -> Iterator[FakeUpstream]:
    public = key_pair.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_id = f"{TENANCY}/{USER}/{FINGERPRINT}"
    with FakeUpstream(
        api_keys=("sk-test",),
        models=("meta.llama-3.3-70b-instruct",),
        oci_public_keys={key_id: public},
    ) as server:
        yield server


@pytest.fixture
def oci_config(tmp_path: Path, key_pair: rsa.RSAPrivateKey) -> Path:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        key_pair.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = tmp_path / "config"
    config.write_text(
        f"[DEFAULT]\nuser={USER}\nfingerprint={FINGERPRINT}\ntenancy={TENANCY}\n"
        f"region=us-chicago-1\nkey_file={key_file}\n"
    )
    return config


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    client = HttpTransport(UpstreamSettings())
    await client.start()
    yield client
    await client.aclose()


def _backend(deployment: DeploymentSettings, transport: HttpTransport) -> HttpBackend:
    info = DeploymentInfo("llama", "oci_genai", deployment.model, deployment.region, 0)
    return HttpBackend(
        info=info,
        adapter=OciGenAIAdapter(deployment),
        signer=build_signer(deployment),
        transport=transport,
        timeouts=UpstreamTimeouts(),
    )


async def test_fake_accepts_a_signed_chat_with_compartment(
    fake: FakeUpstream, transport: HttpTransport, oci_config: Path
) -> None:
    deployment = _deployment(
        base_url=fake.oci_openai_base_url,
        auth="oci_config",
        config_file=str(oci_config),
        compartment_id=COMPARTMENT,
    )

    reply = await _backend(deployment, transport).complete(Operation.CHAT, dict(CHAT))

    assert json.loads(reply.body)["object"] == "chat.completion"
    assert reply.usage is not None
    record = fake.received[-1]
    assert record.auth == "signature"
    assert record.signature_verified is True
    assert record.headers["opc-compartment-id"] == COMPARTMENT


async def test_fake_streams_with_an_api_key(
    fake: FakeUpstream, transport: HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCI_GENAI_KEY", "sk-test")
    backend = _backend(_deployment(base_url=fake.oci_openai_base_url), transport)

    pieces = [piece async for piece in backend.stream(Operation.CHAT, dict(CHAT))]

    assert sum(p.finished_choices for p in pieces) == 1
    assert pieces[-1].usage_only
    assert fake.received[-1].auth == "bearer"

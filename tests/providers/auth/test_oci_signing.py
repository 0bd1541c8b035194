"""OCI request signing: signatures verified independently of the SDK, per draft-cavage."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tenantgate.errors import UpstreamAuthFailed
from tenantgate.providers.auth.oci_signing import (
    OciRequestSigner,
    build_oci_signer,
    config_file_signer,
)
from tenantgate.providers.base import UpstreamRequest

TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancy"
USER = "ocid1.user.oc1..aaaaaaaauser"
FINGERPRINT = "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34"
KEY_ID = f"{TENANCY}/{USER}/{FINGERPRINT}"
URL = "https://inference.generativeai.us-chicago-1.oci.oraclecloud.com/20231130/actions/chat"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def oci_config(tmp_path: Path, private_key: rsa.RSAPrivateKey) -> Path:
    key_file = tmp_path / "oci_api_key.pem"
    key_file.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    config = tmp_path / "config"
    config.write_text(
        "[DEFAULT]\nuser=ocid1.user.oc1..wrong\nfingerprint=aa:aa\ntenancy=x\nregion=us-ashburn-1\n"
        f"key_file={key_file}\n\n"
        f"[GATEWAY]\nuser={USER}\nfingerprint={FINGERPRINT}\ntenancy={TENANCY}\n"
        f"region=us-chicago-1\nkey_file={key_file}\n"
    )
    return config


def _request(body: bytes) -> UpstreamRequest:
    return UpstreamRequest(
        method="POST",
        url=URL,
        headers={"content-type": "application/json", "accept": "application/json"},
        body=body,
    )


def _verify(request: UpstreamRequest, public_key: rsa.RSAPublicKey) -> list[str]:
    """Rebuild the signing string from the request as sent and check the signature."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', request.headers["authorization"]))
    assert request.headers["authorization"].startswith("Signature ")
    assert params["keyId"] == KEY_ID
    assert params["algorithm"] == "rsa-sha256"
    assert params["version"] == "1"
    signed = params["headers"].split()
    lines = []
    for name in signed:
        if name == "(request-target)":
            lines.append("(request-target): post /20231130/actions/chat")
        else:
            lines.append(f"{name}: {request.headers[name]}")
    public_key.verify(
        base64.b64decode(params["signature"]),
        "\n".join(lines).encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return signed


def test_signature_covers_the_exact_body_and_verifies_with_the_public_key(
    oci_config: Path, private_key: rsa.RSAPrivateKey
) -> None:
    body = b'{"compartmentId":"ocid1.compartment.oc1..c","chatRequest":{"message":"h\xc3\xa9"}}'
    signer = build_oci_signer("oci_config", config_file=str(oci_config), profile="GATEWAY")

    signed = signer.sign(_request(body))

    assert _verify(signed, private_key.public_key()) == [
        "date",
        "(request-target)",
        "host",
        "content-length",
        "content-type",
        "x-content-sha256",
    ]
    assert (
        signed.headers["x-content-sha256"]
        == base64.b64encode(hashlib.sha256(body).digest()).decode()
    )
    assert signed.headers["content-length"] == str(len(body))
    assert signed.headers["host"] == "inference.generativeai.us-chicago-1.oci.oraclecloud.com"
    assert signed.headers["content-type"] == "application/json"
    assert signed.headers["accept"] == "application/json"
    assert signed.body == body
    assert signed.url == URL


def test_a_tampered_body_no_longer_matches_the_signed_digest(
    oci_config: Path, private_key: rsa.RSAPrivateKey
) -> None:
    signer = build_oci_signer("oci_config", config_file=str(oci_config), profile="GATEWAY")
    signed = signer.sign(_request(b'{"a":1}'))

    tampered = b'{"a":2}'

    assert (
        signed.headers["x-content-sha256"]
        != base64.b64encode(hashlib.sha256(tampered).digest()).decode()
    )


def test_each_request_is_signed_afresh(oci_config: Path, private_key: rsa.RSAPrivateKey) -> None:
    signer = build_oci_signer("oci_config", config_file=str(oci_config), profile="GATEWAY")

    first = signer.sign(_request(b"{}"))
    second = signer.sign(_request(b'{"b":2}'))

    _verify(first, private_key.public_key())
    _verify(second, private_key.public_key())
    assert first.headers["x-content-sha256"] != second.headers["x-content-sha256"]


def test_the_sdk_signer_is_built_lazily_once() -> None:
    built: list[int] = []

    def factory() -> object:
        built.append(1)
        return lambda prepared: prepared

    signer = OciRequestSigner(factory)
    assert built == []

    signer.sign(_request(b"{}"))
    signer.sign(_request(b"{}"))

    assert built == [1]


def test_principal_signers_touch_no_metadata_service_until_used() -> None:
    assert isinstance(build_oci_signer("instance_principal"), OciRequestSigner)
    assert isinstance(build_oci_signer("resource_principal"), OciRequestSigner)


def test_an_unreadable_config_fails_as_upstream_auth_failed(tmp_path: Path) -> None:
    signer = OciRequestSigner(config_file_signer(str(tmp_path / "missing"), "DEFAULT"))

    with pytest.raises(UpstreamAuthFailed, match="OCI credentials"):
        signer.sign(_request(b"{}"))


def test_repr_hides_credentials(oci_config: Path) -> None:
    signer = build_oci_signer("oci_config", config_file=str(oci_config), profile="GATEWAY")

    assert FINGERPRINT not in repr(signer)

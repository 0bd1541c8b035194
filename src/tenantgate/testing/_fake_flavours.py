"""Per-flavour rules of the fake upstream: who may call it and how its errors look.

Flavours and their credentials:

* ``openai`` (``/v1``): ``Authorization: Bearer <key>``; errors in OpenAI's
  ``{"error": {"message", "type", "param", "code"}}`` shape.
* ``azure`` (``/openai/...``): ``api-key: <key>`` or ``Authorization: Bearer <Entra token>``;
  auth, not-found, throttling and server errors use Azure's ``{"error": {"code", "message"}}``,
  request validation errors use OpenAI's shape (Azure passes those through).
* ``oci-openai`` (``/oci/openai/v1``): ``Authorization: Bearer <OCI GenAI API key>`` or an
  OCI request signature.  Signed calls must name the compartment in ``opc-compartment-id``
  (the ``oci-openai`` client also sends the legacy ``CompartmentId``; either is accepted),
  else 400.  Errors use OpenAI's shape.  Sources: oracle-samples/oci-openai
  ``src/oci_openai/oci_openai.py`` (``OPC_COMPARTMENT_ID_HEADER = "opc-compartment-id"``,
  ``COMPARTMENT_ID_HEADER = "CompartmentId"`` "for backward compatibility", both sent, and
  required for Generative AI), the OCI docs page "OCI OpenAI-Compatible Endpoints" (base
  ``https://inference.generativeai.<region>.oci.oraclecloud.com/openai/v1``).  The 400 status
  for a missing compartment is this fake's choice; no source shows the real answer.
* ``oci`` (``/oci/20231130``): OCI request signature; errors are ``{"code", "message"}`` with
  OCI's codes (InvalidParameter, NotAuthenticated, NotAuthorizedOrNotFound, TooManyRequests,
  InternalServerError, ...) and an ``opc-request-id`` header.

An empty key set means "accept any credential of that kind"; with no OCI public keys
configured, signatures are accepted unverified (``signature_verified`` stays None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from tenantgate.testing._fake_oci_signing import SignatureCheck, verify_signature
from tenantgate.testing._fake_outcome import JsonOutcome, encode_json
from tenantgate.testing._fake_recording import AuthKind, Flavour

_OPENAI_TYPES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}
_OCI_CODES = {
    400: "InvalidParameter",
    401: "NotAuthenticated",
    404: "NotAuthorizedOrNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
_OCI_MESSAGES = {
    401: "The required information to complete authentication was not provided or was incorrect.",
    404: "Authorization failed or requested resource not found.",
    429: "Too many requests for the user.",
}
_AZURE_401 = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide"
    " a valid key for an active subscription and use a correct regional API endpoint for your"
    " resource."
)
COMPARTMENT_HEADERS = ("opc-compartment-id", "compartmentid")


def retry_headers(retry_after_s: float | None) -> dict[str, str]:
    """``Retry-After`` (whole seconds, rounded up) and ``retry-after-ms``, or nothing."""
    if retry_after_s is None:
        return {}
    return {
        "Retry-After": str(math.ceil(retry_after_s)),
        "retry-after-ms": str(round(retry_after_s * 1000)),
    }


def error_outcome(
    flavour: Flavour,
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    param: str | None = None,
    retry_after_s: float | None = None,
    request_id: str = "",
) -> JsonOutcome:
    """An error response in the flavour's own shape."""
    headers = retry_headers(retry_after_s)
    default_type, default_code, default_message = _OPENAI_TYPES.get(
        status,
        ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}"),
    )
    text = message or default_message
    if flavour == "oci":
        headers["opc-request-id"] = request_id
        oci_code = code or _OCI_CODES.get(
            status, "InternalServerError" if status >= 500 else "InvalidParameter"
        )
        oci_message = message or _OCI_MESSAGES.get(status, text)
        return JsonOutcome(encode_json({"code": oci_code, "message": oci_message}), status, headers)
    if flavour == "azure" and status != 400:
        azure_message = _AZURE_401 if status == 401 and message is None else text
        body = {"error": {"code": code or str(status), "message": azure_message}}
        return JsonOutcome(encode_json(body), status, headers)
    error = {"message": text, "type": default_type, "param": param, "code": code or default_code}
    return JsonOutcome(encode_json({"error": error}), status, headers)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """The credentials each flavour accepts; an empty set accepts any credential of its kind."""

    api_keys: frozenset[str]
    azure_api_keys: frozenset[str]
    azure_entra_tokens: frozenset[str]
    oci_api_keys: frozenset[str]
    oci_public_keys: Mapping[str, rsa.RSAPublicKey] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthResult:
    """What credential a request presented and whether it passes; failures carry a status."""

    kind: AuthKind
    ok: bool
    status: int = 401
    reason: str = ""
    signature: SignatureCheck | None = None


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _key_result(kind: AuthKind, token: str, accepted: frozenset[str]) -> AuthResult:
    if accepted and token not in accepted:
        return AuthResult(kind, False, reason="unknown key")
    return AuthResult(kind, True)


def _signature_result(
    config: AuthConfig, method: str, target: str, headers: Mapping[str, str], body: bytes
) -> AuthResult:
    if not config.oci_public_keys:
        return AuthResult("signature", True)
    check = verify_signature(
        method=method, target=target, headers=headers, body=body, public_keys=config.oci_public_keys
    )
    return AuthResult("signature", check.ok, reason=check.reason, signature=check)


def authenticate(
    flavour: Flavour,
    config: AuthConfig,
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
) -> AuthResult:
    """Check a request's credentials against its flavour's rules (headers keyed lower-case)."""
    bearer = _bearer(headers)
    signed = headers.get("authorization", "").startswith("Signature ")
    if flavour == "openai":
        return (
            _key_result("bearer", bearer, config.api_keys) if bearer else AuthResult("none", False)
        )
    if flavour == "azure":
        if "api-key" in headers:
            return _key_result("api-key", headers["api-key"], config.azure_api_keys)
        if bearer:
            return _key_result("bearer", bearer, config.azure_entra_tokens)
        return AuthResult("none", False)
    if flavour == "oci-openai":
        if bearer:
            return _key_result("bearer", bearer, config.oci_api_keys)
        if not signed:
            return AuthResult("none", False)
        result = _signature_result(config, method, target, headers, body)
        if result.ok and not any(headers.get(name) for name in COMPARTMENT_HEADERS):
            return AuthResult(
                "signature", False, 400, "opc-compartment-id header is required", result.signature
            )
        return result
    if signed:
        return _signature_result(config, method, target, headers, body)
    kind: AuthKind = "bearer" if bearer else "none"
    return AuthResult(kind, not config.oci_public_keys)

"""Server-side check of OCI request signatures, done the way OCI's front door does it.

OCI signs with draft-cavage HTTP signatures (https://docs.oracle.com/en-us/iaas/Content/API/
Concepts/signingrequests.htm): ``Authorization: Signature version="1",keyId="<tenancy>/<user>/
<fingerprint>",algorithm="rsa-sha256",headers="...",signature="<base64>"``.  The signing
string is ``name: value`` lines for the listed headers, in order, joined by ``\\n``, where
``(request-target)`` is ``<lowercase method> <path?query>``.  GET/DELETE must sign at least
``date (request-target) host``; POST/PUT/PATCH must also sign ``content-length content-type
x-content-sha256``, and ``x-content-sha256`` must be the base64 SHA-256 of the body.  A date
more than five minutes off is refused, as OCI does.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MAX_CLOCK_SKEW_S = 300.0
GENERIC_HEADERS = ("date", "(request-target)", "host")
BODY_HEADERS = ("content-length", "content-type", "x-content-sha256")
_PARAM = re.compile(r'(\w+)="([^"]*)"')

PublicKeyInput = str | bytes | rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """Outcome of verifying one request: whether it passed, for which key, and why not."""

    ok: bool
    key_id: str | None
    reason: str = ""


def load_public_keys(keys: Mapping[str, PublicKeyInput]) -> dict[str, rsa.RSAPublicKey]:
    """Turn keyId -> PEM (or key object) into RSA public keys, failing early on bad input."""
    loaded: dict[str, rsa.RSAPublicKey] = {}
    for key_id, key in keys.items():
        if isinstance(key, rsa.RSAPublicKey):
            loaded[key_id] = key
            continue
        public = serialization.load_pem_public_key(key.encode() if isinstance(key, str) else key)
        if not isinstance(public, rsa.RSAPublicKey):
            raise TypeError(f"OCI signing key {key_id!r} is not an RSA public key")
        loaded[key_id] = public
    return loaded


def parse_signature(authorization: str) -> dict[str, str] | None:
    """The parameters of a ``Signature ...`` authorization header, or None if it is not one."""
    scheme, _, params = authorization.partition(" ")
    if scheme != "Signature":
        return None
    return dict(_PARAM.findall(params))


def _date_is_fresh(value: str | None, now_s: float) -> bool:
    if not value:
        return False
    try:
        sent = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return False
    return abs(now_s - sent) <= MAX_CLOCK_SKEW_S


def verify_signature(
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    public_keys: Mapping[str, rsa.RSAPublicKey],
    now_s: float | None = None,
) -> SignatureCheck:
    """Verify a request; ``headers`` must be keyed by lower-case names, ``target`` is path?query."""
    params = parse_signature(headers.get("authorization", ""))
    if params is None:
        return SignatureCheck(False, None, "no Signature authorization header")
    key_id = params.get("keyId")
    if params.get("version", "1") != "1" or params.get("algorithm") != "rsa-sha256":
        return SignatureCheck(False, key_id, "unsupported signature version or algorithm")
    public_key = public_keys.get(key_id or "")
    if public_key is None:
        return SignatureCheck(False, key_id, "unknown keyId")
    signed = params.get("headers", "date").lower().split()
    required = GENERIC_HEADERS + (
        BODY_HEADERS if method.upper() in ("POST", "PUT", "PATCH") else ()
    )
    missing = [
        name
        for name in required
        if name not in signed and not (name == "date" and "x-date" in signed)
    ]
    if missing:
        return SignatureCheck(False, key_id, f"required headers not signed: {' '.join(missing)}")
    if not _date_is_fresh(
        headers.get("x-date") or headers.get("date"), time.time() if now_s is None else now_s
    ):
        return SignatureCheck(False, key_id, "date missing or outside the allowed clock skew")
    if "x-content-sha256" in signed:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if headers.get("x-content-sha256") != digest or headers.get("content-length") != str(
            len(body)
        ):
            return SignatureCheck(
                False, key_id, "body does not match x-content-sha256/content-length"
            )
    lines = []
    for name in signed:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
        elif name in headers:
            lines.append(f"{name}: {headers[name]}")
        else:
            return SignatureCheck(False, key_id, f"signed header missing from request: {name}")
    try:
        public_key.verify(
            base64.b64decode(params.get("signature", "")),
            "\n".join(lines).encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return SignatureCheck(False, key_id, "signature does not verify")
    return SignatureCheck(True, key_id)

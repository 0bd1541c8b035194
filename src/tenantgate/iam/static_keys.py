"""Bearer tokens, and static API keys configured as SHA-256 digests (the keys are never stored)."""

from __future__ import annotations

import hashlib

from tenantgate.errors import InvalidApiKey, MissingApiKey
from tenantgate.iam.principal import Principal

_BEARER = "bearer "
_KEY_LENGTH_MAX = 512


def bearer_token(authorization: str | None) -> str:
    """The token of ``Authorization: Bearer <token>``, or MissingApiKey / InvalidApiKey."""
    if not authorization:
        raise MissingApiKey()
    if authorization[:7].lower() != _BEARER or len(authorization) > _KEY_LENGTH_MAX:
        raise InvalidApiKey("The Authorization header must be 'Bearer <key>'.")
    token = authorization[7:].strip()
    if not token:
        raise MissingApiKey()
    return token


class StaticKeys:
    """Keys listed in settings by digest: ungoverned inference keys for installs without a tenancy.

    Comparing digests in a set lookup reveals nothing about the key through timing: an
    attacker controls only the input of a one-way hash.
    """

    def __init__(self, key_sha256: list[str]) -> None:
        self._digests = {digest.strip().lower(): digest.strip().lower()[:8] for digest in key_sha256}

    def authenticate(self, token: str) -> Principal:
        """The static key's principal, or InvalidApiKey."""
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        short = self._digests.get(digest)
        if short is None:
            raise InvalidApiKey()
        return Principal(id=f"static-{short}", type="static-key")

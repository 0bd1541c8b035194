"""Authentication by static API keys configured as SHA-256 digests (the keys are never stored)."""

from __future__ import annotations

import hashlib

from tenantgate.errors import InvalidApiKey, MissingApiKey
from tenantgate.iam.principal import ANONYMOUS, Principal

_BEARER = "bearer "
_KEY_LENGTH_MAX = 512


class StaticKeyAuthenticator:
    """Checks ``Authorization: Bearer <key>`` against configured digests.

    Comparing digests in a set lookup reveals nothing about the key through timing: an
    attacker controls only the input of a one-way hash.
    """

    def __init__(self, *, required: bool, key_sha256: list[str]) -> None:
        self._required = required
        self._digests = {digest.strip().lower(): digest[:8] for digest in key_sha256}

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller's principal, or MissingApiKey / InvalidApiKey."""
        if not self._required:
            return ANONYMOUS
        if not authorization:
            raise MissingApiKey()
        if authorization[:7].lower() != _BEARER or len(authorization) > _KEY_LENGTH_MAX:
            raise InvalidApiKey("The Authorization header must be 'Bearer <key>'.")
        key = authorization[7:].strip()
        digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
        short = self._digests.get(digest)
        if short is None:
            raise InvalidApiKey()
        return Principal(id=f"key-{short}", type="apikey")

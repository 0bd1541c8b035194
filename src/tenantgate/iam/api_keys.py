"""API key secrets: minted once, shown once, stored only as a digest, recognisable when leaked.

A key has two secret slots that work interchangeably, so a secret can be rotated without
downtime (OCI Generative AI keys do the same): mint the other slot, move clients over,
revoke the old one. A secret reads::

    tg-<key id: 12 base32 chars><slot: 1 or 2>_<secret: 43 base62 chars, 256 bits>

The prefix and fixed shape let secret scanners find leaked keys (:data:`TOKEN_PATTERN`);
the key id and slot say which stored digest to compare, so verification is one lookup and
one constant-time comparison. Secrets are random and long, so a plain SHA-256 digest is
safe to store: there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from tenantgate.errors import InvalidApiKey

PREFIX = "tg-"
KEY_ID_LENGTH = 12
SECRET_LENGTH = 43
SLOTS = (1, 2)
TOKEN_PATTERN = re.compile(r"tg-([a-z2-7]{12})([12])_([0-9A-Za-z]{43})")
"""The exact shape of a secret; publish it to secret scanners."""

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

RandomChoice = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class MintedSecret:
    """A new secret: ``token`` goes to the caller once; the rest is what may be stored."""

    token: str
    key_id: str
    slot: int
    digest_sha256: str
    hint: str  # the last four characters, to tell secrets apart in listings


@dataclass(frozen=True, slots=True)
class PresentedSecret:
    """A well-formed secret as a client sent it."""

    key_id: str
    slot: int
    digest_sha256: str


def new_key_id(choice: RandomChoice = secrets.choice) -> str:
    """A fresh public key id (60 random bits; ids are not secret, only unique)."""
    return "".join(choice(_BASE32) for _ in range(KEY_ID_LENGTH))


def mint_secret(key_id: str, slot: int, choice: RandomChoice = secrets.choice) -> MintedSecret:
    """A new secret for ``slot`` of key ``key_id``; ``choice`` is injectable for tests."""
    if slot not in SLOTS:
        raise ValueError(f"an API key has secret slots {SLOTS}, not {slot}")
    if not re.fullmatch(r"[a-z2-7]{12}", key_id):
        raise ValueError(f"not an API key id: {key_id!r}")
    secret = "".join(choice(_BASE62) for _ in range(SECRET_LENGTH))
    token = f"{PREFIX}{key_id}{slot}_{secret}"
    return MintedSecret(token, key_id, slot, _digest(token), token[-4:])


def parse_presented(token: str) -> PresentedSecret:
    """Check the shape of a presented secret; anything else is InvalidApiKey."""
    match = TOKEN_PATTERN.fullmatch(token)
    if match is None:
        raise InvalidApiKey()
    return PresentedSecret(match.group(1), int(match.group(2)), _digest(token))


def matches(presented: PresentedSecret, stored_digest_sha256: str) -> bool:
    """Whether the presented secret is the stored one, compared in constant time."""
    return hmac.compare_digest(presented.digest_sha256, stored_digest_sha256)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()

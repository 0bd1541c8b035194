"""Authenticate a presented ``tg-`` key against an ``IdentitySnapshot``: pure, no I/O.

The digest of the presented secret is compared in constant time with the stored one;
unknown, malformed, revoked and wrong secrets are indistinguishable (InvalidApiKey). Only
a caller holding the right secret learns that it expired. An id the snapshot does not know
raises ``UnknownKeyId`` instead, so the cache can check once whether the key was minted on
another replica a moment ago.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from tenantgate.errors import ExpiredApiKey, InvalidApiKey
from tenantgate.iam.access_snapshot import IdentitySnapshot, KeyRecord
from tenantgate.iam.api_keys import PresentedSecret
from tenantgate.iam.principal import Principal


class UnknownKeyId(Exception):
    """The token is well formed but its key id is not in this snapshot (maybe not yet)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(key_id)
        self.key_id = key_id


def authenticate_key(
    snapshot: IdentitySnapshot, presented: PresentedSecret, now: datetime
) -> tuple[Principal, KeyRecord]:
    """The principal behind a well-formed token (``api_keys.parse_presented``) and its key."""
    record = snapshot.keys.get(presented.key_id)
    if record is None:
        raise UnknownKeyId(presented.key_id)
    secret = record.secrets.get(presented.slot)
    stored = secret.digest_sha256 if secret is not None else "0" * 64
    if not hmac.compare_digest(presented.digest_sha256, stored) or secret is None:
        raise InvalidApiKey()
    if record.revoked or secret.revoked:
        raise InvalidApiKey()
    if secret.expires_at is not None and secret.expires_at <= now:
        raise ExpiredApiKey()
    return principal_of(snapshot, record), record


def principal_of(snapshot: IdentitySnapshot, record: KeyRecord) -> Principal:
    """A user key acts as its user (with the user's groups); a service key acts as itself."""
    if record.owner_user_id is None:
        principal_id, principal_type, name = record.id, "apikey", record.name
        group_ids: frozenset[str] = frozenset()
        group_names: frozenset[str] = frozenset()
    else:
        user = snapshot.users.get(record.owner_user_id)
        if user is None:
            raise InvalidApiKey()
        principal_id, principal_type, name = user.id, "user", user.name
        group_ids, group_names = user.group_ids, user.group_names
    return Principal(
        id=principal_id, type=principal_type, name=name, key_id=record.id,
        home_compartment_id=record.compartment_id, group_ids=group_ids, group_names=group_names,
        allowed_models=record.allowed_models, allowed_ip_ranges=record.allowed_ip_ranges,
        governed=True,
    )

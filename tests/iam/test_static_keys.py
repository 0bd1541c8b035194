import hashlib

import pytest

from tenantgate.errors import InvalidApiKey, MissingApiKey
from tenantgate.iam.static_keys import StaticKeyAuthenticator

KEY = "tg-test-0123456789"
DIGEST = hashlib.sha256(KEY.encode()).hexdigest()


def test_auth_off_admits_anonymous_callers():
    assert StaticKeyAuthenticator(required=False, key_sha256=[]).authenticate(None).type == "anonymous"


def test_valid_key_authenticates_without_exposing_it():
    principal = StaticKeyAuthenticator(required=True, key_sha256=[DIGEST]).authenticate(f"Bearer {KEY}")
    assert principal.type == "apikey"
    assert KEY not in principal.id


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, MissingApiKey),
        ("", MissingApiKey),
        ("Basic abc", InvalidApiKey),
        ("Bearer wrong", InvalidApiKey),
        ("Bearer ' OR 1=1 --", InvalidApiKey),
        ("Bearer " + "x" * 5000, InvalidApiKey),
    ],
)
def test_missing_or_wrong_keys_are_rejected(header, error):
    with pytest.raises(error):
        StaticKeyAuthenticator(required=True, key_sha256=[DIGEST]).authenticate(header)

import hashlib

import pytest

from tenantgate.errors import InvalidApiKey, MissingApiKey
from tenantgate.iam.static_keys import StaticKeys, bearer_token

KEY = "tg-test-0123456789"
DIGEST = hashlib.sha256(KEY.encode()).hexdigest()


def test_valid_key_authenticates_as_an_ungoverned_static_principal_without_exposing_it():
    principal = StaticKeys([DIGEST]).authenticate(bearer_token(f"Bearer {KEY}"))
    assert principal.type == "static-key"
    assert not principal.governed
    assert KEY not in principal.id


def test_digests_are_matched_whatever_their_case_or_padding():
    assert StaticKeys([f"  {DIGEST.upper()} "]).authenticate(KEY).type == "static-key"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, MissingApiKey),
        ("", MissingApiKey),
        ("Bearer   ", MissingApiKey),
        ("Basic abc", InvalidApiKey),
        ("Bearer wrong", InvalidApiKey),
        ("Bearer ' OR 1=1 --", InvalidApiKey),
        ("Bearer " + "x" * 5000, InvalidApiKey),
    ],
)
def test_missing_or_wrong_keys_are_rejected(header, error):
    with pytest.raises(error):
        StaticKeys([DIGEST]).authenticate(bearer_token(header))

"""API key secrets: shape, one-way storage, constant-time match, two interchangeable slots."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantgate.errors import InvalidApiKey
from tenantgate.iam.api_keys import (
    TOKEN_PATTERN,
    matches,
    mint_secret,
    new_key_id,
    parse_presented,
)


def test_a_minted_secret_has_the_published_shape_and_is_stored_only_as_its_digest() -> None:
    minted = mint_secret(new_key_id(), 1)
    assert TOKEN_PATTERN.fullmatch(minted.token)
    assert minted.digest_sha256 == hashlib.sha256(minted.token.encode()).hexdigest()
    assert minted.token not in (minted.digest_sha256, minted.hint)
    assert minted.token.endswith(minted.hint)
    assert len(minted.hint) == 4


def test_a_presented_secret_names_its_key_and_slot_and_matches_its_digest() -> None:
    key_id = new_key_id()
    first, second = mint_secret(key_id, 1), mint_secret(key_id, 2)
    for minted in (first, second):
        presented = parse_presented(minted.token)
        assert (presented.key_id, presented.slot) == (key_id, minted.slot)
        assert matches(presented, minted.digest_sha256)
    assert not matches(parse_presented(first.token), second.digest_sha256)


def test_two_mints_never_repeat_a_secret() -> None:
    key_id = new_key_id()
    assert len({mint_secret(key_id, 1).token for _ in range(200)}) == 200


def test_minting_is_reproducible_with_an_injected_choice() -> None:
    first = mint_secret("abcdefghijkl", 2, choice=lambda alphabet: alphabet[0])
    assert first.token == "tg-abcdefghijkl2_" + "0" * 43


@pytest.mark.parametrize("token", [
    "", "tg-", "sk-abcdef", "tg-abcdefghijkl3_" + "a" * 43, "tg-ABCDEFGHIJKL1_" + "a" * 43,
    "tg-abcdefghijkl1_" + "a" * 42, "tg-abcdefghijkl1_" + "a" * 44,
    "tg-abcdefghijkl1_" + "a" * 42 + "'", "tg-abcdefghijkl1_' OR 1=1 --" + "a" * 29,
    " tg-abcdefghijkl1_" + "a" * 43,
])
def test_malformed_secrets_are_invalid_api_keys(token: str) -> None:
    with pytest.raises(InvalidApiKey):
        parse_presented(token)


@given(st.text(max_size=80))
def test_arbitrary_text_is_rejected_or_well_formed(token: str) -> None:
    try:
        presented = parse_presented(token)
    except InvalidApiKey:
        return
    assert TOKEN_PATTERN.fullmatch(token)
    assert presented.slot in (1, 2)


@pytest.mark.parametrize(("key_id", "slot"), [("short", 1), ("abcdefghijkl", 3)])
def test_minting_refuses_bad_ids_and_slots(key_id: str, slot: int) -> None:
    with pytest.raises(ValueError, match="API key"):
        mint_secret(key_id, slot)

"""Ledger values: what construction refuses, what it normalises, and the numbers that must
never change (flag bits, result values, the exported names)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tenantgate.ledger
from tenantgate.ledger import (
    AMOUNT_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    InvalidLedgerValue,
    PendingStatus,
    Transfer,
    TransferFlags,
    TransferRecord,
)
from tenantgate.ledger.model import (
    USER_DATA_LENGTH_MAX,
    JsonValue,
    _json_length_bound,
    canonical_json,
    expiry_id,
    settlement_status,
)
from tenantgate.ledger.tables import ledger_accounts

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": 1.5},
        {"amount": True},
        {"amount": -1},
        {"amount": AMOUNT_MAX + 1},
        {"id": "x" * 129},
        {"id": 7},
        {"ledger": "l" * 33},
        {"code": -1},
        {"timeout_s": 2**31},
        {"pending_id": "p" * 129},
        {"user_data": {"cost": 0.1}},
        {"user_data": {1: "a"}},
        {"user_data": ["x" * 3000]},
        {"user_data": object()},
    ],
)
def test_transfers_that_no_column_can_hold_are_refused_when_built(fields):
    values = {"id": "t", "amount": 1, **fields}
    with pytest.raises(InvalidLedgerValue):
        Transfer(**values)


def test_accounts_are_checked_the_same_way():
    with pytest.raises(InvalidLedgerValue):
        Account(id="a", ledger="credits", user_data={"limit": 1.0})
    with pytest.raises(InvalidLedgerValue):
        Account(id="a" * 129, ledger="credits")


def test_an_empty_pending_id_means_none_and_ledger_ids_may_carry_the_reserved_prefix():
    assert Transfer(id="t", amount=1, pending_id="").pending_id is None
    assert Transfer(id="~" + "p" * 128, amount=1).id.startswith("~")


def test_only_timed_pending_transfers_expire():
    timed = TransferRecord(
        transfer=Transfer(id="h", amount=1, flags=TransferFlags.PENDING, timeout_s=9), timestamp=T0
    )
    assert timed.expires_at == T0 + timedelta(seconds=9)
    assert (
        TransferRecord(
            transfer=Transfer(id="h", amount=1, flags=TransferFlags.PENDING), timestamp=T0
        ).expires_at
        is None
    )
    assert TransferRecord(transfer=Transfer(id="p", amount=1), timestamp=T0).expires_at is None


def test_settlement_status_and_expiry_ids():
    assert settlement_status(TransferFlags.POST_PENDING_TRANSFER) is PendingStatus.POSTED
    assert (
        settlement_status(TransferFlags.VOID_PENDING_TRANSFER | TransferFlags.LINKED) is PendingStatus.VOIDED
    )
    assert settlement_status(TransferFlags.EXPIRE_PENDING_TRANSFER) is PendingStatus.EXPIRED
    with pytest.raises(ValueError, match="not a settling"):
        settlement_status(TransferFlags.PENDING)
    assert expiry_id("req_1:hold") == "~req_1:hold"


def user_data_of_length(length: int, text: str) -> JsonValue:
    """``{"k": text * n, "n": 10 ** d}`` whose canonical JSON is exactly ``length`` characters."""
    k = ""
    while len(canonical_json({"k": k + text, "n": 0})) <= length:
        k += text
    value: JsonValue = {"k": k, "n": 10 ** (length - len(canonical_json({"k": k, "n": 0})))}
    assert len(canonical_json(value)) == length
    return value


@pytest.mark.parametrize(
    "text",
    ["x", 'a"b\\', "\n\t\x01", "é€😀", "\u2028\x7f"],
    ids=["plain", "escaped", "control", "non-ascii", "unescaped"],
)
def test_user_data_is_refused_exactly_when_its_canonical_json_passes_the_limit(text):
    longest = user_data_of_length(USER_DATA_LENGTH_MAX, text)
    assert Transfer(id="t", amount=1, user_data=longest).user_data == longest
    with pytest.raises(InvalidLedgerValue, match="longer than"):
        Transfer(id="t", amount=1, user_data=user_data_of_length(USER_DATA_LENGTH_MAX + 1, text))
    with pytest.raises(InvalidLedgerValue, match="longer than"):
        Account(id="a", ledger="credits", user_data=[longest])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=30,
)


@given(json_values)
def test_the_length_bound_that_spares_json_dumps_never_underestimates(value):
    assert _json_length_bound(value) >= len(canonical_json(value))


def test_canonical_json_tells_true_from_one_and_ignores_key_order():
    assert canonical_json({"a": True}) != canonical_json({"a": 1})
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


def test_flag_bits_are_tigerbeetles_and_match_the_check_constraints():
    assert [int(f) for f in TransferFlags] == [1, 2, 4, 8, 16, 32, 1 << 15]
    assert [int(f) for f in AccountFlags] == [2, 4, 8]
    checks = {c.name: str(c.sqltext) for c in ledger_accounts.constraints if c.name and "within" in c.name}
    assert (
        f"(flags & {int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)}) = 0"
        in checks["ck_ledger_accounts_debits_within_credits"]
    )
    assert (
        f"(flags & {int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)}) = 0"
        in checks["ck_ledger_accounts_credits_within_debits"]
    )


def test_result_values_are_stable_and_declared_in_precedence_order():
    for enum in (CreateTransferResult, CreateAccountResult):
        assert [m.value for m in enum] == list(range(len(enum)))
    assert CreateTransferResult.EXISTS.value == 33
    assert CreateTransferResult.EXCEEDS_CREDITS.code == "exceeds_credits"
    assert {r for r in CreateTransferResult if r.succeeded} == {
        CreateTransferResult.OK,
        CreateTransferResult.EXISTS,
    }
    assert {r for r in CreateAccountResult if r.succeeded} == {
        CreateAccountResult.OK,
        CreateAccountResult.EXISTS,
    }


def test_ledger_exports_exactly_its_public_api():
    assert sorted(tenantgate.ledger.__all__) == [
        "AMOUNT_MAX",
        "Account",
        "AccountBalance",
        "AccountFlags",
        "AccountRecord",
        "AccountResult",
        "CreateAccountResult",
        "CreateTransferResult",
        "InvalidLedgerValue",
        "LedgerStore",
        "MICROS_PER_CREDIT",
        "PendingStatus",
        "Transfer",
        "TransferFlags",
        "TransferRecord",
        "TransferResult",
        "balances_from_transfers",
        "find_violations",
    ]

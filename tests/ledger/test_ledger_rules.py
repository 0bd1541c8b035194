"""The pure rules: one table row per result code, and the precedence of the checks.

Precedence is tested as TigerBeetle's ``state_machine_tests.zig`` does it ("errors by
descending precedence"): start from a transfer that breaks everything, fix one thing at a
time, and watch the result walk down ``CreateTransferResult`` in declaration order.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from ledger_helpers import LEDGER, chart, hold, linked, pay, post, void

from tenantgate.ledger import (
    AMOUNT_MAX,
    Account,
    AccountBalance,
    AccountFlags,
    AccountRecord,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlags,
    TransferRecord,
)
from tenantgate.ledger._batch import LedgerState, run_accounts, run_transfers
from tenantgate.ledger.rules import Posting, decide_account, decide_transfer, expire

R = CreateTransferResult
F = TransferFlags
T0 = datetime(2025, 3, 1, tzinfo=UTC)
NOW = T0 + timedelta(seconds=30)
BIG = AMOUNT_MAX - 5


def record(transfer: Transfer, at: datetime = T0) -> TransferRecord:
    return TransferRecord(transfer=transfer, timestamp=at)


def account(a: Account, **balance: int) -> AccountRecord:
    return AccountRecord(account=a, balance=AccountBalance(**balance), created_at=T0)


def state() -> LedgerState:
    """``cust`` holds 100 with 10 held by ``h1``; ``h2`` was posted, ``h3`` voided, ``h4``
    expired, ``h5`` timed out unswept; ``big`` and ``huge`` sit near the BIGINT limit."""
    c = chart()
    accounts = [
        account(c["op"], debits_posted=100),
        account(c["cust"], credits_posted=100, debits_pending=10 + 10),
        account(c["rev"], credits_pending=10 + 10),
        account(c["cap"]),
        account(c["usd"]),
        account(Account(id="cust2", ledger=LEDGER), credits_posted=100),
        account(Account(id="big", ledger=LEDGER), debits_pending=BIG, debits_posted=BIG, credits_posted=BIG),
        account(
            Account(id="huge", ledger=LEDGER), credits_pending=BIG, credits_posted=BIG, debits_posted=BIG
        ),
    ]
    pending = [hold(f"h{i}", "cust", "rev", 10, timeout_s=60, user_data={"req": i}) for i in range(1, 6)]
    settlements = [
        record(
            post(
                "s2",
                "h2",
                4,
                debit_account_id="cust",
                credit_account_id="rev",
                ledger=LEDGER,
                code=2,
                user_data={"req": 2},
            )
        ),
        record(replace(void("v3", "h3"), amount=10, debit_account_id="cust", credit_account_id="rev")),
        record(Transfer(id="~h4", amount=10, flags=F.EXPIRE_PENDING_TRANSFER, pending_id="h4")),
    ]
    plain = record(pay("plain", "op", "cust", 100))
    return LedgerState(
        accounts=accounts,
        transfers=[
            *map(record, pending[:4]),
            record(pending[4], NOW - timedelta(seconds=60)),
            plain,
            *settlements,
        ],
        settlements=settlements,
    )


def decide(transfer: Transfer, at: datetime = NOW) -> R:
    decision = decide_transfer(transfer, state(), at)
    return R.OK if isinstance(decision, Posting) else decision


# One row per code the rules can return for a single transfer, in precedence order.
CASES: list[tuple[R, Transfer]] = [
    (R.OK, pay("t", "cust", "rev", 80)),
    (R.RESERVED_FLAG, pay("t", "cust", "rev", 1, flags=F.EXPIRE_PENDING_TRANSFER)),
    (R.RESERVED_FLAG, pay("t", "cust", "rev", 1, flags=TransferFlags(1 << 20))),
    (R.ID_MUST_NOT_BE_EMPTY, pay("", "cust", "rev", 1)),
    (R.ID_MUST_NOT_BE_RESERVED, pay("~t", "cust", "rev", 1)),
    (R.FLAGS_ARE_MUTUALLY_EXCLUSIVE, post("t", "h1", flags=F.VOID_PENDING_TRANSFER)),
    (R.FLAGS_ARE_MUTUALLY_EXCLUSIVE, post("t", "h1", flags=F.PENDING)),
    (R.FLAGS_ARE_MUTUALLY_EXCLUSIVE, void("t", "h1", flags=F.BALANCING_DEBIT)),
    (R.DEBIT_ACCOUNT_ID_MUST_NOT_EQUAL_CREDIT_ACCOUNT_ID, pay("t", "cust", "cust", 1)),
    (R.PENDING_ID_REQUIRED, Transfer(id="t", amount=1, flags=F.POST_PENDING_TRANSFER)),
    (R.PENDING_ID_MUST_NOT_BE_SET, pay("t", "cust", "rev", 1, pending_id="h1")),
    (R.PENDING_ID_MUST_NOT_EQUAL_ID, post("h1", "h1")),
    (R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER, pay("t", "cust", "rev", 1, timeout_s=5)),
    (R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER, post("t", "h1", timeout_s=5)),
    (R.AMOUNT_MUST_NOT_BE_ZERO, pay("t", "cust", "rev", 0)),
    (R.DEBIT_ACCOUNT_NOT_FOUND, pay("t", "nobody", "rev", 1)),
    (R.CREDIT_ACCOUNT_NOT_FOUND, pay("t", "cust", "nobody", 1)),
    (R.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER, pay("t", "cust", "usd", 1)),
    (R.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS, pay("t", "cust", "rev", 1, ledger="usd")),
    (R.PENDING_TRANSFER_NOT_FOUND, post("t", "nothing")),
    (R.PENDING_TRANSFER_NOT_PENDING, post("t", "plain")),
    (R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID, post("t", "h1", debit_account_id="op")),
    (R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID, post("t", "h1", credit_account_id="op")),
    (R.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER, post("t", "h1", ledger="usd")),
    (R.PENDING_TRANSFER_HAS_DIFFERENT_CODE, post("t", "h1", code=7)),
    (R.EXCEEDS_PENDING_TRANSFER_AMOUNT, post("t", "h1", 11)),
    (R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT, replace(void("t", "h1"), amount=9)),
    (R.EXISTS_WITH_DIFFERENT_FLAGS, pay("h1", "cust", "rev", 10, code=2)),
    (R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID, hold("h1", "cust2", "rev", 10, timeout_s=60)),
    (R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID, hold("h1", "cust", "op", 10, timeout_s=60)),
    (R.EXISTS_WITH_DIFFERENT_AMOUNT, hold("h1", "cust", "rev", 11, timeout_s=60)),
    (R.EXISTS_WITH_DIFFERENT_PENDING_ID, post("s2", "h1", 4)),
    (R.EXISTS_WITH_DIFFERENT_USER_DATA, hold("h1", "cust", "rev", 10, timeout_s=60, user_data={"req": True})),
    (R.EXISTS_WITH_DIFFERENT_TIMEOUT, hold("h1", "cust", "rev", 10, timeout_s=61, user_data={"req": 1})),
    (R.EXISTS_WITH_DIFFERENT_CODE, hold("h1", "cust", "rev", 10, timeout_s=60, user_data={"req": 1}, code=3)),
    (R.EXISTS, hold("h1", "cust", "rev", 10, timeout_s=60, user_data={"req": 1})),
    (R.EXISTS, post("s2", "h2", 4)),
    (R.PENDING_TRANSFER_ALREADY_POSTED, post("t", "h2")),
    (R.PENDING_TRANSFER_ALREADY_VOIDED, post("t", "h3")),
    (R.PENDING_TRANSFER_EXPIRED, post("t", "h4")),
    (R.PENDING_TRANSFER_EXPIRED, void("t", "h5")),
    (R.OVERFLOWS_DEBITS_PENDING, hold("t", "big", "rev", 6)),
    (R.OVERFLOWS_CREDITS_PENDING, hold("t", "op", "huge", 6)),
    (R.OVERFLOWS_DEBITS_POSTED, pay("t", "big", "rev", 6)),
    (R.OVERFLOWS_CREDITS_POSTED, pay("t", "op", "huge", 6)),
    (R.OVERFLOWS_DEBITS, pay("t", "big", "rev", 1)),
    (R.OVERFLOWS_CREDITS, pay("t", "op", "huge", 1)),
    (R.EXCEEDS_CREDITS, hold("t", "cust", "rev", 81)),
    (R.EXCEEDS_CREDITS, pay("t", "rev", "op", 1, flags=F.BALANCING_DEBIT)),
    (R.EXCEEDS_DEBITS, pay("t", "op", "cap", 1)),
    (R.EXCEEDS_DEBITS, pay("t", "cust", "rev", 1, flags=F.BALANCING_CREDIT)),
]


@pytest.mark.parametrize(
    ("expected", "transfer"), CASES, ids=[f"{i:02}-{c[0].code}" for i, c in enumerate(CASES)]
)
def test_each_result_code(expected, transfer):
    assert decide(transfer) is expected


def test_the_table_covers_every_single_transfer_code_in_precedence_order():
    listed = list(dict.fromkeys(code for code, _ in CASES))
    chain_only = {R.LINKED_EVENT_FAILED, R.LINKED_EVENT_CHAIN_OPEN}
    assert listed == [code for code in R if code not in chain_only]


def test_plain_transfer_errors_by_descending_precedence():
    steps = [
        (
            Transfer(
                id="",
                amount=0,
                debit_account_id="x",
                credit_account_id="x",
                ledger="usd",
                pending_id="h1",
                timeout_s=5,
                flags=F.EXPIRE_PENDING_TRANSFER | F.PENDING | F.POST_PENDING_TRANSFER,
            ),
            R.RESERVED_FLAG,
        ),
        (R.ID_MUST_NOT_BE_EMPTY, {"flags": F.PENDING | F.POST_PENDING_TRANSFER}),
        (R.ID_MUST_NOT_BE_RESERVED, {"id": "~h1"}),
        (R.FLAGS_ARE_MUTUALLY_EXCLUSIVE, {"id": "h1"}),
        (R.DEBIT_ACCOUNT_ID_MUST_NOT_EQUAL_CREDIT_ACCOUNT_ID, {"flags": F.NONE}),
        (R.PENDING_ID_MUST_NOT_BE_SET, {"credit_account_id": "y"}),
        (R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER, {"pending_id": None}),
        (R.AMOUNT_MUST_NOT_BE_ZERO, {"flags": F.NONE, "timeout_s": 0}),
        (R.DEBIT_ACCOUNT_NOT_FOUND, {"amount": 11}),
        (R.CREDIT_ACCOUNT_NOT_FOUND, {"debit_account_id": "cust2"}),
        (R.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER, {"credit_account_id": "usd"}),
        (R.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS, {"credit_account_id": "op"}),
        (R.EXISTS_WITH_DIFFERENT_FLAGS, {"ledger": LEDGER}),
        (R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID, {"flags": F.PENDING}),
        (R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID, {"debit_account_id": "cust"}),
        (R.EXISTS_WITH_DIFFERENT_AMOUNT, {"credit_account_id": "rev"}),
        (R.EXISTS_WITH_DIFFERENT_USER_DATA, {"amount": 10}),
        (R.EXISTS_WITH_DIFFERENT_TIMEOUT, {"user_data": {"req": 1}}),
        (R.EXISTS_WITH_DIFFERENT_CODE, {"timeout_s": 60}),
        (R.EXISTS, {"code": 2}),
        (
            R.OVERFLOWS_DEBITS_PENDING,
            {"id": "new", "debit_account_id": "big", "credit_account_id": "huge", "amount": 6},
        ),
        (R.OVERFLOWS_CREDITS_PENDING, {"debit_account_id": "cust2"}),
        (R.OVERFLOWS_DEBITS_POSTED, {"flags": F.NONE, "timeout_s": 0, "debit_account_id": "big"}),
        (R.OVERFLOWS_CREDITS_POSTED, {"debit_account_id": "cust2"}),
        (R.OVERFLOWS_DEBITS, {"debit_account_id": "big", "credit_account_id": "rev", "amount": 1}),
        (R.EXCEEDS_CREDITS, {"debit_account_id": "cust", "credit_account_id": "cap", "amount": 81}),
        (R.EXCEEDS_DEBITS, {"amount": 80}),
        (R.OK, {"credit_account_id": "rev"}),
    ]
    _walk(steps)


def test_post_and_void_errors_by_descending_precedence():
    steps = [
        (
            Transfer(
                id="t",
                amount=11,
                flags=F.VOID_PENDING_TRANSFER,
                timeout_s=5,
                debit_account_id="op",
                credit_account_id="op",
                ledger="usd",
                code=7,
                user_data={"req": 9},
            ),
            R.PENDING_ID_REQUIRED,
        ),
        (R.PENDING_ID_MUST_NOT_EQUAL_ID, {"pending_id": "t"}),
        (R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER, {"pending_id": "nothing", "id": "s2"}),
        (R.PENDING_TRANSFER_NOT_FOUND, {"timeout_s": 0}),
        (R.PENDING_TRANSFER_NOT_PENDING, {"pending_id": "plain"}),
        (R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID, {"pending_id": "h1"}),
        (R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID, {"debit_account_id": "cust"}),
        (R.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER, {"credit_account_id": ""}),
        (R.PENDING_TRANSFER_HAS_DIFFERENT_CODE, {"ledger": LEDGER}),
        (R.EXCEEDS_PENDING_TRANSFER_AMOUNT, {"code": 0}),
        (R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT, {"amount": 4}),
        (R.EXISTS_WITH_DIFFERENT_FLAGS, {"flags": F.POST_PENDING_TRANSFER | F.LINKED}),
        (R.EXISTS_WITH_DIFFERENT_AMOUNT, {"flags": F.POST_PENDING_TRANSFER, "amount": 5}),
        (R.EXISTS_WITH_DIFFERENT_PENDING_ID, {"amount": 4}),
        (R.EXISTS_WITH_DIFFERENT_USER_DATA, {"pending_id": "h2"}),
        (R.EXISTS, {"user_data": None}),
        (R.PENDING_TRANSFER_ALREADY_POSTED, {"id": "new"}),
        (R.PENDING_TRANSFER_ALREADY_VOIDED, {"pending_id": "h3"}),
        (R.PENDING_TRANSFER_EXPIRED, {"pending_id": "h4"}),
        (R.PENDING_TRANSFER_EXPIRED, {"pending_id": "h5"}),
        (R.OK, {"pending_id": "h1"}),
    ]
    _walk(steps)


def _walk(steps):
    transfer, first = steps[0]
    assert decide(transfer) is first
    previous = list(R).index(first)
    for expected, change in steps[1:]:
        transfer = replace(transfer, **change)
        assert decide(transfer) is expected, (change, decide(transfer))
        if expected is not R.OK:
            assert list(R).index(expected) >= previous
            previous = list(R).index(expected)


def test_post_and_void_start_below_the_field_checks():
    assert decide(Transfer(id="t", amount=1, flags=F.VOID_PENDING_TRANSFER)) is R.PENDING_ID_REQUIRED


def test_a_post_inherits_accounts_ledger_code_and_user_data_from_the_pending_transfer():
    decision = decide_transfer(post("t", "h1", 4), state(), NOW)
    assert isinstance(decision, Posting)
    t = decision.record.transfer
    assert (t.debit_account_id, t.credit_account_id, t.ledger, t.code, t.user_data) == (
        "cust",
        "rev",
        LEDGER,
        2,
        {"req": 1},
    )
    assert decision.debit_account.balance == AccountBalance(
        debits_pending=10, debits_posted=4, credits_posted=100
    )
    assert decision.credit_account.balance == AccountBalance(credits_pending=10, credits_posted=4)


@pytest.mark.parametrize(
    ("submitted", "recorded"),
    [
        (hold("t", "cust", "rev", 5, timeout_s=9), hold("t", "cust", "rev", 5, timeout_s=9)),
        (
            pay("t", "cust", "rev", 500, flags=F.BALANCING_DEBIT),
            pay("t", "cust", "rev", 80, flags=F.BALANCING_DEBIT),
        ),
        (
            post("t", "h1", 4, user_data=[1]),
            Transfer(
                id="t",
                amount=4,
                debit_account_id="cust",
                credit_account_id="rev",
                ledger=LEDGER,
                code=2,
                flags=F.POST_PENDING_TRANSFER,
                pending_id="h1",
                user_data=[1],
            ),
        ),
        (
            void("t", "h1"),
            Transfer(
                id="t",
                amount=10,
                debit_account_id="cust",
                credit_account_id="rev",
                ledger=LEDGER,
                code=2,
                flags=F.VOID_PENDING_TRANSFER,
                pending_id="h1",
                user_data={"req": 1},
            ),
        ),
    ],
    ids=["hold", "balancing", "post", "void"],
)
def test_the_recorded_transfer_is_what_a_checked_construction_of_it_gives(submitted, recorded):
    decision = decide_transfer(submitted, state(), NOW)
    assert isinstance(decision, Posting)
    assert decision.record == TransferRecord(transfer=recorded, timestamp=NOW)
    assert type(decision.record.transfer.flags) is TransferFlags


def test_expiry_releases_the_pending_amount_and_only_after_the_timeout():
    s = state()
    h1 = s.transfer("h1")
    assert h1 is not None
    with pytest.raises(ValueError, match="has not expired"):
        expire(h1, s, T0 + timedelta(seconds=59))
    expiry = expire(h1, s, T0 + timedelta(seconds=60))
    assert (expiry.record.id, expiry.record.transfer.pending_id, expiry.record.transfer.amount) == (
        "~h1",
        "h1",
        10,
    )
    assert expiry.debit_account.balance == AccountBalance(debits_pending=10, credits_posted=100)


def test_a_linked_chain_is_all_or_nothing_and_sees_its_own_effects():
    s = state()
    chain = [linked(hold("a", "cust", "rev", 50)), linked(post("b", "a", 20)), pay("c", "cust", "rev", 61)]
    stamps = [NOW + timedelta(microseconds=i) for i in range(5)]
    tail = [pay("d", "cust", "rev", 60), linked(pay("e", "cust", "rev", 1))]
    assert run_transfers([*chain, *tail], s, stamps) == [
        R.LINKED_EVENT_FAILED,
        R.LINKED_EVENT_FAILED,
        R.EXCEEDS_CREDITS,
        R.OK,
        R.LINKED_EVENT_CHAIN_OPEN,
    ]
    assert [r.id for r in s.created] == ["d"]
    assert s.transfer("a") is None
    assert s.changed_balances()[0][2] == AccountBalance(
        debits_pending=20, debits_posted=60, credits_posted=100
    )


def test_an_exists_in_a_chain_with_new_members_fails_the_chain():
    s = state()
    chain = [
        linked(pay("n", "cust", "rev", 1)),
        hold("h1", "cust", "rev", 10, timeout_s=60, user_data={"req": 1}),
    ]
    assert run_transfers(chain, s, [NOW, NOW]) == [R.LINKED_EVENT_FAILED, R.EXISTS]
    assert s.created == []


def test_pending_bookkeeping_of_a_batch():
    s = state()
    batch = [hold("a", "cust", "rev", 5), hold("b", "cust", "rev", 5), post("pa", "a"), void("v1", "h1")]
    assert run_transfers(batch, s, [NOW + timedelta(microseconds=i) for i in range(4)]) == [R.OK] * 4
    assert [r.id for r in s.opened_pending()] == ["b"]
    assert s.closed_pending_ids() == ["h1"]


def test_account_rules_in_precedence_order():
    stored = account(Account(id="a", ledger=LEDGER, code=1, user_data="owner"))
    both = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    A = CreateAccountResult
    cases = [
        (A.RESERVED_FLAG, Account(id="", ledger="", flags=AccountFlags(1)), stored),
        (A.ID_MUST_NOT_BE_EMPTY, Account(id="", ledger="", flags=both), stored),
        (A.EXISTS_WITH_DIFFERENT_FLAGS, Account(id="a", ledger="", flags=both), stored),
        (A.EXISTS_WITH_DIFFERENT_USER_DATA, Account(id="a", ledger=""), stored),
        (A.EXISTS_WITH_DIFFERENT_LEDGER, Account(id="a", ledger="", user_data="owner"), stored),
        (A.EXISTS_WITH_DIFFERENT_CODE, Account(id="a", ledger=LEDGER, user_data="owner"), stored),
        (A.EXISTS, Account(id="a", ledger=LEDGER, code=1, user_data="owner"), stored),
        (A.FLAGS_ARE_MUTUALLY_EXCLUSIVE, Account(id="b", ledger="", flags=both), None),
        (A.LEDGER_MUST_NOT_BE_EMPTY, Account(id="b", ledger=""), None),
        (A.OK, Account(id="b", ledger=LEDGER), None),
    ]
    assert [decide_account(a, existing) for _, a, existing in cases] == [expected for expected, _, _ in cases]
    assert [expected for expected, _, _ in cases] == [*list(A)[1:], A.OK]


def test_an_account_batch_creates_each_id_once():
    a = Account(id="a", ledger=LEDGER)
    results, created = run_accounts([a, a, replace(a, code=2)], {}, T0)
    assert results == [
        CreateAccountResult.OK,
        CreateAccountResult.EXISTS,
        CreateAccountResult.EXISTS_WITH_DIFFERENT_CODE,
    ]
    assert [r.id for r in created] == ["a"]

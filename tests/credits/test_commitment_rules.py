"""The pure rules of commitments: validation, spending order, closed months and forfeits."""

from dataclasses import replace

import pytest
from credit_helpers import CREDIT, at

from tenantgate.credits import accounts as names
from tenantgate.credits.commitments import (
    Commitment,
    CommitmentKind,
    check_commitment,
    closed_months,
    commitment_account,
    due_forfeits,
    forfeit_ids,
    grant_transfer,
    spending_order,
)
from tenantgate.errors import InvalidParameterValue
from tenantgate.ledger import AMOUNT_MAX, AccountBalance, AccountFlags, TransferFlags

K = CommitmentKind


START, END = at(2026, 1, 1), at(2027, 1, 1)


def commitment(id="cmt_a", kind=K.ANNUAL, amount=1200 * CREDIT, starts=START, ends=END,
               allotment=None, overage=0) -> Commitment:
    return Commitment(id, "test", kind, amount, starts, ends, allotment, overage, at(2025, 12, 1))


def flex(**fields) -> Commitment:
    return commitment(kind=K.MONTHLY_FLEX, allotment=100 * CREDIT, **fields)


@pytest.mark.parametrize(("changes", "param"), [
    ({"name": ""}, "name"),
    ({"name": " padded"}, "name"),
    ({"amount": -1}, "amount"),
    ({"amount": 1.5}, "amount"),
    ({"amount": 0}, "amount"),
    ({"overage_allowance": -1}, "overage_allowance"),
    ({"amount": AMOUNT_MAX, "overage_allowance": 1}, "amount"),
    ({"ends_at": None}, "ends_at"),
    ({"ends_at": at(2026, 1, 1)}, "ends_at"),
    ({"starts_at": at(2026, 1, 1).replace(tzinfo=None)}, "starts_at"),
    ({"monthly_allotment": 5}, "monthly_allotment"),
])
def test_check_commitment_names_the_first_wrong_field(changes, param):
    with pytest.raises(InvalidParameterValue) as caught:
        check_commitment(replace(commitment(), **changes))
    assert caught.value.param == param


@pytest.mark.parametrize("allotment", [None, 0, 1201 * CREDIT])
def test_a_flex_commitment_needs_an_allotment_within_its_amount(allotment):
    with pytest.raises(InvalidParameterValue) as caught:
        check_commitment(replace(flex(), monthly_allotment=allotment))
    assert caught.value.param == "monthly_allotment"


def test_payg_may_be_endless_and_unfunded():
    payg = commitment(kind=K.PAYG, amount=0, ends=None)
    assert check_commitment(payg) is payg
    assert grant_transfer(payg) is None
    assert commitment_account(payg).flags == AccountFlags.NONE


def test_the_grant_is_one_fixed_transfer_of_amount_plus_overage():
    c = commitment(overage=50 * CREDIT)
    grant = grant_transfer(c)
    assert grant is not None
    assert (grant.id, grant.debit_account_id, grant.credit_account_id, grant.amount, grant.code) == (
        "grant:cmt_a", names.ISSUER, "cmt:cmt_a", 1250 * CREDIT, names.TransferCode.GRANT)
    assert commitment_account(c).flags == AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def test_spending_order_is_earliest_expiry_first_and_payg_last():
    now = at(2026, 6, 1)
    late = commitment("cmt_late", ends=at(2027, 6, 1))
    early = commitment("cmt_early", ends=at(2026, 12, 1))
    flexible = flex(id="cmt_flex")
    payg_ending = commitment("cmt_payg1", kind=K.PAYG, ends=at(2026, 7, 1))
    payg = commitment("cmt_payg2", kind=K.PAYG, ends=None)
    future = commitment("cmt_future", starts=at(2026, 7, 1), ends=at(2026, 8, 1))
    ended = commitment("cmt_ended", starts=at(2025, 1, 1), ends=now)
    ordered = spending_order([payg, late, ended, payg_ending, flexible, future, early], now)
    assert [c.id for c in ordered] == ["cmt_early", "cmt_flex", "cmt_late", "cmt_payg1", "cmt_payg2"]


def test_closed_months_are_the_calendar_months_ended_before_the_commitment_ends():
    c = flex()
    assert closed_months(c, at(2026, 1, 31, 23, 59)) == []
    assert closed_months(c, at(2026, 2, 1)) == ["2026-01"]
    assert closed_months(c, at(2026, 3, 15)) == ["2026-01", "2026-02"]
    assert closed_months(c, at(2030, 1, 1))[-1] == "2026-11"  # December is the final forfeit's
    assert len(closed_months(c, at(2030, 1, 1))) == 11
    assert closed_months(commitment(), at(2030, 1, 1)) == []


def test_forfeit_ids_cover_every_closed_month_and_the_end():
    assert forfeit_ids(flex(), at(2026, 3, 2)) == ["forfeit:cmt_a:2026-01", "forfeit:cmt_a:2026-02", "forfeit:cmt_a"]
    assert forfeit_ids(commitment(kind=K.PAYG, ends=None), at(2030, 1, 1)) == []


def balance(granted, spent=0, held=0, forfeited=0) -> AccountBalance:
    return AccountBalance(debits_pending=held, debits_posted=spent + forfeited, credits_posted=granted)


def test_a_flex_month_forfeits_its_unused_allotment_cumulatively():
    c = flex()
    due = due_forfeits(c, balance(1200 * CREDIT, spent=30 * CREDIT), set(), at(2026, 2, 1))
    assert [(t.id, t.amount) for t in due] == [("forfeit:cmt_a:2026-01", 70 * CREDIT)]
    assert due[0].flags == TransferFlags.BALANCING_DEBIT
    assert due[0].credit_account_id == names.ISSUER
    # February spent 150 (ahead of its allotment): 200 - (30 + 70 + 150) < 0, nothing is lost.
    gone = balance(1200 * CREDIT, spent=180 * CREDIT, forfeited=70 * CREDIT)
    assert due_forfeits(c, gone, {"forfeit:cmt_a:2026-01"}, at(2026, 3, 1)) == []
    # March spent nothing: 300 - 250 = 50 is lost.
    due = due_forfeits(c, gone, {"forfeit:cmt_a:2026-01"}, at(2026, 4, 1))
    assert [(t.id, t.amount) for t in due] == [("forfeit:cmt_a:2026-03", 50 * CREDIT)]


def test_missed_months_are_forfeited_in_order_and_never_beyond_the_available_balance():
    c = flex()
    due = due_forfeits(c, balance(1200 * CREDIT, spent=1000 * CREDIT), set(), at(2026, 12, 15))
    assert [(t.id[-7:], t.amount) for t in due] == [("2026-11", 100 * CREDIT)]
    due = due_forfeits(c, balance(1200 * CREDIT, held=1150 * CREDIT), set(), at(2026, 3, 1))
    assert [t.amount for t in due] == [50 * CREDIT]


def test_the_final_forfeit_sweeps_everything_once_no_hold_is_open():
    c = commitment()
    assert due_forfeits(c, balance(1200 * CREDIT, spent=200 * CREDIT), set(), at(2026, 12, 31)) == []
    (final,) = due_forfeits(c, balance(1200 * CREDIT, spent=200 * CREDIT), set(), at(2027, 1, 1))
    assert (final.id, final.amount, final.flags) == ("forfeit:cmt_a", AMOUNT_MAX, TransferFlags.BALANCING_DEBIT)
    assert due_forfeits(c, balance(1200 * CREDIT, held=1), set(), at(2027, 1, 1)) == []
    assert due_forfeits(c, balance(1200 * CREDIT, spent=1200 * CREDIT), set(), at(2027, 1, 1)) == []
    assert due_forfeits(c, balance(1200 * CREDIT), {"forfeit:cmt_a"}, at(2027, 1, 1)) == []

"""The pure rules of budgets: validation, chain order, thresholds, corrections and the forecast."""

from dataclasses import replace
from datetime import timedelta

import pytest
from credit_helpers import CREDIT, at

from tenantgate.credits import accounts as names
from tenantgate.credits.accounts import Period
from tenantgate.credits.budgets import (
    Budget,
    budget_account,
    chain_order,
    check_budget,
    correction_transfer,
    crossed_thresholds,
    forecast_exhaustion,
    funding_from,
    funding_transfer,
    is_spend,
    period_bounds,
)
from tenantgate.errors import InvalidParameterValue
from tenantgate.ledger import AMOUNT_MAX, AccountFlags, Transfer, TransferFlags


def budget(id="bud_a", scope_type="key", scope_id="key_1", period=Period.MONTHLY, limit=100 * CREDIT,
           hard=True, thresholds=(50, 80, 100)) -> Budget:
    return Budget(id, "b", scope_type, scope_id, period, limit, hard, thresholds, None, at(2026, 1, 10))


@pytest.mark.parametrize(("changes", "param"), [
    ({"name": ""}, "name"),
    ({"scope_type": "group"}, "scope_type"),
    ({"scope_id": ""}, "scope_id"),
    ({"scope_type": "tenancy", "scope_id": "cmp_root"}, "scope_id"),
    ({"limit": -1}, "limit"),
    ({"limit": True}, "limit"),
    ({"thresholds": (0,)}, "thresholds"),
    ({"thresholds": (1001,)}, "thresholds"),
    ({"webhook_url": "ftp://example.test"}, "webhook_url"),
])
def test_check_budget_names_the_wrong_field(changes, param):
    with pytest.raises(InvalidParameterValue) as caught:
        check_budget(replace(budget(), **changes))
    assert caught.value.param == param


def test_check_budget_sorts_and_deduplicates_thresholds():
    assert check_budget(budget(thresholds=(100, 50, 50, 80))).thresholds == (50, 80, 100)


def test_chain_order_is_key_user_compartments_as_given_then_tenancy():
    found = [
        budget("t", "tenancy", "tenancy"), budget("root", "compartment", "cmp_root"),
        budget("u", "user", "usr_1"), budget("leaf", "compartment", "cmp_leaf"),
        budget("kd", "key", "key_1", Period.DAILY), budget("km", "key", "key_1"),
        budget("mid", "compartment", "cmp_mid"), budget("other", "user", "usr_2"),
    ]
    ordered = chain_order(found, key_id="key_1", user_id="usr_1",
                          compartment_ids=["cmp_leaf", "cmp_mid", "cmp_root"])
    assert [b.id for b in ordered] == ["kd", "km", "u", "leaf", "mid", "root", "t"]


def test_thresholds_are_crossed_by_exact_integer_arithmetic():
    assert crossed_thresholds((50, 80, 100), 100 * CREDIT, 50 * CREDIT - 1) == ()
    assert crossed_thresholds((50, 80, 100), 100 * CREDIT, 50 * CREDIT) == (50,)
    assert crossed_thresholds((50, 80, 100), 3, 3) == (50, 80, 100)
    assert crossed_thresholds((50, 80, 100, 150), 100, 120) == (50, 80, 100)
    assert crossed_thresholds((50,), 0, 0) == ()
    assert crossed_thresholds((50,), 0, 1) == (50,)


def test_period_bounds_in_utc():
    b = budget()
    assert period_bounds(b, at(2026, 12, 15, 9)) == (at(2026, 12, 1), at(2027, 1, 1))
    assert period_bounds(replace(b, period=Period.DAILY), at(2026, 3, 2, 9)) == (at(2026, 3, 2), at(2026, 3, 3))
    assert period_bounds(replace(b, period=Period.LIFETIME), at(2030, 1, 1)) == (at(2026, 1, 10), None)


def test_the_budget_account_carries_the_limit_only_when_hard():
    assert budget_account(budget(), "2026-01").flags == AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    assert budget_account(budget(hard=False), "2026-01").flags == AccountFlags.NONE
    assert budget_account(budget(), "2026-01").id == "bud:bud_a:2026-01"


def test_corrections_raise_from_the_issuer_and_lower_back_to_it_by_balancing():
    assert correction_transfer("bud_a", "2026-01", 1, limit=100, funded=100) is None
    up = correction_transfer("bud_a", "2026-01", 1, limit=150, funded=100)
    assert up is not None
    assert (up.id, up.debit_account_id, up.credit_account_id, up.amount, up.flags) == (
        "corr:bud_a:2026-01:1", names.ISSUER, "bud:bud_a:2026-01", 50, TransferFlags.NONE)
    down = correction_transfer("bud_a", "2026-01", 2, limit=40, funded=150)
    assert down is not None
    assert (down.debit_account_id, down.credit_account_id, down.amount, down.flags) == (
        "bud:bud_a:2026-01", names.ISSUER, 110, TransferFlags.BALANCING_DEBIT)
    assert isinstance(down.user_data, dict)
    assert down.user_data["limit"] == 40


def test_funding_is_the_funding_plus_raises_minus_lowerings():
    account = "bud:bud_a:2026-01"
    fund = funding_transfer("bud_a", "2026-01", 100)
    up = correction_transfer("bud_a", "2026-01", 1, limit=150, funded=100)
    down = correction_transfer("bud_a", "2026-01", 2, limit=90, funded=150)
    assert fund is not None
    assert up is not None
    assert down is not None
    found = funding_from([fund, up, down], account)
    assert (found.funded, found.lowered) == (90, 60)
    assert funding_transfer("bud_a", "2026-01", 0) is None


def test_only_settled_holds_and_overages_count_as_spend():
    account = "bud:bud_a:2026-01"

    def t(flags=TransferFlags.NONE, code=names.TransferCode.HOLD, debit=account) -> Transfer:
        return Transfer(id="x", debit_account_id=debit, credit_account_id=names.BUDGETS, amount=1,
                        ledger=names.LEDGER, code=code, flags=flags)

    assert is_spend(t(TransferFlags.POST_PENDING_TRANSFER), account)
    assert is_spend(t(TransferFlags.BALANCING_DEBIT, names.TransferCode.OVERAGE), account)
    assert not is_spend(t(TransferFlags.PENDING), account)
    assert not is_spend(t(TransferFlags.VOID_PENDING_TRANSFER), account)
    assert not is_spend(t(TransferFlags.BALANCING_DEBIT, names.TransferCode.CORRECTION), account)
    assert not is_spend(t(TransferFlags.POST_PENDING_TRANSFER, debit="bud:other:2026-01"), account)


def test_the_forecast_extrapolates_the_burn_rate_within_the_period():
    now = at(2026, 3, 10, 12)
    start = now - timedelta(days=7)
    assert forecast_exhaustion(burned=700, window_start=start, now=now, remaining=200,
                               period_end=at(2026, 4, 1)) == at(2026, 3, 12, 12)
    assert forecast_exhaustion(burned=35, window_start=start, now=now, remaining=200,
                               period_end=at(2026, 4, 1)) is None  # the limit resets first
    assert forecast_exhaustion(burned=0, window_start=start, now=now, remaining=200, period_end=None) is None
    assert forecast_exhaustion(burned=1, window_start=start, now=now, remaining=AMOUNT_MAX, period_end=None) is None
    assert forecast_exhaustion(burned=10, window_start=start, now=now, remaining=0, period_end=None) == now

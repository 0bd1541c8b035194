"""``LedgerStore`` on SQLite and PostgreSQL: grants, holds, posts, voids, expiry, retries,
linked chains and corrections, each followed by a full invariant check."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from ledger_helpers import CORRECTION, LEDGER, check_invariants, hold, linked, pay, post, void
from sqlalchemy.exc import IntegrityError

from tenantgate.ledger import (
    AMOUNT_MAX,
    Account,
    AccountBalance,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tenantgate.ledger.tables import ledger_accounts

R = CreateTransferResult


async def results(store, *transfers):
    return [r.result for r in await store.create_transfers(list(transfers))]


async def balance(store, account_id):
    (record,) = await store.lookup_accounts([account_id])
    return record.balance


async def funded(store, amount=1_000):
    assert await results(store, pay("grant-1", "op", "cust", amount)) == [R.OK]


async def test_grant_credits_the_customer_and_debits_the_operator(store, accounts):
    await funded(store, 1_000)
    assert await balance(store, "cust") == AccountBalance(credits_posted=1_000)
    assert await balance(store, "op") == AccountBalance(debits_posted=1_000)
    await check_invariants(store)


async def test_hold_reserves_against_the_limit_and_leaves_posted_unchanged(store, accounts):
    await funded(store, 100)
    assert await results(store, hold("h1", "cust", "rev", 60)) == [R.OK]
    assert await balance(store, "cust") == AccountBalance(debits_pending=60, credits_posted=100)
    assert await balance(store, "rev") == AccountBalance(credits_pending=60)
    assert await results(store, hold("h2", "cust", "rev", 41)) == [R.EXCEEDS_CREDITS]
    assert await results(store, hold("h3", "cust", "rev", 40)) == [R.OK]
    await check_invariants(store)


async def test_partial_post_moves_the_cost_and_releases_the_rest(store, accounts):
    await funded(store, 100)
    await results(store, hold("h1", "cust", "rev", 60))
    assert await results(store, post("s1", "h1", 25)) == [R.OK]
    assert await balance(store, "cust") == AccountBalance(debits_posted=25, credits_posted=100)
    assert await balance(store, "rev") == AccountBalance(credits_posted=25)
    (settlement,) = await store.lookup_transfers(["s1"])
    assert (settlement.transfer.debit_account_id, settlement.transfer.credit_account_id) == ("cust", "rev")
    assert (settlement.transfer.amount, settlement.transfer.code, settlement.transfer.ledger) == (
        25,
        2,
        LEDGER,
    )
    await check_invariants(store)


async def test_post_of_amount_max_posts_the_whole_hold_and_zero_posts_nothing(store, accounts):
    await funded(store, 100)
    await results(store, hold("h1", "cust", "rev", 30), hold("h2", "cust", "rev", 30))
    assert await results(store, post("s1", "h1"), post("s2", "h2", 0)) == [R.OK, R.OK]
    assert await balance(store, "cust") == AccountBalance(debits_posted=30, credits_posted=100)
    assert [t.transfer.amount for t in await store.lookup_transfers(["s1", "s2"])] == [30, 0]
    await check_invariants(store)


async def test_void_releases_the_whole_hold(store, accounts):
    await funded(store, 100)
    await results(store, hold("h1", "cust", "rev", 60))
    assert await results(store, void("v1", "h1")) == [R.OK]
    assert await balance(store, "cust") == AccountBalance(credits_posted=100)
    assert await results(store, hold("h2", "cust", "rev", 100)) == [R.OK]
    await check_invariants(store)


async def test_a_pending_transfer_is_settled_at_most_once(store, accounts):
    await funded(store, 100)
    await results(store, hold("h1", "cust", "rev", 10), hold("h2", "cust", "rev", 10))
    assert await results(store, post("s1", "h1", 5), void("v2", "h2")) == [R.OK, R.OK]
    assert await results(store, post("s1b", "h1", 5), void("v1", "h1"), post("s2", "h2")) == [
        R.PENDING_TRANSFER_ALREADY_POSTED,
        R.PENDING_TRANSFER_ALREADY_POSTED,
        R.PENDING_TRANSFER_ALREADY_VOIDED,
    ]
    await check_invariants(store)


async def test_expired_hold_is_released_by_the_sweep_and_cannot_be_settled_afterwards(store, accounts, clock):
    await funded(store, 100)
    clock.advance(seconds=1)  # so h1's timestamp is exactly the clock's (ticks only break ties)
    await results(store, hold("h1", "cust", "rev", 70, timeout_s=30), hold("h2", "cust", "rev", 10))
    clock.advance(seconds=29)
    assert await store.expire_pending() == 0
    clock.advance(seconds=1)
    assert await store.expire_pending() == 1
    assert await balance(store, "cust") == AccountBalance(debits_pending=10, credits_posted=100)
    (expiry,) = await store.lookup_transfers(["~h1"])
    assert expiry.transfer.flags == TransferFlags.EXPIRE_PENDING_TRANSFER
    assert (expiry.transfer.pending_id, expiry.transfer.amount) == ("h1", 70)
    assert await results(store, post("s1", "h1"), void("v1", "h1")) == [R.PENDING_TRANSFER_EXPIRED] * 2
    assert await store.expire_pending() == 0
    assert [t.id for t in await store.pending_transfers()] == ["h2"]
    await check_invariants(store)


async def test_post_after_the_timeout_but_before_the_sweep_is_refused_as_expired(store, accounts, clock):
    await funded(store, 100)
    clock.advance(seconds=1)
    await results(store, hold("h1", "cust", "rev", 70, timeout_s=5))
    clock.advance(seconds=5)
    assert await results(store, post("s1", "h1", 10)) == [R.PENDING_TRANSFER_EXPIRED]
    assert await balance(store, "cust") == AccountBalance(debits_pending=70, credits_posted=100)
    assert await store.expire_pending(clock.now) == 1
    assert await balance(store, "cust") == AccountBalance(credits_posted=100)
    await check_invariants(store)


async def test_expire_pending_drains_in_batches(store, accounts, clock):
    await funded(store, 100)
    await results(store, *(hold(f"h{i}", "cust", "rev", 1, timeout_s=1) for i in range(7)))
    clock.advance(seconds=2)
    assert await store.expire_pending(batch_size=3) == 7
    assert await store.pending_transfers() == []
    await check_invariants(store)


async def test_resubmitting_a_transfer_is_exists_and_has_no_second_effect(store, accounts):
    await funded(store, 100)
    hold_1 = hold("h1", "cust", "rev", 60, user_data={"request_id": "req_1"})
    assert await results(store, hold_1) == [R.OK]
    assert await results(store, hold_1, hold_1) == [R.EXISTS, R.EXISTS]
    assert await results(store, pay("grant-1", "op", "cust", 100)) == [R.EXISTS]
    assert await balance(store, "cust") == AccountBalance(debits_pending=60, credits_posted=100)
    await check_invariants(store)


async def test_a_retry_is_exists_even_when_its_funds_are_gone(store, accounts):
    await funded(store, 100)
    assert await results(store, hold("h1", "cust", "rev", 100)) == [R.OK]
    assert await results(store, hold("h1", "cust", "rev", 100)) == [R.EXISTS]


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ({"amount": 61}, R.EXISTS_WITH_DIFFERENT_AMOUNT),
        ({"user_data": {"request_id": "req_2"}}, R.EXISTS_WITH_DIFFERENT_USER_DATA),
        ({"timeout_s": 9}, R.EXISTS_WITH_DIFFERENT_TIMEOUT),
        ({"code": 99}, R.EXISTS_WITH_DIFFERENT_CODE),
        ({"credit_account_id": "op"}, R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID),
    ],
)
async def test_reusing_an_id_with_different_fields_is_reported_and_not_applied(
    store, accounts, changed, expected
):
    await funded(store, 100)
    fields = {"user_data": {"request_id": "req_1"}, "timeout_s": 0}
    await results(store, hold("h1", "cust", "rev", 60, **fields))
    reused = Transfer(**{**_fields(hold("h1", "cust", "rev", 60, **fields)), **changed})
    assert await results(store, reused) == [expected]
    assert await balance(store, "cust") == AccountBalance(debits_pending=60, credits_posted=100)
    await check_invariants(store)


async def test_resubmitting_a_post_is_exists_not_already_posted(store, accounts):
    await funded(store, 100)
    await results(store, hold("h1", "cust", "rev", 60))
    assert await results(store, post("s1", "h1", 20)) == [R.OK]
    assert await results(store, post("s1", "h1", 20)) == [R.EXISTS]
    assert await results(store, post("s1", "h1", 21)) == [R.EXISTS_WITH_DIFFERENT_AMOUNT]
    assert await balance(store, "cust") == AccountBalance(debits_posted=20, credits_posted=100)


async def test_linked_chain_commits_all_members_together(store, accounts):
    await funded(store, 100)
    chain = [linked(hold("h1", "cust", "rev", 50)), linked(post("s1", "h1", 40)), pay("fee", "rev", "op", 4)]
    assert await results(store, *chain) == [R.OK, R.OK, R.OK]
    assert await balance(store, "rev") == AccountBalance(debits_posted=4, credits_posted=40)
    await check_invariants(store)


async def test_a_failure_in_the_middle_of_a_chain_rolls_back_earlier_members(store, accounts):
    await funded(store, 100)
    chain = [
        linked(pay("a", "cust", "rev", 60)),
        linked(pay("b", "cust", "rev", 50)),
        pay("c", "op", "cust", 1),
    ]
    assert await results(store, *chain, pay("d", "cust", "rev", 10)) == [
        R.LINKED_EVENT_FAILED,
        R.EXCEEDS_CREDITS,
        R.LINKED_EVENT_FAILED,
        R.OK,
    ]
    assert await balance(store, "cust") == AccountBalance(debits_posted=10, credits_posted=100)
    assert await store.lookup_transfers(["a", "b", "c"]) == []
    await check_invariants(store)


async def test_a_chain_left_open_at_the_end_of_the_batch_fails(store, accounts):
    await funded(store, 100)
    batch = [
        pay("a", "cust", "rev", 1),
        linked(pay("b", "cust", "rev", 1)),
        linked(pay("c", "cust", "rev", 1)),
    ]
    assert await results(store, *batch) == [R.OK, R.LINKED_EVENT_FAILED, R.LINKED_EVENT_CHAIN_OPEN]
    assert [t.id for t in await store.lookup_transfers(["a", "b", "c"])] == ["a"]


async def test_retrying_a_committed_chain_reports_exists_for_every_member(store, accounts):
    await funded(store, 100)
    chain = [linked(hold("h1", "cust", "rev", 50)), post("s1", "h1", 40)]
    assert await results(store, *chain) == [R.OK, R.OK]
    assert await results(store, *chain) == [R.EXISTS, R.EXISTS]
    assert await results(store, chain[0], post("s2", "h1", 40)) == [R.EXISTS, R.LINKED_EVENT_FAILED]
    await check_invariants(store)


async def test_a_correcting_transfer_reverses_a_posted_charge(store, accounts):
    await funded(store, 100)
    await results(store, hold("h1", "cust", "rev", 50), post("s1", "h1", 30))
    refund = pay("fix-s1", "rev", "cust", 30, code=CORRECTION, user_data={"corrects": "s1"})
    assert await results(store, refund) == [R.OK]
    assert await balance(store, "cust") == AccountBalance(debits_posted=30, credits_posted=130)
    assert await balance(store, "rev") == AccountBalance(debits_posted=30, credits_posted=30)
    assert await results(store, hold("h2", "cust", "rev", 100)) == [R.OK]
    await check_invariants(store)


async def test_a_hold_and_its_post_may_share_one_batch(store, accounts):
    await funded(store, 100)
    assert await results(
        store, hold("h1", "cust", "rev", 50), post("s1", "h1", 10), hold("h2", "cust", "rev", 90)
    ) == [
        R.OK,
        R.OK,
        R.OK,
    ]
    assert [t.id for t in await store.pending_transfers()] == ["h2"]
    await check_invariants(store)


async def test_limits_cover_both_sides_and_ledgers_do_not_mix(store, accounts):
    await funded(store, 100)
    assert await results(
        store, pay("x", "cust", "cap", 1), pay("y", "cap", "op", 5), pay("z", "cust", "cap", 5)
    ) == [
        R.EXCEEDS_DEBITS,
        R.OK,
        R.OK,
    ]
    assert await results(store, pay("u", "cust", "usd", 1)) == [R.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER]
    assert await results(store, pay("v", "cust", "rev", 1, ledger="usd")) == [
        R.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS
    ]
    await check_invariants(store)


async def test_a_balancing_debit_moves_at_most_what_is_available(store, accounts):
    await funded(store, 100)
    await results(store, hold("h1", "cust", "rev", 30))
    sweep = pay("sweep", "cust", "rev", AMOUNT_MAX, flags=TransferFlags.BALANCING_DEBIT)
    assert await results(store, sweep) == [R.OK]
    (recorded,) = await store.lookup_transfers(["sweep"])
    assert recorded.transfer.amount == 70
    assert await results(store, sweep) == [R.EXISTS]
    assert await results(store, pay("again", "cust", "rev", 5, flags=TransferFlags.BALANCING_DEBIT)) == [
        R.EXCEEDS_CREDITS
    ]
    await check_invariants(store)


async def test_create_accounts_is_idempotent_by_id(store, accounts):
    again = [accounts["cust"], Account(id="rev", ledger=LEDGER, code=31), Account(id="new", ledger=LEDGER)]
    assert [r.result for r in await store.create_accounts([*again, again[2]])] == [
        CreateAccountResult.EXISTS,
        CreateAccountResult.EXISTS_WITH_DIFFERENT_CODE,
        CreateAccountResult.OK,
        CreateAccountResult.EXISTS,
    ]
    flags_both = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    assert [
        r.result for r in await store.create_accounts([Account(id="bad", ledger="x", flags=flags_both)])
    ] == [CreateAccountResult.FLAGS_ARE_MUTUALLY_EXCLUSIVE]


async def test_lookups_return_what_exists_in_the_order_asked_with_values_intact(store, accounts, clock):
    await funded(store, 100)
    found = await store.lookup_accounts(["rev", "missing", "cust"])
    assert [a.id for a in found] == ["rev", "cust"]
    assert found[1].account == accounts["cust"]
    assert found[1].created_at == clock.now
    await results(
        store, hold("h1", "cust", "rev", 5, timeout_s=60, user_data={"request_id": "r", "n": [1, True]})
    )
    (h1,) = await store.lookup_transfers(["h1", "nope"])
    assert h1.transfer == hold(
        "h1", "cust", "rev", 5, timeout_s=60, user_data={"request_id": "r", "n": [1, True]}
    )
    assert h1.expires_at == h1.timestamp + timedelta(seconds=60)


async def test_timestamps_strictly_increase_even_when_the_clock_stands_still(store, accounts):
    await funded(store, 100)
    await results(store, pay("a", "cust", "rev", 1), pay("b", "cust", "rev", 1))
    await results(store, pay("c", "cust", "rev", 1))
    stamps = [t.timestamp for t in await store.lookup_transfers(["grant-1", "a", "b", "c"])]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 4


async def test_account_transfers_are_listed_oldest_first_from_since(store, accounts, clock):
    await funded(store, 100)
    for i in range(5):
        clock.advance(seconds=1)
        await results(store, pay(f"p{i}", "cust", "rev", 1))
    listed = await store.get_account_transfers("cust")
    assert [t.id for t in listed] == ["grant-1", "p0", "p1", "p2", "p3", "p4"]
    later = await store.get_account_transfers("cust", since=listed[3].timestamp, limit=2)
    assert [t.id for t in later] == ["p2", "p3"]
    assert [t.id for t in await store.get_account_transfers("op")] == ["grant-1"]


async def test_pending_transfers_lists_unresolved_holds_older_than(store, accounts, clock):
    await funded(store, 100)
    await results(store, hold("h1", "cust", "rev", 1))
    cutoff = clock.advance(seconds=10)
    await results(store, hold("h2", "cust", "rev", 1), hold("h3", "cust", "rev", 1), void("v3", "h3"))
    assert [t.id for t in await store.pending_transfers()] == ["h1", "h2"]
    assert [t.id for t in await store.pending_transfers(older_than=cutoff)] == ["h1"]


async def test_a_batch_larger_than_one_statement_reads_every_id_and_settlement(store, accounts):
    await funded(store, 1_000)
    count = 501  # past the 500 ids one statement reads
    assert set(await results(store, *(hold(f"h{i}", "cust", "rev", 1) for i in range(count)))) == {R.OK}
    posts = [post(f"p{i}", f"h{i}") for i in range(count)]
    assert set(await results(store, *posts)) == {R.OK}
    assert set(await results(store, *posts)) == {R.EXISTS}
    voids = [void(f"v{i}", f"h{i}") for i in range(count)]
    assert set(await results(store, *voids)) == {R.PENDING_TRANSFER_ALREADY_POSTED}
    assert await balance(store, "cust") == AccountBalance(debits_posted=count, credits_posted=1_000)
    await check_invariants(store)


async def test_the_database_itself_refuses_an_overdraft(store, accounts, database):
    stmt = sa.update(ledger_accounts).where(ledger_accounts.c.id == "cust").values(debits_posted=1)
    with pytest.raises(IntegrityError):
        async with database.write() as conn:
            await conn.execute(stmt)


async def test_empty_batches_write_nothing(store):
    assert await store.create_transfers([]) == []
    assert await store.create_accounts([]) == []


def _fields(transfer):
    return {name: getattr(transfer, name) for name in Transfer.__dataclass_fields__}

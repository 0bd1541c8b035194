"""An auditor model (Hypothesis stateful testing, after TigerBeetle's ``auditor.zig``): random
grants, holds, partial posts, voids, expiries, retries, corrections and linked pairs run
against the real store on each engine, and after every step the store must agree with a
small independent model and keep every invariant.

Every example gets its own namespace (account-id prefix) in one database, and its own
time: example n lives n days before example n - 1, so no sweep can reach an earlier
example's holds. Derandomized and without deadline, so CI replays the same steps.
"""

import asyncio
import itertools
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from ledger_helpers import CORRECTION, SteppingClock, chart, check_invariants, hold, linked, pay, post, void

from tenantgate.ledger import (
    AMOUNT_MAX,
    AccountBalance,
    CreateTransferResult,
    LedgerStore,
    PendingStatus,
)
from tenantgate.ledger.store import LIMIT_MAX
from tenantgate.storage import Database

R = CreateTransferResult
SETTINGS = settings(
    max_examples=90,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CUSTOMERS = st.sampled_from(["cust", "cust2"])
AMOUNTS = st.integers(1, 400)
_examples = itertools.count()


@dataclass
class Hold:
    id: str
    debit: str
    amount: int
    expires_at: datetime | None
    status: PendingStatus = PendingStatus.PENDING


class Model:
    """What the balances must be, kept by the simplest possible bookkeeping."""

    def __init__(self, ids):
        self.balances = {i: [0, 0, 0, 0] for i in ids}  # debits pending/posted, credits pending/posted
        self.holds: dict[str, Hold] = {}

    def move(self, debit, credit, amount, *, pending=False):
        self.balances[debit][0 if pending else 1] += amount
        self.balances[credit][2 if pending else 3] += amount

    def available(self, account_id):
        dp, dpo, _, cpo = self.balances[account_id]
        return cpo - dpo - dp

    def room(self, account_id):
        _, dpo, cp, cpo = self.balances[account_id]
        return dpo - cpo - cp

    def resolve(self, hold_id, status, posted, credit):
        held = self.holds[hold_id]
        held.status = status
        self.move(held.debit, credit, -held.amount, pending=True)
        self.move(held.debit, credit, posted)


def make_machine(loop, db):
    run = loop.run_until_complete

    class LedgerMachine(RuleBasedStateMachine):
        holds = Bundle("holds")
        submitted = Bundle("submitted")

        def __init__(self):
            super().__init__()
            n = next(_examples)
            self.prefix = f"x{n}:"
            self.clock = SteppingClock()
            self.clock.now -= timedelta(days=n)
            self.store = LedgerStore(db, clock=self.clock)
            accounts = chart(self.prefix)
            accounts["cust2"] = replace(accounts["cust"], id=f"{self.prefix}cust2")
            del accounts["usd"]
            self.ids = [a.id for a in accounts.values()]
            assert all(r.result.succeeded for r in run(self.store.create_accounts(list(accounts.values()))))
            self.model = Model(self.ids)
            self.serial = itertools.count()

        def a(self, role):
            return self.prefix + role

        def new_id(self, kind):
            return f"{self.prefix}{kind}{next(self.serial)}"

        def submit(self, transfers, expected):
            self.clock.advance(milliseconds=1)  # so a batch's first timestamp is the clock's
            got = [r.result for r in run(self.store.create_transfers(transfers))]
            assert got == expected, (transfers, got, expected)

        @rule(target=submitted, customer=CUSTOMERS, amount=AMOUNTS)
        def grant(self, customer, amount):
            t = pay(self.new_id("grant"), self.a("op"), self.a(customer), amount)
            self.submit([t], [R.OK])
            self.model.move(t.debit_account_id, t.credit_account_id, amount)
            return t

        @rule(target=submitted, customer=CUSTOMERS, amount=AMOUNTS)
        def charge(self, customer, amount):
            t = pay(self.new_id("charge"), self.a(customer), self.a("rev"), amount)
            fits = amount <= self.model.available(t.debit_account_id)
            self.submit([t], [R.OK if fits else R.EXCEEDS_CREDITS])
            if not fits:
                return multiple()
            self.model.move(t.debit_account_id, t.credit_account_id, amount)
            return t

        @rule(
            targets=(holds, submitted),
            customer=CUSTOMERS,
            amount=AMOUNTS,
            timeout_s=st.sampled_from([0, 5, 30]),
        )
        def place_hold(self, customer, amount, timeout_s):
            t = hold(self.new_id("hold"), self.a(customer), self.a("rev"), amount, timeout_s=timeout_s)
            fits = amount <= self.model.available(t.debit_account_id)
            self.submit([t], [R.OK if fits else R.EXCEEDS_CREDITS])
            if not fits:
                return multiple()
            expires_at = self.clock.now + timedelta(seconds=timeout_s) if timeout_s else None
            self.model.holds[t.id] = Hold(t.id, t.debit_account_id, amount, expires_at)
            self.model.move(t.debit_account_id, t.credit_account_id, amount, pending=True)
            return t

        @rule(target=submitted, held=holds, amount=st.integers(0, 450) | st.just(AMOUNT_MAX))
        def post_hold(self, held, amount):
            t = post(self.new_id("post"), held.id, amount)
            h = self.model.holds[held.id]
            posted = h.amount if amount == AMOUNT_MAX else amount
            expected = R.EXCEEDS_PENDING_TRANSFER_AMOUNT if posted > h.amount else self._settle_result(h)
            self.submit([t], [expected])
            if expected is not R.OK:
                return multiple()
            self.model.resolve(h.id, PendingStatus.POSTED, posted, self.a("rev"))
            return t

        @rule(target=submitted, held=holds)
        def void_hold(self, held):
            t = void(self.new_id("void"), held.id)
            h = self.model.holds[held.id]
            expected = self._settle_result(h)
            self.submit([t], [expected])
            if expected is not R.OK:
                return multiple()
            self.model.resolve(h.id, PendingStatus.VOIDED, 0, self.a("rev"))
            return t

        def _settle_result(self, h):
            already = {
                PendingStatus.POSTED: R.PENDING_TRANSFER_ALREADY_POSTED,
                PendingStatus.VOIDED: R.PENDING_TRANSFER_ALREADY_VOIDED,
                PendingStatus.EXPIRED: R.PENDING_TRANSFER_EXPIRED,
            }
            if h.status in already:
                return already[h.status]
            due = h.expires_at is not None and h.expires_at <= self.clock.now + timedelta(milliseconds=1)
            return R.PENDING_TRANSFER_EXPIRED if due else R.OK

        @rule(seconds=st.integers(0, 40))
        def expire(self, seconds):
            now = self.clock.advance(seconds=seconds, milliseconds=1)
            due = [
                h
                for h in self.model.holds.values()
                if h.status is PendingStatus.PENDING and h.expires_at is not None and h.expires_at <= now
            ]
            assert run(self.store.expire_pending()) == len(due)
            for h in due:
                self.model.resolve(h.id, PendingStatus.EXPIRED, 0, self.a("rev"))

        @rule(t=submitted)
        def retry(self, t):
            self.submit([t], [R.EXISTS])

        @rule(t=submitted)
        def retry_with_another_amount(self, t):
            if t.amount >= AMOUNT_MAX - 1:  # a post or void of "the whole pending amount"
                return
            changed = replace(t, amount=t.amount + 1)
            expected = R.EXISTS_WITH_DIFFERENT_AMOUNT
            if t.pending_id is not None and changed.amount > self.model.holds[t.pending_id].amount:
                expected = R.EXCEEDS_PENDING_TRANSFER_AMOUNT  # checked against the hold before the id
            self.submit([changed], [expected])

        @rule(target=submitted, customer=CUSTOMERS, amount=st.integers(1, 100))
        def correct(self, customer, amount):
            t = pay(
                self.new_id("fix"),
                self.a("rev"),
                self.a(customer),
                amount,
                code=CORRECTION,
                user_data={"corrects": "an earlier charge"},
            )
            self.submit([t], [R.OK])
            self.model.move(t.debit_account_id, t.credit_account_id, amount)
            return t

        @rule(target=holds, customer=CUSTOMERS, held=AMOUNTS, fee=AMOUNTS)
        def linked_hold_and_fee(self, customer, held, fee):
            account = self.a(customer)
            chain = [
                linked(hold(self.new_id("lhold"), account, self.a("rev"), held)),
                pay(self.new_id("lfee"), account, self.a("op"), fee),
            ]
            available = self.model.available(account)
            if held > available:
                self.submit(chain, [R.EXCEEDS_CREDITS, R.LINKED_EVENT_FAILED])
            elif held + fee > available:
                self.submit(chain, [R.LINKED_EVENT_FAILED, R.EXCEEDS_CREDITS])
            else:
                self.submit(chain, [R.OK, R.OK])
                self.model.holds[chain[0].id] = Hold(chain[0].id, account, held, None)
                self.model.move(account, self.a("rev"), held, pending=True)
                self.model.move(account, self.a("op"), fee)
                return chain[0]
            return multiple()

        @rule(amount=AMOUNTS, into_cap=st.booleans())
        def capped(self, amount, into_cap):
            cap, op = self.a("cap"), self.a("op")
            if not into_cap:
                self.submit([pay(self.new_id("cap"), cap, op, amount)], [R.OK])
                self.model.move(cap, op, amount)
                return
            fits = amount <= self.model.room(cap)
            self.submit([pay(self.new_id("cap"), op, cap, amount)], [R.OK if fits else R.EXCEEDS_DEBITS])
            if fits:
                self.model.move(op, cap, amount)

        @invariant()
        def store_agrees_with_the_model_and_keeps_every_invariant(self):
            stored = run(check_invariants(self.store, self.ids, recompute=False))
            assert stored == {i: AccountBalance(*b) for i, b in self.model.balances.items()}
            open_ids = {
                t.id
                for t in run(self.store.pending_transfers(limit=LIMIT_MAX))
                if t.id.startswith(self.prefix)
            }
            assert open_ids == {h.id for h in self.model.holds.values() if h.status is PendingStatus.PENDING}

        def teardown(self):
            run(check_invariants(self.store, self.ids, recompute=True))

    return LedgerMachine


def test_random_workloads_keep_the_ledger_sound(migrated_database_url):
    loop = asyncio.new_event_loop()
    db = Database.open(migrated_database_url, pool_size=2)
    try:
        run_state_machine_as_test(make_machine(loop, db), settings=SETTINGS)
    finally:
        loop.run_until_complete(db.dispose())
        loop.close()


def test_the_model_tracks_what_each_account_may_still_spend_or_receive():
    model = Model(["a", "b"])
    model.move("b", "a", 5)
    model.move("a", "b", 2, pending=True)
    assert (model.available("a"), model.room("b")) == (3, 3)

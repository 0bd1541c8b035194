"""The ledger's invariants as pure checks over accounts and transfers (formulas in docs/ledger.md).

The rules assert them on write, one posting at a time; these check them on read, over a
whole consistent snapshot: every account's balance must be recomputable from the transfer
rows alone, debits must equal credits, no flagged account may be over its limit, and every
pending transfer must be in exactly one state. Tests run them after every step, and
``LedgerStore.find_invariant_violations`` lets an operator audit a live ledger the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from tenantgate.ledger._balances import within_limits
from tenantgate.ledger.model import (
    SETTLING_FLAGS,
    AccountBalance,
    AccountRecord,
    TransferFlags,
    TransferRecord,
)

F = TransferFlags


def balances_from_transfers(transfers: Iterable[TransferRecord]) -> dict[str, AccountBalance]:
    """Every touched account's balance, recomputed from transfer rows alone.

    A settlement (post, void, expiry) releases its pending transfer's whole amount and
    posts its own amount, so the pending transfer must be among ``transfers``.
    """
    records = list(transfers)
    held = {r.id: r.transfer.amount for r in records if r.transfer.flags & F.PENDING}
    totals: dict[str, list[int]] = {}
    for record in records:
        t = record.transfer
        debit = totals.setdefault(t.debit_account_id, [0, 0, 0, 0])
        credit = totals.setdefault(t.credit_account_id, [0, 0, 0, 0])
        if t.flags & SETTLING_FLAGS:
            if t.pending_id not in held:
                raise ValueError(
                    f"transfer {t.id!r} settles {t.pending_id!r}, which is not among the transfers"
                )
            released, posted = held[t.pending_id], t.amount if t.flags & F.POST_PENDING_TRANSFER else 0
        elif t.flags & F.PENDING:
            released, posted = -t.amount, 0
        else:
            released, posted = 0, t.amount
        debit[0] -= released
        debit[1] += posted
        credit[2] -= released
        credit[3] += posted
    return {account_id: AccountBalance(*values) for account_id, values in totals.items()}


def find_violations(
    accounts: Sequence[AccountRecord], transfers: Sequence[TransferRecord], open_pending_ids: Collection[str]
) -> list[str]:
    """Every broken invariant, in words; empty when the ledger is sound.

    ``accounts`` must be closed under ``transfers`` (no transfer leaves the set), as the whole
    ledger or one tenant's namespace is. ``open_pending_ids`` are the ids the store lists as
    unresolved pending transfers among ``transfers``.
    """
    problems = _totals(accounts) + _limits(accounts)
    try:
        recomputed = balances_from_transfers(transfers)
    except ValueError as exc:
        return [*problems, str(exc)]
    for record in accounts:
        expected = recomputed.pop(record.id, AccountBalance())
        if record.balance != expected:
            problems.append(f"account {record.id!r} holds {record.balance}, its transfers sum to {expected}")
    problems += [f"transfers touch unknown account {account_id!r}" for account_id in sorted(recomputed)]
    return problems + _pending_states(transfers, open_pending_ids)


def _totals(accounts: Sequence[AccountRecord]) -> list[str]:
    b = [a.balance for a in accounts]
    problems = []
    if sum(x.debits_posted for x in b) != sum(x.credits_posted for x in b):
        problems.append("sum of debits_posted differs from sum of credits_posted")
    if sum(x.debits_pending for x in b) != sum(x.credits_pending for x in b):
        problems.append("sum of debits_pending differs from sum of credits_pending")
    return problems


def _limits(accounts: Sequence[AccountRecord]) -> list[str]:
    problems = []
    for record in accounts:
        b = record.balance
        if min(b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted) < 0:
            problems.append(f"account {record.id!r} has a negative balance {b}")
        if not within_limits(record):
            problems.append(f"account {record.id!r} is over its balance limit: {b}")
    return problems


def _pending_states(transfers: Sequence[TransferRecord], open_pending_ids: Collection[str]) -> list[str]:
    pending = {r.id: r for r in transfers if r.transfer.flags & F.PENDING}
    settlements = [r for r in transfers if r.transfer.flags & SETTLING_FLAGS]
    problems = [
        f"pending transfer {pending_id!r} was resolved {count} times"
        for pending_id, count in Counter(s.transfer.pending_id for s in settlements).items()
        if count > 1
    ]
    for settlement in settlements:
        problem = _settlement_problem(settlement, pending.get(settlement.transfer.pending_id or ""))
        if problem:
            problems.append(problem)
    unresolved = set(pending) - {s.transfer.pending_id for s in settlements}
    listed = set(open_pending_ids)
    if listed != unresolved:
        problems.append(f"open pending list {sorted(listed)} differs from unresolved {sorted(unresolved)}")
    return problems


def _settlement_problem(settlement: TransferRecord, pending: TransferRecord | None) -> str | None:
    s = settlement.transfer
    if pending is None:
        return f"transfer {s.id!r} settles {s.pending_id!r}, which is not a pending transfer"
    p = pending.transfer
    same = (s.debit_account_id, s.credit_account_id, s.ledger, s.code)
    if same != (p.debit_account_id, p.credit_account_id, p.ledger, p.code):
        return f"transfer {s.id!r} does not match its pending transfer's accounts, ledger and code"
    if s.amount > p.amount or (not s.flags & F.POST_PENDING_TRANSFER and s.amount != p.amount):
        return f"transfer {s.id!r} moves {s.amount} of a pending amount of {p.amount}"
    expired = pending.expires_at is not None and settlement.timestamp >= pending.expires_at
    if expired != bool(s.flags & F.EXPIRE_PENDING_TRANSFER):
        return f"transfer {s.id!r} resolves {p.id!r} on the wrong side of its timeout"
    return None

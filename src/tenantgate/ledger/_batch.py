"""A batch of events applied in order to an in-memory ledger state, with linked chains.

Pure, like ``rules.py``: the store loads every row a batch can touch into a
``LedgerState``, runs the batch here, and writes back what the state reports as changed.
Each event sees the effects of the events before it, so a batch may hold a hold and its
post. Events outside a chain succeed or fail independently (TigerBeetle's group commit);
a chain (``flags.linked`` on every member but the last) is applied all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tenantgate.ledger.model import (
    SETTLING_FLAGS,
    Account,
    AccountBalance,
    AccountRecord,
    Transfer,
    TransferFlags,
    TransferRecord,
)
from tenantgate.ledger.results import CreateAccountResult, CreateTransferResult
from tenantgate.ledger.rules import Posting, decide_account, decide_transfer

R = CreateTransferResult
_LINKED, _PENDING, _SETTLING = int(TransferFlags.LINKED), int(TransferFlags.PENDING), int(SETTLING_FLAGS)
_MISSING = object()
_Undo = tuple[dict[str, Any], str, object]


class LedgerState:
    """Accounts and transfers a batch may read, and what it has changed so far (undoably)."""

    def __init__(
        self,
        *,
        accounts: Iterable[AccountRecord] = (),
        transfers: Iterable[TransferRecord] = (),
        settlements: Iterable[TransferRecord] = (),
    ) -> None:
        self._accounts: dict[str, AccountRecord] = {a.id: a for a in accounts}
        self._transfers: dict[str, TransferRecord] = {t.id: t for t in transfers}
        self._settlements: dict[str, TransferRecord] = {
            s.transfer.pending_id: s for s in settlements if s.transfer.pending_id is not None
        }
        self._loaded = dict(self._accounts)
        self._undo: list[_Undo] = []
        self.created: list[TransferRecord] = []
        """Transfers accepted by this batch, in order: what the store inserts."""

    def account(self, account_id: str) -> AccountRecord | None:
        """The account as of this point in the batch."""
        return self._accounts.get(account_id)

    def transfer(self, transfer_id: str) -> TransferRecord | None:
        """A stored transfer, or one accepted earlier in the batch."""
        return self._transfers.get(transfer_id)

    def settlement(self, pending_id: str) -> TransferRecord | None:
        """The record that resolved ``pending_id``, stored or accepted earlier in the batch."""
        return self._settlements.get(pending_id)

    def apply(self, posting: Posting) -> None:
        """Record an accepted transfer and both accounts' new balances."""
        record = posting.record
        self._set(self._accounts, posting.debit_account.id, posting.debit_account)
        self._set(self._accounts, posting.credit_account.id, posting.credit_account)
        self._set(self._transfers, record.id, record)
        if int(record.transfer.flags) & _SETTLING:
            assert record.transfer.pending_id is not None
            assert record.transfer.pending_id not in self._settlements, "settled at most once"
            self._set(self._settlements, record.transfer.pending_id, record)
        self.created.append(record)

    def savepoint(self) -> tuple[int, int]:
        """A point ``rollback`` can return to."""
        return len(self._undo), len(self.created)

    def rollback(self, savepoint: tuple[int, int]) -> None:
        """Undo everything applied since ``savepoint``."""
        undo_length, created_length = savepoint
        while len(self._undo) > undo_length:
            table, key, old = self._undo.pop()
            if old is _MISSING:
                del table[key]
            else:
                table[key] = old
        del self.created[created_length:]

    def changed_balances(self) -> list[tuple[str, AccountBalance, AccountBalance]]:
        """``(account_id, balance as loaded, balance now)`` for every account that moved, by id."""
        return [
            (account_id, self._loaded[account_id].balance, self._accounts[account_id].balance)
            for account_id in sorted(self._loaded)
            if self._accounts[account_id].balance != self._loaded[account_id].balance
        ]

    def opened_pending(self) -> list[TransferRecord]:
        """Pending transfers accepted by this batch and still unresolved at its end."""
        return [r for r in self.created if int(r.transfer.flags) & _PENDING and r.id not in self._settlements]

    def closed_pending_ids(self) -> list[str]:
        """Ids of pending transfers stored before this batch that it resolved."""
        created = {r.id for r in self.created}
        closed: list[str] = []
        for record in self.created:
            pending_id = record.transfer.pending_id
            if (
                int(record.transfer.flags) & _SETTLING
                and pending_id is not None
                and pending_id not in created
            ):
                closed.append(pending_id)
        return closed

    def _set(self, table: dict[str, Any], key: str, value: object) -> None:
        self._undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value


def run_transfers(
    transfers: Sequence[Transfer], state: LedgerState, timestamps: Sequence[datetime]
) -> list[R]:
    """Apply ``transfers`` in order to ``state``; one result per transfer, chains all or nothing."""
    assert len(timestamps) == len(transfers)
    results: list[R] = []
    links = [int(t.flags) & _LINKED for t in transfers]
    start = 0
    while start < len(transfers):
        end = start
        while end < len(transfers) and links[end]:
            end += 1
        if end == len(transfers):  # the last event is linked: the chain never closes
            results += [R.LINKED_EVENT_FAILED] * (end - start - 1) + [R.LINKED_EVENT_CHAIN_OPEN]
            break
        if end == start:  # a lone transfer, the common case: nothing to roll back
            results.append(_run_one(transfers[start], state, timestamps[start]))
        else:
            results += _run_chain(transfers[start : end + 1], state, timestamps[start : end + 1])
        start = end + 1
    return results


def _run_one(transfer: Transfer, state: LedgerState, timestamp: datetime) -> R:
    """Decide ``transfer`` and apply it if it is accepted."""
    decision = decide_transfer(transfer, state, timestamp)
    if isinstance(decision, Posting):
        state.apply(decision)
        return R.OK
    return decision


def _run_chain(chain: Sequence[Transfer], state: LedgerState, timestamps: Sequence[datetime]) -> list[R]:
    """One chain (a lone transfer is a chain of one): every member ``ok``, or none applied.

    A chain whose members all already exist is a retry of a committed chain and reports
    ``exists`` for each (TigerBeetle would fail it; see docs/ledger.md).
    """
    savepoint = state.savepoint()
    results: list[R] = []
    for transfer, timestamp in zip(chain, timestamps, strict=True):
        result = _run_one(transfer, state, timestamp)
        results.append(result)
        if result is not R.OK and result is not R.EXISTS:
            break
    complete = len(results) == len(chain)
    if len(chain) == 1 or (complete and len(set(results)) == 1):
        return results
    state.rollback(savepoint)
    failed = next(i for i, result in enumerate(results) if result is not R.OK)
    return [results[failed] if i == failed else R.LINKED_EVENT_FAILED for i in range(len(chain))]


def run_accounts(
    accounts: Sequence[Account], stored: Mapping[str, AccountRecord], created_at: datetime
) -> tuple[list[CreateAccountResult], list[AccountRecord]]:
    """Results for ``accounts`` in order, and the records to insert (each id at most once)."""
    seen = dict(stored)
    results: list[CreateAccountResult] = []
    created: list[AccountRecord] = []
    for account in accounts:
        result = decide_account(account, seen.get(account.id))
        if result is CreateAccountResult.OK:
            record = AccountRecord(account=account, balance=AccountBalance(), created_at=created_at)
            seen[account.id] = record
            created.append(record)
        results.append(result)
    return results, created

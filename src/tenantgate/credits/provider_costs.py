"""What failed attempts may have cost the operator, booked apart from what callers are charged.

A caller pays once, at the price of the deployment that answered. An attempt that failed
before anything reached the caller is free for the caller, but it is not always free for
the operator: an upstream that took the request on (answered 2xx and then broke, or was
sent the request and never answered in time) may bill for the prompt it processed. Such
an attempt is booked as an estimate (the request's prompt bound, no output, at that
deployment's price) from ``pc:<deployment>`` to ``tg:provider-bills``: what the operator's
providers may bill for attempts no caller paid for, by deployment. Attempts that the
upstream refused (4xx/5xx, 429, a refused or reset connection) cost nothing and are not
booked. Pure: ``Metering.absorb`` does the I/O.
"""

from __future__ import annotations

import hashlib

from tenantgate.credits import accounts as names
from tenantgate.credits.pricing import Price, usage_cost
from tenantgate.ledger import Account, Transfer
from tenantgate.ledger.model import ID_LENGTH_MAX


def attempt_cost(price: Price, *, prompt_tokens: int) -> int:
    """The estimate for a failed, accepted attempt: its prompt at the deployment's input price."""
    return usage_cost(price, prompt_tokens=prompt_tokens, completion_tokens=0)


def provider_cost_account(deployment: str) -> Account:
    """The deployment's provider cost account (no limit: it only ever grows)."""
    return Account(id=_fitted(names.provider_cost_account(deployment)), ledger=names.LEDGER,
                   code=names.AccountCode.PROVIDER_COST)


def provider_cost_transfer(
    *, attempt_id: str, deployment: str, amount: int, request_id: str, prompt_tokens: int, error_code: str
) -> Transfer:
    """The booking of one failed attempt; its id is the attempt's, so it takes effect once."""
    return Transfer(
        id=_fitted(names.provider_cost_transfer_id(attempt_id)),
        debit_account_id=_fitted(names.provider_cost_account(deployment)),
        credit_account_id=names.PROVIDER_BILLS, amount=amount, ledger=names.LEDGER,
        code=names.TransferCode.PROVIDER_COST,
        user_data={"request_id": request_id[:200], "attempt_id": attempt_id[:200],
                   "prompt_tokens": prompt_tokens, "error": error_code, "estimated": True},
    )


def _fitted(ledger_id: str) -> str:
    """``ledger_id``, or a stable digest of it when a long request id or model name overflows the column."""
    if len(ledger_id) <= ID_LENGTH_MAX:
        return ledger_id
    prefix = ledger_id.split(":", 1)[0]
    return f"{prefix}:~{hashlib.sha256(ledger_id.encode()).hexdigest()}"

"""Queries on the credit definition tables, and rows to values and back.

Writes that can race across replicas are decided by the database: inserts use
``ON CONFLICT DO NOTHING`` and report whether they won; budget updates compare-and-set the
``revision`` they read, so two concurrent changes cannot both apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.credits.accounts import Period
from tenantgate.credits.budgets import Budget
from tenantgate.credits.commitments import Commitment, CommitmentKind
from tenantgate.credits.tables import budget_alerts, budgets, commitments


async def insert_new(conn: AsyncConnection, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert one row unless a key it holds exists; True when this call inserted it."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(values).on_conflict_do_nothing()
    return (await conn.execute(statement)).rowcount == 1


def commitment_values(c: Commitment) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "kind": c.kind.value, "amount_micros": c.amount,
            "starts_at": c.starts_at, "ends_at": c.ends_at, "monthly_allotment_micros": c.monthly_allotment,
            "overage_allowance_micros": c.overage_allowance, "created_at": c.created_at}


def _commitment(row: sa.Row[Any]) -> Commitment:
    return Commitment(row.id, row.name, CommitmentKind(row.kind), row.amount_micros, row.starts_at,
                      row.ends_at, row.monthly_allotment_micros, row.overage_allowance_micros,
                      row.created_at)


async def read_commitments(
    conn: AsyncConnection, *, started_by: datetime | None = None, ending_after: datetime | None = None
) -> list[Commitment]:
    """Commitments by start then id; optionally only those started by, or not ended at, a time."""
    c = commitments.c
    query = sa.select(commitments).order_by(c.starts_at, c.id)
    if started_by is not None:
        query = query.where(c.starts_at <= started_by)
    if ending_after is not None:
        query = query.where(sa.or_(c.ends_at.is_(None), c.ends_at > ending_after))
    return [_commitment(row) for row in await conn.execute(query)]


def budget_values(b: Budget, *, revision: int, updated_at: datetime) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "scope_type": b.scope_type, "scope_id": b.scope_id,
            "period": b.period.value, "limit_micros": b.limit, "hard": b.hard,
            "thresholds": list(b.thresholds), "webhook_url": b.webhook_url, "revision": revision,
            "created_at": b.created_at, "updated_at": updated_at}


def _budget(row: sa.Row[Any]) -> Budget:
    return Budget(row.id, row.name, row.scope_type, row.scope_id, Period(row.period), row.limit_micros,
                  bool(row.hard), tuple(int(t) for t in row.thresholds), row.webhook_url, row.created_at)


_BUDGET_ORDER = (budgets.c.scope_type, budgets.c.scope_id, budgets.c.period)


async def read_budgets(conn: AsyncConnection) -> list[Budget]:
    """Every budget, by scope and period."""
    return [_budget(row) for row in await conn.execute(sa.select(budgets).order_by(*_BUDGET_ORDER))]


async def read_budget_by_scope(
    conn: AsyncConnection, scope_type: str, scope_id: str, period: Period
) -> tuple[Budget, int] | None:
    """The budget of one scope and period with its revision, or None."""
    c = budgets.c
    query = sa.select(budgets).where(c.scope_type == scope_type, c.scope_id == scope_id, c.period == period)
    row = (await conn.execute(query)).first()
    return None if row is None else (_budget(row), row.revision)


async def read_budget_limit(conn: AsyncConnection, budget_id: str) -> tuple[int, int] | None:
    """The current limit and revision of a budget, or None once it was deleted."""
    query = sa.select(budgets.c.limit_micros, budgets.c.revision).where(budgets.c.id == budget_id)
    row = (await conn.execute(query)).first()
    return None if row is None else (row.limit_micros, row.revision)


async def read_matching_budgets(
    conn: AsyncConnection, *, key_id: str | None, user_id: str | None, compartment_ids: Sequence[str]
) -> list[Budget]:
    """One indexed query for every budget of these scopes, and the tenancy's."""
    c = budgets.c
    matches = [c.scope_type == "tenancy"]
    if key_id is not None:
        matches.append(sa.and_(c.scope_type == "key", c.scope_id == key_id))
    if user_id is not None:
        matches.append(sa.and_(c.scope_type == "user", c.scope_id == user_id))
    if compartment_ids:
        matches.append(sa.and_(c.scope_type == "compartment", c.scope_id.in_(list(compartment_ids))))
    return [_budget(row) for row in await conn.execute(sa.select(budgets).where(sa.or_(*matches)))]


async def update_budget(conn: AsyncConnection, values: dict[str, Any], *, revision: int) -> bool:
    """Write a budget's new definition if it is still at ``revision``; True when it was."""
    c = budgets.c
    changes = {k: v for k, v in values.items() if k not in ("id", "created_at")}
    statement = budgets.update().where(c.id == values["id"], c.revision == revision).values(changes)
    return (await conn.execute(statement)).rowcount == 1


async def update_budget_limit(conn: AsyncConnection, budget_id: str, limit: int, *, revision: int,
                              updated_at: datetime) -> bool:
    """Roll a limit change forward from ``revision`` (its correction is in the ledger already)."""
    c = budgets.c
    statement = budgets.update().where(c.id == budget_id, c.revision == revision).values(
        limit_micros=limit, revision=revision + 1, updated_at=updated_at)
    return (await conn.execute(statement)).rowcount == 1


async def delete_budget(conn: AsyncConnection, budget_id: str) -> bool:
    """Delete a budget and its alert firings; True when it existed."""
    await conn.execute(budget_alerts.delete().where(budget_alerts.c.budget_id == budget_id))
    return (await conn.execute(budgets.delete().where(budgets.c.id == budget_id))).rowcount == 1

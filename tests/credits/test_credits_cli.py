"""`tenantgate credits` end to end through click's CliRunner, on SQLite and PostgreSQL."""

import asyncio
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result
from credit_helpers import CREDIT, spend

from tenantgate.cli.main import cli
from tenantgate.credits import accounts as names
from tenantgate.credits.accounts import period_key
from tenantgate.credits.store import CreditStore
from tenantgate.storage import Database


class Cli:
    """Runs ``tenantgate`` commands on one database through a config file in tmp."""

    def __init__(self, url: str, tmp_path) -> None:
        self.url = url
        self.config = tmp_path / "tenantgate.toml"
        self.config.write_text(f'[storage]\nurl = "{url}"\n')
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, [*args, "--config", str(self.config)])
        assert "Traceback" not in result.output + result.stderr
        assert result.exit_code == code, result.output + result.stderr
        return result

    def json(self, *args: str):
        return json.loads(self(*args, "--json").output)

    def spend_on_budget(self, budget_id: str, amount: int) -> None:
        async def work() -> None:
            db = Database.open(self.url, pool_size=1)
            try:
                store = CreditStore(db, clock=lambda: datetime.now(UTC))
                (budget,) = [b for b in await store.list_budgets() if b.id == budget_id]
                account = await store.ensure_budget_account(budget, period_key(budget.period, datetime.now(UTC)))
                await spend(store, account, amount, "cli-test", to=names.BUDGETS)
            finally:
                await db.dispose()

        asyncio.run(work())


@pytest.fixture
def run(database_url, tmp_path) -> Cli:
    runner = Cli(database_url, tmp_path)
    runner("init")
    return runner


def test_commitments_are_added_listed_and_summed(run):
    added = run("credits", "add", "--amount", "1000", "--name", "FY").output
    assert added.startswith("Added commitment cmt_")
    assert "1000.000000 credits" in added
    flex = run.json("credits", "add", "--amount", "1200", "--type", "monthly-flex",
                    "--starts", "2020-01-01", "--ends", "2099-01-01")
    assert (flex["type"], flex["amount"], flex["ends"]) == ("monthly-flex", "1200.000000", "2099-01-01T00:00:00+00:00")
    assert flex["monthly_allotment"] == "1.265822"  # 1200 spread over 79 years, 948 months
    payg = run.json("credits", "add", "--type", "payg")
    assert (payg["amount"], payg["ends"]) == ("0.000000", None)
    listed = run.json("credits", "list")
    assert listed[0]["type"] == "monthly-flex"  # by start; the other two start today
    assert sorted((c["type"], c["granted"], c["available"], c["forfeited"]) for c in listed) == [
        ("annual", "1000.000000", "1000.000000", "0.000000"),
        ("monthly-flex", "1200.000000", "1200.000000", "0.000000"),
        ("payg", "0.000000", "0.000000", "0.000000"),
    ]
    table = run("credits", "list").output.splitlines()
    assert table[0].split() == ["ID", "NAME", "TYPE", "STARTS", "ENDS", "GRANTED", "AVAILABLE", "HELD", "USED",
                                "FORFEITED"]
    balance = run.json("credits", "balance")
    assert (balance["available"], balance["payg"], len(balance["active_commitments"])) == ("2200.000000", True, 3)
    assert balance["earliest_expiry"] == next(c for c in listed if c["type"] == "annual")["ends"]
    text = run("credits", "balance").output
    assert text.startswith("Available: 2200.000000 credits in 3 active commitment(s), earliest expiry")
    assert "Pay-as-you-go is active" in text


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--amount", "12.3456789"), 2, "is not an amount of credits"),
    (("--amount", "ten"), 2, "is not an amount of credits"),
    (("--amount", "-5"), 2, "must not be negative"),
    ((), 2, "give --amount"),
    (("--amount", "10", "--starts", "2026-01-01", "--ends", "2025-01-01"), 1, "error: A commitment must end"),
])
def test_add_refuses_bad_input_with_a_message(run, args, code, message):
    result = run("credits", "add", *args, code=code)
    assert message in result.stderr


def test_budgets_are_set_for_each_scope_listed_with_status_and_deleted(run):
    run("users", "create", "alice")
    run("compartments", "create", "Finance")
    run("keys", "create", "--user", "alice")
    (key,) = [k for k in json.loads(run("keys", "list", "--json").output) if k["owner"] == "user:alice"]
    user = run.json("credits", "budgets", "set", "--user", "alice", "--limit", "50", "--alert", "90,50",
                    "--webhook", "http://127.0.0.1:9/hook")
    assert (user["scope_type"], user["limit"], user["hard"], user["alerts"]) == ("user", "50.000000", True, [50, 90])
    assert user["name"] == "user:alice monthly"
    soft = run("credits", "budgets", "set", "--compartment", "Finance", "--limit", "20", "--soft").output
    assert "compartment:Finance monthly" in soft
    assert "soft" in soft
    run("credits", "budgets", "set", "--tenancy", "--limit", "5000", "--period", "lifetime")
    run("credits", "budgets", "set", "--key", key["id"], "--limit", "1.5", "--period", "daily")
    run.spend_on_budget(user["id"], 20 * CREDIT)
    listed = {b["name"]: b for b in run.json("credits", "budgets", "list")}
    assert set(listed) == {"user:alice monthly", "compartment:Finance monthly", "tenancy lifetime",
                           f"key:{key['id']} daily"}
    alice = listed["user:alice monthly"]
    assert (alice["scope"], alice["spent"], alice["remaining"]) == ("user:alice", "20.000000", "30.000000")
    assert "forecast_exhausted_at" in alice
    table = run("credits", "budgets", "list").output
    for shown in ("user:alice", "compartment:Finance", "90%"):
        assert shown in table
    assert "user:alice monthly" in run("credits", "balance").output
    replaced = run.json("credits", "budgets", "set", "--user", "alice", "--limit", "80")
    assert replaced["id"] == user["id"]
    (alice,) = [b for b in run.json("credits", "budgets", "list") if b["id"] == user["id"]]
    assert (alice["limit"], alice["spent"], alice["remaining"]) == ("80.000000", "20.000000", "60.000000")
    assert run("credits", "budgets", "delete", user["id"]).output == f"Deleted budget {user['id']}.\n"
    assert "No budget" in run("credits", "budgets", "delete", user["id"], code=1).stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--user", "alice", "--tenancy", "--limit", "1"), 2, "exactly one of"),
    (("--limit", "1"), 2, "exactly one of"),
    (("--user", "nobody", "--limit", "1"), 1, "error: No user named"),
    (("--compartment", "Nowhere", "--limit", "1"), 1, "error: No compartment"),
    (("--key", "key_missing", "--limit", "1"), 1, "error: "),
    (("--tenancy", "--limit", "1", "--alert", "high"), 2, "percentages"),
    (("--tenancy", "--limit", "1", "--alert", "0"), 1, "error: Alert thresholds"),
    (("--tenancy", "--limit", "1", "--webhook", "ftp://x"), 1, "error: webhook_url"),
])
def test_budgets_set_refuses_bad_input_with_a_message(run, args, code, message):
    result = run("credits", "budgets", "set", *args, code=code)
    assert message in result.stderr

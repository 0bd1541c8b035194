"""`tenantgate credits report` on the local database after real traffic: the same totals as the ledger."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner, Result
from report_world import ADMITTED, World

from tenantgate.cli.main import cli
from tenantgate.credits.focus import FOCUS_COLUMNS

MICRO = Decimal(1_000_000)


@pytest.fixture
def run(world: World, traffic, tmp_path):
    config = tmp_path / "tenantgate.toml"
    config.write_text(f'[storage]\nurl = "{world.url}"\n')
    runner = CliRunner()
    today = datetime.now(UTC).date()
    days = ["--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1))]

    def invoke(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli, ["credits", "report", *args, *days, "--config", str(config)])
        assert "Traceback" not in result.output + result.stderr
        assert result.exit_code == code, result.output + result.stderr
        return result

    return invoke


def ledger_micros(world: World) -> int:
    return sum(r.transfer.amount for r in world.usage_transfers())


@pytest.mark.parametrize("by", ["compartment", "model", "key", "user"])
def test_every_grouping_adds_up_to_the_ledger(run, world, by):
    rows = json.loads(run("--by", by, "--json").output)
    assert sum(Decimal(row["cost"]) for row in rows) * MICRO == ledger_micros(world)
    assert sum(row["requests"] for row in rows) == ADMITTED
    assert sum(row["estimated"] for row in rows) >= 1
    assert len({row.get("id", row[by]) for row in rows}) == len(rows)


def test_the_table_names_compartments_by_path_and_ends_with_the_total(run, world):
    lines = run("--by", "compartment").output.splitlines()
    assert lines[0].split() == ["COMPARTMENT", "ID", "REQUESTS", "INPUT_TOKENS", "CACHED_TOKENS", "OUTPUT_TOKENS",
                                "COST", "ESTIMATED"]
    assert {line.split()[0] for line in lines[1:-1]} == {"Team", "Team:Sub", "Other"}
    total = lines[-1].split()
    assert total[:2] == ["TOTAL", "-"]
    assert Decimal(total[-2]) * MICRO == ledger_micros(world)
    assert int(total[2]) == ADMITTED


def test_focus_prints_a_csv_that_adds_up_to_the_ledger(run, world):
    output = run("--focus").output
    rows = list(csv.DictReader(io.StringIO(output)))
    assert list(rows[0]) == list(FOCUS_COLUMNS)
    assert sum(Decimal(row["BilledCost"]) for row in rows) * MICRO == ledger_micros(world)
    assert {row["BillingAccountName"] for row in rows} == {"acme"}


def test_an_empty_range_is_refused(world, tmp_path):
    config = tmp_path / "tenantgate.toml"
    config.write_text(f'[storage]\nurl = "{world.url}"\n')
    result = CliRunner().invoke(cli, ["credits", "report", "--from", "2026-01-02", "--to", "2026-01-02",
                                      "--config", str(config)])
    assert result.exit_code == 2
    assert "--to must be after --from" in result.output

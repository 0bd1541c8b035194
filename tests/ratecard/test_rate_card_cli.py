"""`tenantgate credits rates` on the local database and through a gateway's admin API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from tenantgate.cli.main import cli

LATER = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")


class Local:
    def __init__(self, url: str, tmp_path) -> None:
        self.config = tmp_path / "tenantgate.toml"
        self.config.write_text(f'[storage]\nurl = "{url}"\n[local]\nenabled = false\n'
                               '[[credits.rate_card]]\nmodel = "chat"\ninput_per_1m = "1.5"\n'
                               'output_per_1m = "6"\ndeployment_type = "on_demand"\n')

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, [*args, "--config", str(self.config)])
        assert "Traceback" not in result.output + result.stderr
        assert result.exit_code == code, result.output + result.stderr
        return result


@pytest.fixture
def local(database_url, tmp_path) -> Local:
    run = Local(database_url, tmp_path)
    run("init")
    return run


def test_local_rates_are_listed_set_and_withdrawn(local):
    (configured,) = json.loads(local("credits", "rates", "list", "--json").output)
    assert (configured["id"], configured["model"], configured["input"], configured["type"], configured["source"]) == (
        None, "chat", "1.500000", "on_demand", "config")
    added = local("credits", "rates", "set", "--model", "chat", "--input", "2.5", "--output", "10",
                  "--embedding", "0.1", "--deployment-type", "on_demand", "--from", LATER).output
    assert added.startswith("Added rate-card entry rce_")
    assert "(scheduled)" in added
    entry_id = added.split()[3]
    rows = json.loads(local("credits", "rates", "list", "--model", "chat", "--json").output)
    assert [(r["source"], r["status"], r["embedding"]) for r in rows] == [
        ("config", "in_force", None), ("api", "scheduled", "0.100000")]
    table = local("credits", "rates", "list").output
    assert "ID" in table.splitlines()[0]
    assert entry_id in table
    assert local("credits", "rates", "withdraw", entry_id).output == f"Withdrew rate-card entry {entry_id}.\n"
    assert len(json.loads(local("credits", "rates", "list", "--json").output)) == 1


def test_local_rates_refuse_bad_prices_and_rewriting_what_is_in_effect(local):
    failed = local("credits", "rates", "set", "--model", "chat", "--input", "-1", code=1)
    assert "error: 'input_per_1m' must be a non-negative number of credits" in failed.stderr
    failed = local("credits", "rates", "set", "--model", "chat", "--input", "1", "--from", "2020-01-01", code=1)
    assert "error: 'effective_from' is in the past" in failed.stderr
    now = json.loads(local("credits", "rates", "set", "--model", "chat", "--input", "3", "--json").output)
    while time.time() < now["effective_from"]:
        time.sleep(0.05)
    failed = local("credits", "rates", "withdraw", now["id"], code=1)
    assert "cannot be withdrawn" in failed.stderr
    assert local("credits", "rates", "withdraw", "rce_unknown", code=1).stderr.startswith("error: No rate-card entry")


def _remote(base_url: str, token: str, *args: str, code: int = 0) -> Result:
    env = {"TENANTGATE_SERVER_URL": base_url, "TENANTGATE_API_KEY": token}
    result = CliRunner(env=env).invoke(cli, list(args))
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == code, result.output + result.stderr
    return result


def test_remote_rates_go_through_the_admin_api_and_its_policies(world, replicas):
    base = replicas[0].base_url
    admin, reader = world.tokens["admin"], world.tokens["reader"]
    added = json.loads(_remote(base, admin, "credits", "rates", "set", "--model", "other", "--input", "4",
                               "--region", "cli-region", "--from", LATER, "--json").output)
    assert (added["status"], added["created_by"], added["region"]) == ("scheduled", world.ids["admin"], "cli-region")
    listed = json.loads(_remote(base, reader, "credits", "rates", "list", "--model", "other", "--json").output)
    assert added["id"] in {row["id"] for row in listed}
    refused = _remote(base, reader, "credits", "rates", "withdraw", added["id"], code=1)
    assert "'manage credits-family' in tenancy" in refused.stderr
    _remote(base, admin, "credits", "rates", "withdraw", added["id"])
    listed = json.loads(_remote(base, reader, "credits", "rates", "list", "--model", "other", "--json").output)
    assert added["id"] not in {row["id"] for row in listed}
    assert "--config" in _remote(base, admin, "credits", "rates", "list", "--config", "x.toml", code=1).stderr

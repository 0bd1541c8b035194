"""`tenantgate audit verify|list` through click's CliRunner, on SQLite and PostgreSQL databases."""

import asyncio
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from tenantgate.audit.model import AuditEntry, AuditEvent
from tenantgate.audit.store import AuditStore
from tenantgate.cli.main import cli
from tenantgate.storage import Database


class AuditCli:
    """Runs ``tenantgate audit`` commands on one database, and seeds or tampers with it directly."""

    def __init__(self, url: str, tmp_path) -> None:
        self.url = url
        self.config = tmp_path / "tenantgate.toml"
        self.config.write_text(f'[storage]\nurl = "{url}"\n')
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = self.runner.invoke(cli, ["audit", *args, "--config", str(self.config)])
        assert "Traceback" not in result.output + result.stderr
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    def append(self, *entries: AuditEntry) -> list[AuditEvent]:
        async def work(db: Database) -> list[AuditEvent]:
            return await AuditStore(db, clock=lambda: datetime(2025, 3, 1, 9, 30, 15, tzinfo=UTC)).append(entries)

        return asyncio.run(self._with_database(work))

    def sql(self, statement: str) -> None:
        async def work(db: Database) -> None:
            async with db.write() as conn:
                await conn.execute(sa.text(statement))

        asyncio.run(self._with_database(work))

    async def _with_database(self, work):
        db = Database.open(self.url, pool_size=1)
        try:
            return await work(db)
        finally:
            await db.dispose()


def _entry(index: int, action: str = "iam.policy.create") -> AuditEntry:
    return AuditEntry(actor_type="user", actor_id="usr_1", actor_name="alice", action=action,
                      outcome="succeeded", target_type="policy", target_id=f"pol_{index}",
                      statement_ids=("pol_root:1",), details={"index": index})


@pytest.fixture
def run(migrated_database_url, tmp_path) -> AuditCli:
    return AuditCli(migrated_database_url, tmp_path)


def test_verify_an_intact_trail_prints_ok_with_the_head(run):
    events = run.append(*(_entry(i) for i in range(5)))
    result = run("verify")
    assert result.output == f"OK: 5 events, head seq 5 hash {events[-1].hash}\n"


def test_verify_an_empty_trail_is_ok(run):
    assert run("verify").output.startswith("OK: 0 events")


def test_verify_after_tampering_exits_1_and_names_the_seq(run):
    run.append(*(_entry(i) for i in range(5)))
    run.sql("UPDATE audit_events SET outcome = 'denied' WHERE seq = 3")
    result = run("verify", "--page-size", "2", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: audit chain broken at seq 3: edited (")
    assert result.stdout == ""


def test_verify_after_deleting_the_tail_reports_truncation(run):
    run.append(*(_entry(i) for i in range(5)))
    run.sql("DELETE FROM audit_events WHERE seq = 5")
    result = run("verify", ok=False)
    assert result.stderr.startswith("error: audit chain broken at seq 5: truncated (")


def test_list_shows_the_newest_events_first_as_a_table(run):
    run.append(_entry(1), _entry(2, action="inference.denied"), _entry(3))
    lines = run("list", "--limit", "2").output.splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "TARGET", "STATEMENTS"]
    assert [line.split()[0] for line in lines[1:]] == ["3", "2"]
    assert "2025-03-01 09:30:15" in lines[1]
    assert "user:alice" in lines[1]
    assert "policy:pol_3" in lines[1]


def test_list_filters_by_action_and_prints_full_events_as_json(run):
    events = run.append(_entry(1), _entry(2, action="inference.denied"), _entry(3))
    listed = json.loads(run("list", "--action", "inference.denied", "--json").output)
    assert [e["seq"] for e in listed] == [2]
    assert listed[0]["hash"] == events[1].hash
    assert listed[0]["details"] == {"index": 2}
    assert listed[0]["occurred_at"] == "2025-03-01T09:30:15.000000Z"
    assert json.loads(run("list", "--action", "iam.*", "--json").output)[0]["seq"] == 3


def test_list_of_an_empty_trail_says_none(run):
    assert run("list").output == "(none)\n"


def test_audit_on_an_uninitialised_database_says_to_run_init(database_url, tmp_path):
    result = AuditCli(database_url, tmp_path)("verify", ok=False)
    assert result.exit_code == 1
    assert "tenantgate init" in result.stderr

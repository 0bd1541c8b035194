"""The IAM commands driven through click's CliRunner against a real database file (and PostgreSQL)."""

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from tenantgate.cli.main import cli
from tenantgate.errors import InvalidApiKey
from tenantgate.iam import tables
from tenantgate.iam.model import AuthenticatedKey
from tenantgate.iam.store import IdentityStore
from tenantgate.storage import Database

TOKEN = re.compile(r"tg-[a-z2-7]{12}[12]_[0-9A-Za-z]{43}")


class Cli:
    """Runs ``tenantgate`` commands on one database through a config file in tmp."""

    def __init__(self, url: str, tmp_path) -> None:
        self.url = url
        self.config = tmp_path / "tenantgate.toml"
        self.config.write_text(f'[storage]\nurl = "{url}"\n')
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None) -> Result:
        result = self.runner.invoke(cli, [*args, "--config", str(self.config)], input=stdin)
        assert "Traceback" not in result.output + result.stderr
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    def token(self, *args: str) -> str:
        """Run a minting command; its one secret, which must appear exactly once."""
        found = TOKEN.findall(self(*args).output)
        assert len(found) == 1
        return found[0]

    def authenticate(self, token: str) -> AuthenticatedKey:
        return asyncio.run(self._with_store(lambda store: store.authenticate(token, datetime.now(UTC))))

    def stored_text(self) -> str:
        async def dump(store: IdentityStore) -> str:
            async with store._db.read() as conn:
                found = []
                for table in (tables.api_keys, tables.api_key_secrets, tables.users, tables.compartments):
                    found += [repr(tuple(row)) for row in await conn.execute(sa.select(table))]
            return "\n".join(found)

        return asyncio.run(self._with_store(dump))

    async def _with_store(self, work):
        db = Database.open(self.url, pool_size=1)
        try:
            return await work(IdentityStore(db, clock=lambda: datetime.now(UTC)))
        finally:
            await db.dispose()


@pytest.fixture
def run(tmp_path) -> Cli:
    return Cli(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path)


def _assert_secret_not_stored(run: Cli, token: str) -> None:
    stored = run.stored_text()
    assert token not in stored
    assert token.split("_", 1)[1] not in stored


# Against SQLite and PostgreSQL: init, keys create, keys list.


def test_init_keys_create_and_list_on_each_engine(database_url, tmp_path):
    run = Cli(database_url, tmp_path)
    admin_token = run.token("init")
    assert run.authenticate(admin_token).owner.name == "admin"
    _assert_secret_not_stored(run, admin_token)
    run("users", "create", "bob")
    bob_token = run.token("keys", "create", "--user", "bob", "--allow-model", "gpt-4o")
    assert run.authenticate(bob_token).key.allowed_models == ("gpt-4o",)
    listing = run("keys", "list").output
    assert "user:bob" in listing
    assert "user:admin" in listing
    assert TOKEN.search(listing) is None
    assert bob_token[-4:] in listing  # the hint, never the secret
    _assert_secret_not_stored(run, bob_token)


# init


def test_init_prints_the_secret_once_with_a_warning(run):
    result = run("init")
    assert len(TOKEN.findall(result.output)) == 1
    assert "shown only once" in result.output


def test_second_init_refuses_without_new_admin_key(run):
    first = run.token("init")
    again = run("init", ok=False)
    assert again.exit_code == 1
    assert again.stderr.startswith("error: ")
    assert "already exists" in again.stderr
    assert TOKEN.search(again.output) is None
    second = run.token("init", "--new-admin-key")
    assert second != first
    assert run.authenticate(first).owner.id == run.authenticate(second).owner.id
    users = json.loads(run("users", "list", "--json").output)
    assert [(u["name"], u["groups"]) for u in users] == [("admin", ["Administrators"])]


def test_init_with_a_named_admin(run):
    token = run.token("init", "--admin", "root-admin")
    assert run.authenticate(token).owner.name == "root-admin"


def test_commands_before_init_say_to_run_init(run):
    result = run("users", "list", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "tenantgate init" in result.stderr


# compartments


def test_compartments_nest_list_move_and_delete_by_path(run):
    run.token("init")
    for path in ("Finance", "Finance:Risk", "Finance:Risk:Models", "Ops"):
        run("compartments", "create", path)
    listed = json.loads(run("compartments", "list", "--json").output)
    assert [c["path"] for c in listed] == ["(root)", "Finance", "Finance:Risk", "Finance:Risk:Models", "Ops"]
    table = run("compartments", "list").output.splitlines()
    assert table[0].split() == ["PATH", "ID", "DESCRIPTION", "CREATED"]
    run("compartments", "move", "Finance:Risk", "Ops")
    paths = [c["path"] for c in json.loads(run("compartments", "list", "--json").output)]
    assert paths == ["(root)", "Finance", "Ops", "Ops:Risk", "Ops:Risk:Models"]
    run("compartments", "delete", "Ops:Risk:Models")
    busy = run("compartments", "delete", "Ops", ok=False)
    assert busy.exit_code == 1
    assert busy.stderr.startswith("error: ")


# users and groups


def test_groups_members_are_added_and_removed_by_name(run):
    run.token("init")
    run("users", "create", "bob")
    run("groups", "create", "eng")
    run("groups", "add-member", "eng", "bob")
    groups = {g["name"]: g for g in json.loads(run("groups", "list", "--json").output)}
    assert groups["eng"]["members"] == ["bob"]
    assert groups["Administrators"]["built_in"] is True
    run("groups", "remove-member", "eng", "bob")
    groups = {g["name"]: g for g in json.loads(run("groups", "list", "--json").output)}
    assert groups["eng"]["members"] == []


# policies


def test_policy_set_replaces_by_name_and_lists(run, tmp_path):
    run.token("init")
    run("groups", "create", "eng")
    run("compartments", "create", "Finance")
    policy = tmp_path / "p.policy"
    policy.write_text("Allow group eng to inspect all-resources in compartment Finance\n")
    assert "Created policy" in run("policies", "set", "p1", "--compartment", "Finance", "--file", str(policy)).output
    replaced = run("policies", "set", "p1", "--compartment", "Finance", "--file", "-",
                   stdin="Allow group eng to manage all-resources in compartment Finance\n")
    assert "Replaced policy" in replaced.output
    listed = json.loads(run("policies", "list", "--json", "--text").output)
    assert [(p["name"], p["compartment"]) for p in listed] == [("p1", "Finance")]
    assert "manage" in listed[0]["text"]


def test_policy_syntax_error_exits_2_with_line_and_column(run, tmp_path):
    run.token("init")
    policy = tmp_path / "bad.policy"
    policy.write_text("Allow group eng to inspect all-resources in tenancy\nAllow group eng to fly\n")
    result = run("policies", "set", "bad", "--compartment", "", "--file", str(policy), ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert re.search(r"line 2, column \d+", result.stderr)
    assert json.loads(run("policies", "list", "--json").output) == []


# keys


def test_service_key_rotate_and_revoke(run):
    run.token("init")
    run("compartments", "create", "Svc")
    first = run.token("keys", "create", "--compartment", "Svc", "--expires-in-days", "30")
    key_id = run.authenticate(first).key.id
    assert run.authenticate(first).owner.path_text == "Svc"
    second = run.token("keys", "rotate", key_id)
    assert run.authenticate(second).slot == 2
    run("keys", "revoke", key_id, "--slot", "1")
    with pytest.raises(InvalidApiKey):
        run.authenticate(first)
    assert run.authenticate(second).key.id == key_id
    run("keys", "revoke", key_id)
    with pytest.raises(InvalidApiKey):
        run.authenticate(second)
    listed = json.loads(run("keys", "list", "--json").output)
    service = next(k for k in listed if k["id"] == key_id)
    assert service["revoked"] is not None
    assert service["owner"] == "compartment:Svc"
    assert TOKEN.search(json.dumps(listed)) is None


def test_keys_create_needs_an_owner(run):
    run.token("init")
    result = run("keys", "create", ok=False)
    assert result.exit_code == 2
    assert "--user NAME" in result.stderr


def test_a_user_key_can_target_a_project_compartment(run):
    run.token("init")
    run("compartments", "create", "Finance")
    run("users", "create", "bob")
    token = run.token("keys", "create", "--user", "bob", "--compartment", "Finance")
    key = run.authenticate(token).key
    assert key.owner_user_id is not None
    assert key.owner_compartment_id is None
    finance = run("compartments", "list", "--json").output
    assert key.compartment_id in finance


# policy explain


def test_policy_explain_cites_the_deciding_statement_and_the_near_misses(run, tmp_path):
    run.token("init")
    run("compartments", "create", "Finance")
    run("users", "create", "bob")
    run("groups", "create", "Analysts")
    run("groups", "add-member", "Analysts", "bob")
    policy = tmp_path / "analysts.policy"
    policy.write_text("Allow group Analysts to use generative-ai-chat in compartment Finance "
                      "where request.model = 'gpt-4o'\n")
    run("policies", "set", "analysts", "--compartment", "", "--file", str(policy))

    allowed = run("policy", "explain", "--user", "bob", "--model", "gpt-4o", "--compartment", "Finance")
    assert allowed.output.startswith("ALLOWED: user bob to use generative-ai-chat in compartment Finance")
    assert "request.model = 'gpt-4o'" in allowed.output

    denied = run("policies", "explain", "--user", "bob", "--model", "o3", "--compartment", "Finance")
    assert denied.output.startswith("DENIED")
    assert "did not match" in denied.output
    assert "#1" in denied.output

    admin = json.loads(run("policy", "explain", "--user", "admin", "--operation", "embedding",
                           "--compartment", "Finance", "--json").output)
    assert admin["allowed"]
    assert admin["decided_by"][0]["id"] == "builtin:administrators"
    assert run("policy", "explain", "--user", "nobody", ok=False).exit_code == 1


# errors


@pytest.mark.parametrize("args", [
    ("users", "create", "bob"),  # taken, once created below
    ("groups", "add-member", "nobody", "bob"),
    ("keys", "revoke", "key_doesnotexist"),
    ("compartments", "create", "Missing:Child"),
    ("keys", "create", "--user", "ghost"),
])
def test_store_errors_exit_1_with_error_and_no_traceback(run, args):
    run.token("init")
    run("users", "create", "bob")
    result = run(*args, ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert result.stdout == ""

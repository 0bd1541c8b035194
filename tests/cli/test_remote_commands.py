"""The IAM commands in remote mode: a real gateway's admin API instead of the database.

Each test starts ``tenantgate serve`` on a database where ``tenantgate init`` ran, then
drives the CLI through click's CliRunner with $TENANTGATE_SERVER_URL and
$TENANTGATE_API_KEY, as an operator's shell would. The scripted session is also run in
local mode on a database of its own and the two transcripts must match, ids, secrets and
times aside.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tenantgate.cli._admin_client import AdminClient, GatewayUnreachable
from tenantgate.cli.main import cli
from tenantgate.errors import PermissionDenied
from tenantgate.testing.gateway_process import free_port, run_gateway

TOKEN = re.compile(r"tg-[a-z2-7]{12}[12]_[0-9A-Za-z]{43}")
KEY_ID = re.compile(r"API key (key_[a-z2-7]{12}) ")
POLICY = "Allow group eng to use generative-ai-chat in compartment Finance where request.model = 'gpt-4o'\n"


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "tenantgate.toml"
    path.write_text(f'[storage]\nurl = "{url}"\n[local]\nenabled = false\n')
    return path


def _init(config: Path) -> str:
    """``tenantgate init`` on the database of ``config``; the administrator's token."""
    result = CliRunner().invoke(cli, ["init", "--config", str(config)])
    assert result.exit_code == 0, result.output + result.stderr
    return TOKEN.findall(result.output)[0]


class Local:
    """Runs commands with ``--config`` on a database of its own (the reference transcript)."""

    def __init__(self, tmp_path: Path) -> None:
        self.config = _config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'local.db'}")
        _init(self.config)

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.config)], input=stdin)


@dataclass
class Remote:
    """Runs commands against ``base_url`` as the holder of ``token``, as a shell with both set would."""

    base_url: str
    token: str
    secrets: list[str] = field(default_factory=list)

    def __call__(self, *args: str, stdin: str | None = None, ok: bool = True, token: str | None = None) -> Result:
        env = {"TENANTGATE_SERVER_URL": self.base_url, "TENANTGATE_API_KEY": token or self.token}
        result = CliRunner().invoke(cli, list(args), input=stdin, env=env)
        printed = result.output + result.stderr
        assert "Traceback" not in printed
        for secret in {token or self.token, *self.secrets}:
            assert secret not in printed  # the caller's key, and every key minted before, never echo
        if ok:
            assert result.exit_code == 0, printed
        self.secrets += TOKEN.findall(result.output)
        return result

    def as_(self, token: str) -> Remote:
        """The same gateway, as the holder of another key."""
        return Remote(self.base_url, token, self.secrets)

    def token_of(self, *args: str) -> str:
        """Run a minting command; its one new secret."""
        before = list(self.secrets)
        found = TOKEN.findall(self(*args).output)
        assert len(found) == 1
        assert found[0] not in before
        return found[0]


def _serve(url: str, tmp_path: Path) -> Iterator[Remote]:
    """``tenantgate init`` on ``url``, then a gateway on it, and its administrator's CLI."""
    admin_token = _init(_config(tmp_path, url))
    settings = {"storage": {"url": url}, "local": {"enabled": False},
                "logging": {"level": "WARNING", "access_log": False}}
    workdir = tmp_path / "gateway"
    workdir.mkdir()
    with run_gateway(settings, workdir=workdir) as gateway:
        yield Remote(gateway.base_url, admin_token)


@pytest.fixture
def remote(migrated_database_url: str, tmp_path: Path) -> Iterator[Remote]:
    """A gateway on a fresh database of each engine (SQLite, PostgreSQL)."""
    yield from _serve(migrated_database_url, tmp_path)


@pytest.fixture
def sqlite_remote(tmp_path: Path) -> Iterator[Remote]:
    """A gateway on SQLite only, for the failure cases that do not depend on the engine."""
    yield from _serve(f"sqlite+aiosqlite:///{tmp_path / 'remote.db'}", tmp_path)


# The scripted session: (arguments, standard input, exit status); {name} is the id of the key minted
# as --name. Mistakes included: their messages must match too.

SESSION: list[tuple[tuple[str, ...], str | None, int]] = [
    (("compartments", "create", "Finance"), None, 0),
    (("compartments", "create", "Finance:Risk", "--description", "risk models"), None, 0),
    (("compartments", "create", "Ops"), None, 0),
    (("compartments", "move", "Finance:Risk", "Ops"), None, 0),
    (("compartments", "list"), None, 0),
    (("compartments", "list", "--json"), None, 0),
    (("compartments", "create", "Missing:Child"), None, 1),
    (("users", "create", "bob", "--description", "Bob"), None, 0),
    (("users", "create", "bob"), None, 1),
    (("groups", "create", "eng"), None, 0),
    (("groups", "add-member", "eng", "bob"), None, 0),
    (("groups", "add-member", "nobody", "bob"), None, 1),
    (("users", "list"), None, 0),
    (("groups", "list"), None, 0),
    (("groups", "remove-member", "eng", "bob"), None, 0),
    (("groups", "list", "--json"), None, 0),
    (("groups", "add-member", "eng", "bob"), None, 0),
    (("policies", "set", "p1", "--compartment", "", "--file", "-"), POLICY, 0),
    (("policies", "set", "p1", "--compartment", "", "--file", "-", "--description", "again"), POLICY, 0),
    (("policies", "set", "bad", "--compartment", "Ops", "--file", "-"), "Allow group eng to fly\n", 2),
    (("policies", "list", "--text"), None, 0),
    (("policy", "explain", "--user", "bob", "--model", "gpt-4o", "--compartment", "Finance"), None, 0),
    (("policies", "explain", "--user", "bob", "--model", "o3", "--compartment", "Finance"), None, 0),
    (("policies", "explain", "--user", "admin", "--operation", "embedding", "--json"), None, 0),
    (("policies", "explain", "--user", "nobody"), None, 1),
    (("keys", "create", "--user", "bob", "--compartment", "Finance", "--allow-model", "gpt-4o",
      "--name", "bob"), None, 0),
    (("keys", "create", "--compartment", "Ops:Risk", "--name", "svc", "--expires-in-days", "30"), None, 0),
    (("policies", "explain", "--key", "{svc}"), None, 0),
    (("keys", "rotate", "{svc}"), None, 0),
    (("keys", "revoke", "{svc}", "--slot", "1"), None, 0),
    (("keys", "revoke", "{bob}"), None, 0),
    (("keys", "list", "--json"), None, 0),
    (("compartments", "delete", "Ops"), None, 1),
    (("compartments", "delete", "Finance"), None, 1),
    (("compartments", "create", "Ops:Empty"), None, 0),
    (("compartments", "delete", "Ops:Empty"), None, 0),
]

_NORMALIZE = [
    (TOKEN, "<token>"),
    (re.compile(r"\b(cmp|usr|grp|pol|key)_[a-z2-7]+"), r"<\1>"),
    (re.compile(r"\.\.\.[0-9A-Za-z]{4}\b"), "...<hint>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"), "<time>"),
    # the administrator's key was used to call the gateway, never in local mode
    (re.compile(r'"last_used": ("<time>"|null)'), '"last_used": <any>'),
]


def _normalized(text: str) -> str:
    for pattern, replacement in _NORMALIZE:
        text = pattern.sub(replacement, text)
    return text


def _transcript(run: Callable[..., Result]) -> list[tuple[int, str, str]]:
    """Run the session; each step's exit code, stdout and stderr with ids, secrets and times masked."""
    keys: dict[str, str] = {}
    steps = []
    for args, stdin, _ in SESSION:
        result = run(*(arg.format(**keys) for arg in args), stdin=stdin)
        if "--name" in args and result.exit_code == 0:
            keys[args[args.index("--name") + 1]] = KEY_ID.findall(result.output)[0]
        steps.append((result.exit_code, _normalized(result.stdout), _normalized(result.stderr)))
    return steps


def test_a_scripted_session_prints_what_it_prints_on_a_local_database(remote, tmp_path):
    (tmp_path / "local-mode").mkdir()
    local = _transcript(Local(tmp_path / "local-mode"))
    remote_steps = _transcript(lambda *args, stdin=None: remote(*args, stdin=stdin, ok=False))
    for (args, _, status), here, there in zip(SESSION, local, remote_steps, strict=True):
        assert here[0] == status, (args, here)
        assert there == here, args
    assert len(remote.secrets) == 3  # bob's key, the service key and its rotation, once each


def test_a_compartment_administrator_runs_their_compartment_and_nothing_else(remote, tmp_path):
    admin = remote
    for step in (("compartments", "create", "A"), ("compartments", "create", "B"),
                 ("users", "create", "alice"), ("groups", "create", "AAdmins"),
                 ("groups", "add-member", "AAdmins", "alice")):
        admin(*step)
    admin("policies", "set", "grants", "--compartment", "", "--file", "-",
          stdin="Allow group AAdmins to manage all-resources in compartment A\n")
    alice = admin.as_(admin.token_of("keys", "create", "--user", "alice", "--compartment", "A"))

    alice("compartments", "create", "A:Team")
    listed = json.loads(alice("compartments", "list", "--json").output)
    assert [c["path"] for c in listed] == ["A", "A:Team"]
    alice("policies", "set", "team", "--compartment", "A", "--file", "-",
          stdin="Allow group AAdmins to use generative-ai-chat in compartment Team\n")
    assert "ALLOWED" in alice("policies", "explain", "--user", "alice", "--compartment", "A:Team").output
    second = alice.token_of("keys", "create", "--user", "alice", "--compartment", "A", "--name", "laptop")
    second_id = KEY_ID.findall(alice("keys", "rotate", "key_" + second[3:15]).output)[0]
    owners = {k["name"]: k["owner"] for k in json.loads(alice("keys", "list", "--json").output)}
    assert set(owners) == {"default", "laptop"}
    assert owners["laptop"].startswith("user:usr_")  # her name is not hers to look up
    alice("keys", "revoke", second_id)

    for args in (("compartments", "create", "Z"), ("compartments", "create", "B:Team"),
                 ("compartments", "delete", "A"), ("users", "list"), ("groups", "create", "mine"),
                 ("groups", "add-member", "AAdmins", "alice"),
                 ("policies", "set", "root", "--compartment", "", "--file", "-"),
                 ("policies", "explain", "--user", "alice", "--compartment", "B"),
                 ("keys", "create", "--user", "admin"), ("keys", "revoke", "key_" + admin.token[3:15])):
        refused = alice(*args, stdin="Allow group AAdmins to manage all-resources in tenancy\n", ok=False)
        assert refused.exit_code == 1, args
        assert refused.stderr.startswith("error: "), args
        assert refused.stdout == "", args
    assert [c["path"] for c in json.loads(admin("compartments", "list", "--json").output)] == [
        "(root)", "A", "A:Team", "B"]


def test_a_denial_names_the_missing_grant(remote):
    remote("compartments", "create", "Shared")
    remote("users", "create", "carol")
    remote("groups", "create", "readers")
    remote("groups", "add-member", "readers", "carol")
    remote("policies", "set", "read", "--compartment", "", "--file", "-",
           stdin="Allow group readers to inspect compartments in tenancy\n")
    carol = remote.as_(remote.token_of("keys", "create", "--user", "carol"))
    refused = carol("compartments", "create", "Shared:Mine", ok=False)
    assert refused.exit_code == 1
    assert "it needs 'manage compartments' in compartment Shared" in refused.stderr
    nobody = remote("users", "create", "dan")
    assert nobody.exit_code == 0
    dan = remote.as_(remote.token_of("keys", "create", "--user", "dan"))
    unseen = dan("compartments", "create", "Top", ok=False)
    assert unseen.exit_code == 1
    assert "'inspect compartments' in tenancy" in unseen.stderr


def test_a_wrong_key_is_refused_with_the_gateways_401_message(sqlite_remote):
    wrong = "tg-aaaaaaaaaaaa1_" + "a" * 43
    result = sqlite_remote("users", "list", token=wrong, ok=False)
    assert result.exit_code == 1
    assert result.stderr == "error: Incorrect, expired or revoked API key provided.\n"
    garbage = sqlite_remote("users", "list", token="not-a-key", ok=False)
    assert garbage.exit_code == 1
    assert garbage.stderr.startswith("error: ")


def test_the_key_comes_only_from_the_environment(sqlite_remote):
    result = CliRunner().invoke(cli, ["users", "list", "--server", sqlite_remote.base_url],
                                env={"TENANTGATE_API_KEY": ""})
    assert result.exit_code == 1
    assert "TENANTGATE_API_KEY" in result.stderr
    both = sqlite_remote("users", "list", "--config", "tenantgate.toml", ok=False)
    assert both.exit_code == 1
    assert "not both" in both.stderr
    assert sqlite_remote("users", "list", "--server", sqlite_remote.base_url + "/").exit_code == 0
    token = sqlite_remote.token
    broken = sqlite_remote("users", "list", token=f"{token[:20]}\n{token[20:]}", ok=False)
    assert broken.exit_code == 1
    assert "must hold one key" in broken.stderr
    assert token[20:] not in broken.stderr


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    remote = Remote(url, "tg-aaaaaaaaaaaa1_" + "a" * 43)
    result = remote("compartments", "list", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach the gateway at {url}: ")
    odd = remote("users", "list", "--server", "ftp://example.invalid", ok=False)
    assert odd.exit_code == 1
    assert "http:// or https://" in odd.stderr


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


async def test_a_server_that_does_not_answer_times_out(silent_server):
    client = AdminClient(silent_server, "tg-secret", timeout_s=0.3)
    with pytest.raises(GatewayUnreachable, match=r"did not answer within 0\.3 s") as raised:
        await client.call("GET", "/admin/v1/users")
    assert "tg-secret" not in str(raised.value) + repr(client)


def test_error_bodies_become_the_errors_of_their_code(sqlite_remote):
    sqlite_remote("users", "create", "dave")
    dave = sqlite_remote.token_of("keys", "create", "--user", "dave")
    with pytest.raises(PermissionDenied):
        asyncio.run(AdminClient(sqlite_remote.base_url, dave).call("GET", "/admin/v1/users"))

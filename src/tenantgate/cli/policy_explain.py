"""`tenantgate policies explain` (also `tenantgate policy explain`): why a request is allowed or not.

It loads the same snapshot and runs the same evaluator as the gateway, so the answer is
what a real request would get at this moment, with the statements that decided it or, for
a denial, the statements that cover the resource and place but did not match. With
``--server`` the gateway answers (``POST /admin/v1/policies/explain``), which needs
``inspect policies`` in the compartment asked about.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from tenantgate.cli._remote_store import RemoteIdentityStore
from tenantgate.cli._store_session import (
    config_option,
    fail,
    json_option,
    run_remote,
    run_with_database,
    server_option,
)
from tenantgate.errors import ApiKeyNotFound, CompartmentNotFound, UserNotFound
from tenantgate.iam._snapshot_rows import load_snapshot
from tenantgate.iam.access_snapshot import IdentitySnapshot
from tenantgate.iam.explain import Explanation, explain, user_principal
from tenantgate.iam.inference_access import RESOURCE_FOR_OPERATION
from tenantgate.iam.key_authentication import principal_of
from tenantgate.iam.policy_model import ResourceType, Verb
from tenantgate.iam.principal import Principal

_VERBS = {verb.keyword: verb for verb in Verb}


@click.command("explain")
@config_option
@server_option
@click.option("--user", "user_name", help="The user asking (name).")
@click.option("--key", "key_id", help="Or the API key asking (key_…): a service key acts as itself.")
@click.option("--model", default=None, help="request.model, e.g. gpt-4o.")
@click.option("--compartment", "compartment", default=None,
              help="Target compartment path or id (default: the key's own, else the tenancy).")
@click.option("--operation", type=click.Choice(sorted(RESOURCE_FOR_OPERATION)), default="chat",
              show_default=True, help="request.operation; also picks the resource type.")
@click.option("--verb", type=click.Choice(list(_VERBS)), default="use", show_default=True)
@click.option("--resource-type", "resource_type", type=click.Choice([t.value for t in ResourceType]),
              default=None, help="Default: generative-ai-chat or -embedding, from --operation.")
@click.option("--region", default=None, help="request.region.")
@click.option("--ip", default=None, help="request.ip.")
@json_option
def explain_command(
    config_file: Path | None, server_url: str | None, user_name: str | None, key_id: str | None,
    model: str | None, compartment: str | None, operation: str, verb: str, resource_type: str | None,
    region: str | None, ip: str | None, as_json: bool,
) -> None:
    """Say whether a user or key may do something, and which policy statements decide it."""
    if (user_name is None) == (key_id is None):
        fail("give exactly one of --user or --key")
    kind = ResourceType(resource_type) if resource_type else RESOURCE_FOR_OPERATION[operation]
    if server_url is not None:
        if ip is not None:
            fail("--ip needs the local database: the admin API explains without request.ip")
        question = {"user": user_name, "key_id": key_id, "verb": verb, "resource_type": kind.value,
                    "model": model, "operation": operation, "region": region}
        found = run_remote(server_url, lambda store: _ask(store, question, compartment),
                           config_file=config_file)
        _print(found, as_json)
        return
    snapshot = run_with_database(config_file, lambda db: db.run_read(load_snapshot))
    principal, home = _principal(snapshot, user_name, key_id)
    reference = compartment or home
    target = snapshot.find_compartment(reference) if reference else snapshot.root
    if target is None:
        fail(f"no compartment {reference!r}" if reference else "the tenancy has not been created yet")
    answer = explain(
        snapshot, principal, target, verb=_VERBS[verb], resource_type=kind,
        model=model, operation=operation, region=region, ip=ip, now=datetime.now(UTC),
    )
    _print(answer, as_json)


async def _ask(store: RemoteIdentityStore, question: dict[str, str | None],
               compartment: str | None) -> Explanation:
    """The gateway's answer, defaulting and failing as the local command does."""
    key_id, place = question["key_id"], compartment
    try:
        if not place and key_id is not None:
            place = await store.key_compartment(key_id)  # a key's question is about its own place
        return await store.explain({**question, "compartment": place or ""})
    except UserNotFound:
        raise UserNotFound(f"no user named {question['user']!r}") from None
    except ApiKeyNotFound:
        raise ApiKeyNotFound(f"no API key {key_id!r}") from None
    except CompartmentNotFound:
        raise CompartmentNotFound(f"no compartment {place!r}") from None


def _principal(
    snapshot: IdentitySnapshot, user_name: str | None, key_id: str | None
) -> tuple[Principal, str | None]:
    if key_id is not None:
        record = snapshot.keys.get(key_id.removeprefix("key_"))
        if record is None:
            fail(f"no API key {key_id!r}")
        return principal_of(snapshot, record), record.compartment_id
    user = next((u for u in snapshot.users.values() if u.name == user_name), None)
    if user is None:
        fail(f"no user named {user_name!r}")
    return user_principal(user), None


def _print(answer: Explanation, as_json: bool) -> None:
    if as_json:
        import json
        from dataclasses import asdict

        click.echo(json.dumps(asdict(answer), indent=2))
        return
    click.echo(answer.summary())
    if answer.allowed:
        click.echo("Allowed by:")
        for statement in answer.decided_by:
            click.echo(f"  {statement.id}: {statement.text}")
    else:
        click.echo("No statement allows this (access is denied by default).")
        if answer.near_misses:
            click.echo("Statements that cover this resource and place, but whose subject or condition "
                       "did not match:")
            for statement in answer.near_misses:
                click.echo(f"  {statement.id}: {statement.text}")
    for error in answer.errors:
        click.echo(f"  note: {error}")

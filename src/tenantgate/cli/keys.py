"""`tenantgate keys`: mint, list, rotate and revoke API keys.

Secrets are printed once, when minted (``create``, ``rotate``); ``list`` shows only what
the store keeps: each slot's last four characters, expiry, last use and revocation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from tenantgate.cli._secrets import show_secret_once
from tenantgate.cli._store_session import (
    IdentityCommands,
    config_option,
    json_option,
    run_with_store,
    server_option,
    utc_now,
)
from tenantgate.cli._tables import Cell, print_rows
from tenantgate.errors import PermissionDenied
from tenantgate.iam.model import ApiKey, CreatedApiKey, SecretSlot, User


@click.group("keys")
def keys_group() -> None:
    """Manage API keys (secrets are shown once, when minted)."""


@keys_group.command("create")
@config_option
@server_option
@click.option("--user", "user_name", help="Owner: the user with this name.")
@click.option("--compartment", "compartment_path",
              help="Alone: the owner, a compartment at this path (a service key). With --user: the "
                   "compartment the key's requests target (its project; default the tenancy).")
@click.option("--name", "key_name", default="default", show_default=True, help="Name of the key.")
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Expire the secret after N days.")
@click.option("--allow-model", "models", multiple=True, help="Restrict the key to this model (repeatable).")
def create(config_file: Path | None, server_url: str | None, user_name: str | None,
           compartment_path: str | None, key_name: str, expires_in_days: int | None,
           models: tuple[str, ...]) -> None:
    """Mint a key owned by a user or a compartment and print its secret once."""
    if user_name is None and compartment_path is None:
        raise click.UsageError("give --user NAME, --compartment PATH, or both (a user's key for a project)")
    expires_at = _expiry(expires_in_days)

    async def work(store: IdentityCommands) -> CreatedApiKey:
        compartment = (await store.resolve_compartment(compartment_path)
                       if compartment_path is not None else None)
        if user_name is not None:
            owner = await store.find_user(user_name)
            return await store.create_api_key(key_name, owner_user_id=owner.id,
                                              allowed_models=models or None, expires_at=expires_at,
                                              compartment_id=compartment.id if compartment else None)
        assert compartment is not None
        return await store.create_api_key(key_name, owner_compartment_id=compartment.id,
                                          allowed_models=models or None, expires_at=expires_at)

    show_secret_once(run_with_store(config_file, work, server_url=server_url))


@keys_group.command("list")
@config_option
@server_option
@json_option
def list_(config_file: Path | None, server_url: str | None, as_json: bool) -> None:
    """List keys with their owners and secret slots (never the secrets)."""

    async def work(store: IdentityCommands) -> tuple[list[ApiKey], dict[str, str]]:
        owners = {u.id: f"user:{u.name}" for u in await _users_if_allowed(store)}
        owners |= {c.id: f"compartment:{c.path_text or '(root)'}" for c in await store.list_compartments()}
        return await store.list_api_keys(), owners

    keys, owners = run_with_store(config_file, work, server_url=server_url)
    now = utc_now()
    rows: list[list[Cell]] = [[k.id, k.name, owners.get(str(k.owner_user_id or k.owner_compartment_id),
                                                        _owner_id(k)),
             [_slot_text(s, now) for s in k.slots], _earliest_expiry(k), k.last_used_at,
             k.revoked_at, list(k.allowed_models) if k.allowed_models is not None else None]
            for k in keys]
    print_rows(["id", "name", "owner", "slots", "expires", "last_used", "revoked", "models"],
               rows, as_json=as_json)


@keys_group.command("rotate")
@config_option
@server_option
@click.argument("key_id")
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Expire the new secret after N days.")
def rotate(
    config_file: Path | None, server_url: str | None, key_id: str, expires_in_days: int | None
) -> None:
    """Mint a secret in KEY_ID's free slot; the other secret keeps working until revoked."""
    expires_at = _expiry(expires_in_days)
    show_secret_once(run_with_store(
        config_file, lambda store: store.rotate_api_key(key_id, expires_at=expires_at),
        server_url=server_url))


@keys_group.command("revoke")
@config_option
@server_option
@click.argument("key_id")
@click.option("--slot", type=click.Choice(["1", "2"]),
              help="Revoke only this secret; default: the whole key.")
def revoke(config_file: Path | None, server_url: str | None, key_id: str, slot: str | None) -> None:
    """Revoke KEY_ID (or one of its two secrets)."""
    number = int(slot) if slot is not None else None
    run_with_store(config_file, lambda store: store.revoke_api_key(key_id, slot=number),
                   server_url=server_url)
    click.echo(f"Revoked {key_id}" + (f" secret slot {number}." if number is not None else "."))


async def _users_if_allowed(store: IdentityCommands) -> list[User]:
    """Every user, or none for a gateway key that may not list users (it still sees its keys)."""
    try:
        return await store.list_users()
    except PermissionDenied:
        return []


def _owner_id(key: ApiKey) -> str:
    """The owner by id, when their name is not visible to the caller."""
    if key.owner_user_id is not None:
        return f"user:{key.owner_user_id}"
    return f"compartment:{key.owner_compartment_id}"


def _expiry(days: int | None) -> datetime | None:
    return utc_now() + timedelta(days=days) if days is not None else None


def _slot_text(slot: SecretSlot, now: datetime) -> str:
    """``1:...abcd active``: the hint tells secrets apart without revealing them."""
    return f"{slot.slot}:...{slot.hint} {slot.state(now)}"


def _earliest_expiry(key: ApiKey) -> datetime | None:
    return min((s.expires_at for s in key.slots if s.expires_at is not None and s.revoked_at is None),
               default=None)

"""`tenantgate credits rates`: the rate card, listed, added to and withdrawn from.

On the local database (``--config``) or through a gateway's admin API (``--server`` /
$TENANTGATE_SERVER_URL, key in $TENANTGATE_API_KEY), with the same validation and output
either way: locally the admin API's own rules and views are applied to the database. Prices
are decimal credits per 1M tokens, exact; a price change is a new entry with a later
``--from``, and only an entry still in the future can be withdrawn.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click
import msgspec

from tenantgate.admin.rate_card import add_entry
from tenantgate.admin.rate_card_views import listing, new_entry_status, rate_entry_view
from tenantgate.admin.schemas import RateCardCreate
from tenantgate.api.request_validation import validation_error
from tenantgate.cli._admin_client import AdminClient, RemoteGatewayError, check_server_url, quote
from tenantgate.cli._store_session import (
    config_option,
    fail,
    json_option,
    remote_token,
    run_with_database,
    server_option,
    utc_now,
)
from tenantgate.cli._tables import Cell, print_rows
from tenantgate.credits.rate_card_entries import config_entries, merged_card
from tenantgate.credits.rate_card_store import RateCardStore
from tenantgate.errors import TenantgateError
from tenantgate.settings import load_settings
from tenantgate.storage import Database

T = TypeVar("T")
Entry = dict[str, Any]
"""An entry in the admin API's JSON shape (``RateCardEntryView``)."""
LOCAL_AUTHOR = "cli:local"
"""``created_by`` of entries added on the local database (no principal is involved)."""
_WHEN = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"])
_HEADERS = ["id", "model", "region", "type", "input", "cached_input", "output", "embedding", "from",
            "source", "status"]


class RateCardCommands(Protocol):
    """What the commands call; answered by the database or by the admin API."""

    async def list(self, model: str | None, at_s: int | None) -> list[Entry]: ...
    async def add(self, body: dict[str, Any]) -> Entry: ...
    async def withdraw(self, entry_id: str) -> None: ...


class _Local:
    """The rate card of the local database plus the settings file's entries."""

    def __init__(self, db: Database, config_file: Path | None) -> None:
        self._store = RateCardStore(db, clock=utc_now)
        self._configured = config_entries(load_settings(config_file).credits.rate_card)

    async def list(self, model: str | None, at_s: int | None) -> list[Entry]:
        configured = [e for e in self._configured if model is None or e.model == model]
        card = merged_card(configured, await self._store.list_entries(model=model))
        return [msgspec.to_builtins(view) for view in listing(card, at_s=at_s, now=utc_now())]

    async def add(self, body: dict[str, Any]) -> Entry:
        try:
            decoded = msgspec.convert(body, RateCardCreate)
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from exc
        entry = await add_entry(self._store, decoded, created_by=LOCAL_AUTHOR)
        made: Entry = msgspec.to_builtins(rate_entry_view(entry, new_entry_status(entry, utc_now())))
        return made

    async def withdraw(self, entry_id: str) -> None:
        await self._store.withdraw(entry_id, by=LOCAL_AUTHOR)


class _Remote:
    """The rate card as a gateway's admin API serves it to the key's holder."""

    def __init__(self, client: AdminClient) -> None:
        self._client = client

    async def list(self, model: str | None, at_s: int | None) -> list[Entry]:
        params = {name: value for name, value in (("model", model), ("at", at_s)) if value is not None}
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        answer: dict[str, Any] = await self._client.call("GET", f"/admin/v1/rate-card{query}")
        return list(answer["data"])

    async def add(self, body: dict[str, Any]) -> Entry:
        answer: Entry = await self._client.call("POST", "/admin/v1/rate-card", body)
        return answer

    async def withdraw(self, entry_id: str) -> None:
        await self._client.call("DELETE", f"/admin/v1/rate-card/{quote(entry_id)}")


def _run(config_file: Path | None, server_url: str | None,
         work: Callable[[RateCardCommands], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` on the gateway at ``server_url`` if given, else on the configured database."""
    if server_url is None:
        return run_with_database(config_file, lambda db: work(_Local(db, config_file)))
    token = remote_token(config_file)
    try:
        return asyncio.run(work(_Remote(AdminClient(check_server_url(server_url), token))))
    except (TenantgateError, RemoteGatewayError) as exc:
        fail(exc.message)


@click.group("rates")
def rates_group() -> None:
    """The rate card: prices per model (region, deployment type), effective-dated."""


@rates_group.command("list")
@config_option
@server_option
@json_option
@click.option("--model", help="Only this model's entries.")
@click.option("--at", "at", type=_WHEN, help="Only the entries in force at this UTC time.")
def rates_list(config_file: Path | None, server_url: str | None, as_json: bool, model: str | None,
               at: datetime | None) -> None:
    """List the rate card: the settings file's entries and the administered ones."""
    at_s = None if at is None else int(at.replace(tzinfo=UTC).timestamp())
    found = _run(config_file, server_url, lambda rates: rates.list(model, at_s))
    print_rows(_HEADERS, [_row(entry) for entry in found], as_json=as_json)


@rates_group.command("set")
@config_option
@server_option
@json_option
@click.option("--model", required=True, help="The public model name.")
@click.option("--input", "input_", required=True, help="Credits per 1M input tokens, as a decimal.")
@click.option("--output", default="0", show_default=True, help="Credits per 1M output tokens.")
@click.option("--cached-input", help="Credits per 1M cached input tokens (default: the input price).")
@click.option("--embedding", help="Credits per 1M embedding tokens (default: the input price).")
@click.option("--region", help="Only for deployments in this region (default: any).")
@click.option("--deployment-type", type=click.Choice(["on_demand", "dedicated"]),
              help="Only for deployments of this type (default: any).")
@click.option("--from", "starts", type=_WHEN, help="When the price starts, UTC (default: now).")
def rates_set(config_file: Path | None, server_url: str | None, as_json: bool, model: str, input_: str,
              output: str, cached_input: str | None, embedding: str | None, region: str | None,
              deployment_type: str | None, starts: datetime | None) -> None:
    """Add a price from --from on (a new entry; past prices never change)."""
    body: dict[str, Any] = {"model": model, "input_per_1m": input_, "output_per_1m": output,
                            "cached_input_per_1m": cached_input, "embedding_per_1m": embedding,
                            "region": region, "deployment_type": deployment_type}
    if starts is not None:
        body["effective_from"] = int(starts.replace(tzinfo=UTC).timestamp())
    made = _run(config_file, server_url, lambda rates: rates.add(body))
    if as_json:
        click.echo(json.dumps(made, indent=2))
        return
    starts_at = datetime.fromtimestamp(made["effective_from"], UTC)
    click.echo(f"Added rate-card entry {made['id']} for {made['model']}: input {made['input_per_1m']}, "
               f"output {made['output_per_1m']} credits per 1M tokens from {starts_at:%Y-%m-%d %H:%M:%S} UTC "
               f"({made['status'].replace('_', ' ')}).")


@rates_group.command("withdraw")
@config_option
@server_option
@click.argument("entry_id")
def rates_withdraw(config_file: Path | None, server_url: str | None, entry_id: str) -> None:
    """Withdraw the entry ENTRY_ID, only while it is not yet in effect."""
    _run(config_file, server_url, lambda rates: rates.withdraw(entry_id))
    click.echo(f"Withdrew rate-card entry {entry_id}.")


def _row(entry: Entry) -> list[Cell]:
    return [entry["id"], entry["model"], entry["region"], entry["deployment_type"], entry["input_per_1m"],
            entry["cached_input_per_1m"], entry["output_per_1m"], entry["embedding_per_1m"],
            datetime.fromtimestamp(entry["effective_from"], UTC), entry["source"], entry["status"]]

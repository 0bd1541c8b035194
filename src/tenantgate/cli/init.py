"""`tenantgate init`: migrate the database, create the tenancy and an administrator, mint their key.

The admin's secret is printed once. A second ``init`` refuses unless ``--new-admin-key``
is given, so re-running a setup script never mints (and leaks into its logs) another
administrator secret by accident.
"""

from __future__ import annotations

from pathlib import Path

import click

from tenantgate.cli._secrets import show_secret_once
from tenantgate.cli._store_session import config_option, fail, run_with_store
from tenantgate.iam.model import CreatedApiKey, Tenancy
from tenantgate.iam.store import IdentityStore

ADMIN_KEY_NAME = "admin"


@click.command("init")
@config_option
@click.option("--admin", "admin_name", default="admin", show_default=True,
              help="Name of the administrator user to create.")
@click.option("--tenancy", "tenancy_name", default="tenancy", show_default=True,
              help="Name of the tenancy (its root compartment).")
@click.option("--new-admin-key", is_flag=True,
              help="The tenancy exists: mint another key for the administrator anyway.")
def init(config_file: Path | None, admin_name: str, tenancy_name: str, new_admin_key: bool) -> None:
    """Set up the database, the tenancy and an administrator, and print their API key once."""

    async def work(store: IdentityStore) -> tuple[Tenancy | None, Tenancy, CreatedApiKey | None]:
        existing = await store.find_tenancy()
        if existing is not None and not new_admin_key:
            return existing, existing, None
        tenancy = await store.create_tenancy(tenancy_name)
        admin = await store.ensure_administrator(admin_name)
        return existing, tenancy, await store.create_api_key(ADMIN_KEY_NAME, owner_user_id=admin.id)

    existing, tenancy, created = run_with_store(config_file, work, migrate=True)
    if created is None:
        fail(f"the tenancy {tenancy.name!r} already exists; no key was minted "
             "(use `tenantgate init --new-admin-key` to mint another administrator key)")
    if existing is None:
        click.echo(f"Created tenancy {tenancy.name!r} ({tenancy.id}).")
    click.echo(f"Administrator {admin_name!r} is in the Administrators group.")
    show_secret_once(created)

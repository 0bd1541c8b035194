import asyncio
import uuid
from datetime import UTC

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tenantgate.storage import (
    Database,
    MigrationRequired,
    check_at_head,
    current_revision,
    head_revision,
    installation_id,
    upgrade_to_head,
)
from tenantgate.storage.installation import installation
from tenantgate.storage.migrations.table_modules import load_table_modules


async def test_fresh_database_has_no_revision_and_is_reported_as_needing_migration(database_url):
    assert await current_revision(database_url) is None
    with pytest.raises(MigrationRequired) as caught:
        await check_at_head(database_url)
    assert (caught.value.current_revision, caught.value.head_revision) == (None, head_revision())


async def test_upgrade_reaches_head_and_rerunning_it_changes_nothing(database_url):
    async with Database.open(database_url) as db:
        assert await upgrade_to_head(db) == head_revision()
        first_id = await installation_id(db)
        assert await upgrade_to_head(db) == head_revision()
        await check_at_head(db)
        assert await installation_id(db) == first_id
        async with db.read() as conn:
            rows = (await conn.execute(sa.select(sa.func.count()).select_from(installation))).scalar()
    assert rows == 1


async def test_installation_id_is_a_uuid_that_survives_restarts(database_url):
    async with Database.open(database_url) as db:
        await upgrade_to_head(db)
        before = await installation_id(db)
    async with Database.open(database_url) as reopened:
        after = await installation_id(reopened)
    assert after == before
    assert str(uuid.UUID(before)) == before


async def test_installation_created_at_reads_back_as_aware_utc(database):
    async with database.read() as conn:
        created_at = (await conn.execute(sa.select(installation.c.created_at))).scalar_one()
    assert created_at.tzinfo is UTC


async def test_installation_id_before_migrating_raises_migration_required(database_url):
    async with Database.open(database_url) as db:
        with pytest.raises(MigrationRequired):
            await installation_id(db)


async def test_concurrent_upgrades_from_many_replicas_serialize(database_url):
    replicas = [Database.open(database_url) for _ in range(4)]
    try:
        revisions = await asyncio.gather(*(upgrade_to_head(db) for db in replicas))
        ids = {await installation_id(db) for db in replicas}
    finally:
        for db in replicas:
            await db.dispose()
    assert revisions == [head_revision()] * 4
    assert len(ids) == 1


async def test_migrations_produce_exactly_the_declared_tables(database):
    metadata = load_table_modules()

    def diff(sync_conn: sa.Connection) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with database.read() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []

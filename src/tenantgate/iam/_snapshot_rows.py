"""Read everything an ``IdentitySnapshot`` holds in one read transaction.

A handful of whole-table queries, not one per key: a reload costs the same few round
trips with ten keys or a hundred thousand, and the snapshot is consistent because all of
it comes from one transaction's view.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tenantgate.iam import _identity_rows as rows
from tenantgate.iam._key_store import read_all_keys
from tenantgate.iam.access_snapshot import IdentitySnapshot, build_snapshot
from tenantgate.iam.policy_model import Statement
from tenantgate.iam.policy_parser import parse_policy
from tenantgate.iam.tables import api_key_secrets, group_members, groups, users


async def load_snapshot(conn: AsyncConnection) -> IdentitySnapshot:
    """The identity state as of this transaction (call inside ``Database.run_read``)."""
    revision = await rows.read_revision(conn)
    tenancy = await rows.read_tenancy(conn)
    tree = await rows.load_tree(conn)
    user_rows = (await conn.execute(sa.select(users.c.id, users.c.name))).all()
    group_rows = (await conn.execute(sa.select(groups.c.id, groups.c.name))).all()
    member_rows = (await conn.execute(sa.select(group_members.c.group_id, group_members.c.user_id))).all()
    digest_rows = await conn.execute(
        sa.select(api_key_secrets.c.key_id, api_key_secrets.c.slot, api_key_secrets.c.digest_sha256)
    )
    digests = {(row.key_id, row.slot): row.digest_sha256 for row in digest_rows}
    statements: list[Statement] = []
    for policy in await rows.read_policies(conn):
        statements += parse_policy(policy.text, policy_id=policy.id, attached_to=policy.attached_to)
    return build_snapshot(
        revision=revision,
        tenancy=tenancy,
        tree=tree,
        users=[(row.id, row.name) for row in user_rows],
        groups=[(row.id, row.name) for row in group_rows],
        memberships=[(row.group_id, row.user_id) for row in member_rows],
        keys=await read_all_keys(conn),
        secret_digests=digests,
        statements=statements,
    )

"""Tampering with the stored trail by raw SQL, as someone with database access would, on both
engines; ``verify`` must name the kind of break and the seq where it is."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from audit_factories import make_entry

from tenantgate.audit.chain import event_fields, link_hash
from tenantgate.audit.tables import audit_events


@pytest.fixture
async def events(store):
    """A five-event trail in two batches."""
    return await store.append([make_entry(i) for i in range(1, 4)]) + await store.append(
        [make_entry(4), make_entry(5)]
    )


async def _sql(database, *statements: str, **params: object) -> None:
    async with database.write() as conn:
        for statement in statements:
            await conn.execute(sa.text(statement), params)


async def _broken_at(store) -> tuple[str, int]:
    report = await store.verify(page_size=2)
    assert report.broken is not None, "tampering went unnoticed"
    return report.broken.kind, report.broken.seq


@pytest.mark.parametrize(
    "assignment",
    [
        "action = 'iam.policy.delete'",
        "outcome = 'denied'",
        "actor_id = 'usr_mallory'",
        "actor_name = NULL",
        "target_id = 'pol_other'",
        "client_ip = '198.51.100.1'",
        "statement_ids = '[]'",
        "details = '{\"index\": 3, \"name\": \"policy-3\"}'",
        "id = 'aud_forgedforgedforgedfo'",
    ],
)
async def test_editing_any_column_of_a_row_is_reported_as_edited_at_that_seq(store, database, events,
                                                                              assignment):
    await _sql(database, f"UPDATE audit_events SET {assignment} WHERE seq = 3")  # noqa: S608
    assert await _broken_at(store) == ("edited", 3)


async def test_moving_a_timestamp_by_one_microsecond_is_an_edit(store, database, events):
    async with database.write() as conn:
        moved = events[1].occurred_at + timedelta(microseconds=1)
        await conn.execute(audit_events.update().where(audit_events.c.seq == 2).values(occurred_at=moved))
    assert await _broken_at(store) == ("edited", 2)


async def test_replacing_a_hash_is_an_edit_of_that_row(store, database, events):
    await _sql(database, "UPDATE audit_events SET hash = :h WHERE seq = 4", h="f" * 64)
    assert await _broken_at(store) == ("edited", 4)


async def test_rewriting_a_prev_hash_breaks_the_link(store, database, events):
    await _sql(database, "UPDATE audit_events SET prev_hash = :h WHERE seq = 2", h="0" * 64)
    assert await _broken_at(store) == ("broken_link", 2)


async def test_deleting_a_middle_row_is_a_gap(store, database, events):
    await _sql(database, "DELETE FROM audit_events WHERE seq = 3")
    assert await _broken_at(store) == ("gap", 3)


async def test_deleting_the_first_row_is_a_gap_at_one(store, database, events):
    await _sql(database, "DELETE FROM audit_events WHERE seq = 1")
    assert await _broken_at(store) == ("gap", 1)


async def test_deleting_the_last_row_is_caught_by_the_head(store, database, events):
    await _sql(database, "DELETE FROM audit_events WHERE seq = 5")
    assert await _broken_at(store) == ("truncated", 5)


async def test_deleting_the_tail_is_truncation(store, database, events):
    await _sql(database, "DELETE FROM audit_events WHERE seq >= 3")
    assert await _broken_at(store) == ("truncated", 3)


async def test_deleting_every_row_is_truncation_at_one(store, database, events):
    await _sql(database, "DELETE FROM audit_events")
    assert await _broken_at(store) == ("truncated", 1)


async def test_changing_the_heads_hash_is_reported(store, database, events):
    await _sql(database, "UPDATE audit_chain_head SET last_hash = :h", h="e" * 64)
    assert await _broken_at(store) == ("truncated", 5)


async def test_deleting_the_head_row_leaves_every_event_unaccounted_for(store, database, events):
    await _sql(database, "DELETE FROM audit_chain_head")
    assert await _broken_at(store) == ("beyond_head", 1)


async def test_swapping_two_rows_seqs_breaks_the_link_where_the_first_moved(store, database, events):
    await _sql(
        database,
        "UPDATE audit_events SET seq = -1 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 4",
        "UPDATE audit_events SET seq = 4 WHERE seq = -1",
    )
    assert await _broken_at(store) == ("broken_link", 2)


async def _insert_forged(database, seq: int, prev_hash: str, hash_: str) -> None:
    await _sql(
        database,
        "INSERT INTO audit_events (seq, id, occurred_at, actor_type, actor_id, action, outcome, "
        "statement_ids, details, prev_hash, hash) VALUES (:seq, 'aud_forged', "
        "'2025-03-01 12:00:00.123456', 'system', 'system', 'iam.policy.create', 'succeeded', "
        "'[]', '{}', :prev, :hash)",
        seq=seq, prev=prev_hash, hash=hash_,
    )


async def _shift_up_from(database, seq: int) -> None:
    # Two steps, so neither engine sees a transient primary-key clash.
    await _sql(database, "UPDATE audit_events SET seq = seq + 1000 WHERE seq >= :s",
               "UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000", s=seq)


async def test_a_forged_row_with_a_wrong_hash_is_an_edit_where_it_was_put(store, database, events):
    await _shift_up_from(database, 3)
    await _insert_forged(database, 3, events[1].hash, "a" * 64)
    await _sql(database, "UPDATE audit_chain_head SET last_seq = 6")
    assert await _broken_at(store) == ("edited", 3)


async def test_a_forged_row_with_a_correct_hash_breaks_the_next_link(store, database, events):
    await _shift_up_from(database, 3)
    await _insert_forged(database, 3, events[1].hash, "0" * 64)
    forged = (await store.list_events(after_seq=2, limit=1))[0]
    await _sql(database, "UPDATE audit_events SET hash = :h WHERE seq = 3",
               h=link_hash(forged.prev_hash, event_fields(forged)))
    await _sql(database, "UPDATE audit_chain_head SET last_seq = 6")
    assert await _broken_at(store) == ("broken_link", 4)


async def test_a_well_formed_row_appended_behind_the_heads_back_is_beyond_the_head(store, database, events):
    await _insert_forged(database, 6, events[-1].hash, "0" * 64)
    forged = (await store.list_events(after_seq=5, limit=1))[0]
    await _sql(database, "UPDATE audit_events SET hash = :h WHERE seq = 6",
               h=link_hash(forged.prev_hash, event_fields(forged)))
    assert await _broken_at(store) == ("beyond_head", 6)


async def test_cutting_the_tail_and_rewriting_the_head_is_not_detectable(store, database, events):
    """The documented limit: whoever rewrites the head as well needs an outside anchor to catch."""
    await _sql(database, "DELETE FROM audit_events WHERE seq = 5",
               "UPDATE audit_chain_head SET last_seq = 4, last_hash = :h", h=events[3].hash)
    assert (await store.verify()).ok

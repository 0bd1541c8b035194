"""``IdempotencyStore`` on SQLite and PostgreSQL: one winner per key across replicas, leases, expiry."""

import asyncio

from tenantgate.idempotency import (
    Claim,
    Conflict,
    IdempotencyStore,
    Mismatch,
    RecordState,
    Replay,
    ReplayUnavailable,
    StoredResponse,
)
from tenantgate.storage import Database

FP, OTHER_FP = "a" * 64, "b" * 64
LEASE_S, TTL_S = 60, 86_400
ANSWER = StoredResponse(200, (("content-type", "application/json"), ("x-tenantgate-cost", "0.000010")),
                        b'{"id":"chatcmpl-1","choices":[]}')


async def claim(store: IdempotencyStore, key: str = "k1", fp: str = FP, scope: str = "user:alice"):
    return await store.claim(scope, key, fp, lease_s=LEASE_S, ttl_s=TTL_S)


async def test_the_first_claim_wins_and_a_retry_while_in_flight_conflicts(store):
    first = await claim(store)
    assert isinstance(first, Claim)
    assert await claim(store) == Conflict(retry_after_s=1.0)
    record = await store.get("user:alice", "k1")
    assert record is not None
    assert (record.state, record.fingerprint, record.owner) == (RecordState.IN_FLIGHT, FP, first.owner)


async def test_a_completed_claim_is_replayed_exactly(store):
    first = await claim(store)
    assert await store.complete(first, ANSWER) is True
    assert await claim(store) == Replay(ANSWER)


async def test_a_different_request_under_the_same_key_is_a_mismatch_in_flight_or_done(store):
    first = await claim(store)
    assert await claim(store, fp=OTHER_FP) == Mismatch()
    await store.complete(first, ANSWER)
    assert await claim(store, fp=OTHER_FP) == Mismatch()


async def test_keys_are_scoped_to_their_principal(store):
    assert isinstance(await claim(store, scope="user:alice"), Claim)
    assert isinstance(await claim(store, scope="user:bob"), Claim)
    assert isinstance(await claim(store, scope="apikey:svc", fp=OTHER_FP), Claim)


async def test_a_released_claim_lets_the_retry_run_again(store):
    first = await claim(store)
    assert await store.release(first) is True
    second = await claim(store)
    assert isinstance(second, Claim)
    assert second.owner != first.owner


async def test_a_claim_completed_too_large_answers_replay_unavailable(store):
    first = await claim(store)
    await store.complete(first, None)
    assert await claim(store) == ReplayUnavailable()


async def test_a_crashed_claim_blocks_until_its_lease_ends_then_a_retry_takes_it_over(store, clock):
    crashed = await claim(store)
    clock.advance(seconds=LEASE_S - 1)
    assert await claim(store) == Conflict()
    clock.advance(seconds=1)
    successor = await claim(store)
    assert isinstance(successor, Claim)
    # The crashed request, were it to wake up, can no longer touch its successor's record.
    assert await store.complete(crashed, ANSWER) is False
    assert await store.renew(crashed, lease_s=LEASE_S) is False
    assert await store.release(crashed) is False
    assert await claim(store) == Conflict()
    assert await store.complete(successor, ANSWER) is True
    assert await claim(store) == Replay(ANSWER)


async def test_renewing_the_lease_keeps_retries_out_past_the_first_lease(store, clock):
    first = await claim(store)
    clock.advance(seconds=LEASE_S - 5)
    assert await store.renew(first, lease_s=LEASE_S) is True
    clock.advance(seconds=30)
    assert await claim(store) == Conflict()


async def test_an_expired_record_is_as_if_absent_even_for_another_request(store, clock):
    first = await claim(store)
    await store.complete(first, ANSWER)
    clock.advance(seconds=TTL_S)
    fresh = await claim(store, fp=OTHER_FP)
    assert isinstance(fresh, Claim)
    record = await store.get("user:alice", "k1")
    assert record is not None
    assert (record.state, record.fingerprint, record.response) == (RecordState.IN_FLIGHT, OTHER_FP, None)


async def test_purge_deletes_only_expired_records(store, clock):
    old = await claim(store, key="old")
    await store.complete(old, ANSWER)
    clock.advance(seconds=TTL_S - 10)
    await claim(store, key="young")
    clock.advance(seconds=10)
    assert await store.purge_expired() == 1
    assert await store.get("user:alice", "old") is None
    assert await store.get("user:alice", "young") is not None
    assert await store.purge_expired() == 0


async def test_purge_works_in_batches(store, clock):
    for i in range(5):
        await claim(store, key=f"k{i}")
    clock.advance(seconds=TTL_S)
    assert await store.purge_expired(limit=2) == 2
    assert await store.purge_expired(limit=10) == 3


async def test_stored_bodies_round_trip_byte_for_byte(store):
    transcript = b"".join(f"data: {{\"i\":{i}}}\n\n".encode() for i in range(500)) + b"data: [DONE]\n\n"
    sse = StoredResponse(200, (("content-type", "text/event-stream; charset=utf-8"),
                               ("cache-control", "no-cache")), transcript + bytes(range(256)))
    first = await claim(store)
    await store.complete(first, sse)
    assert await claim(store) == Replay(sse)


async def test_replicas_racing_for_one_key_get_exactly_one_winner(migrated_database_url, clock):
    replicas = [Database.open(migrated_database_url, pool_size=5) for _ in range(2)]
    try:
        stores = [IdempotencyStore(db, clock=clock) for db in replicas]
        results = await asyncio.gather(*(claim(stores[i % 2], key="race") for i in range(40)))
    finally:
        for db in replicas:
            await db.dispose()
    winners = [r for r in results if isinstance(r, Claim)]
    assert len(winners) == 1
    assert all(r == Conflict() for r in results if not isinstance(r, Claim))


async def test_replicas_racing_to_take_over_a_dead_claim_get_exactly_one_winner(migrated_database_url, clock):
    replicas = [Database.open(migrated_database_url, pool_size=5) for _ in range(2)]
    try:
        stores = [IdempotencyStore(db, clock=clock) for db in replicas]
        assert isinstance(await claim(stores[0], key="dead"), Claim)
        clock.advance(seconds=LEASE_S)
        results = await asyncio.gather(*(claim(stores[i % 2], key="dead") for i in range(40)))
    finally:
        for db in replicas:
            await db.dispose()
    assert len([r for r in results if isinstance(r, Claim)]) == 1

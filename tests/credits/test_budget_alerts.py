"""Budget alerts on SQLite and PostgreSQL, with a real webhook receiver on loopback."""

import asyncio
import logging
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from credit_helpers import CREDIT, FakeClock, at

from tenantgate.credits.accounts import Period
from tenantgate.credits.alerts import AlertEvent, BudgetAlerts, post_json
from tenantgate.credits.store import CreditStore
from tenantgate.storage import Database


@asynccontextmanager
async def receiver(status: int = 204, delay_s: float = 0.0):
    """An HTTP server on 127.0.0.1 that records every JSON body POSTed to /hook."""
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        await asyncio.sleep(delay_s)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(2026, 3, 5))


async def make_budget(database, clock, url):
    store = CreditStore(database, clock=clock)
    return await store.set_budget(scope_type="user", scope_id="usr_1", period=Period.MONTHLY,
                                  limit=100 * CREDIT, thresholds=(50, 80, 100), name="team", webhook_url=url)


async def test_each_threshold_fires_once_per_period_across_two_replicas(migrated_database_url, clock, caplog):
    events: list[AlertEvent] = []
    databases = [Database.open(migrated_database_url, pool_size=5) for _ in range(2)]
    try:
        async with receiver() as (url, received):
            budget = await make_budget(databases[0], clock, url)
            alerts = [BudgetAlerts(db, clock=clock, on_alert=events.append) for db in databases]

            async def both(spent):
                fired = await asyncio.gather(*(a.observe(budget, "2026-03", spent) for a in alerts))
                return sorted(t for f in fired for t in f)

            with caplog.at_level(logging.WARNING, logger="tenantgate.credits.alerts"):
                assert await both(40 * CREDIT) == []
                assert await both(60 * CREDIT) == [50]
                assert await both(60 * CREDIT) == []
                assert await both(100 * CREDIT) == [80, 100]
                assert await both(130 * CREDIT) == []
                assert await both(55 * CREDIT) == []  # a later observation never re-fires
                fresh = BudgetAlerts(databases[1], clock=clock)  # a restarted replica knows from the table
                assert await fresh.observe(budget, "2026-03", 100 * CREDIT) == []
                assert await both(60 * CREDIT) == []
                assert sorted(await alerts[0].observe(budget, "2026-04", 90 * CREDIT)) == [50, 80]
    finally:
        for db in databases:
            await db.dispose()
    # Replicas race for each threshold, so the order of POSTs within one observation may vary.
    assert sorted((b["period"], b["threshold_percent"]) for b in received) == [
        ("2026-03", 50), ("2026-03", 80), ("2026-03", 100), ("2026-04", 50), ("2026-04", 80)]
    first = received[0]
    assert first == {
        "type": "budget.threshold_crossed", "budget_id": budget.id, "budget_name": "team",
        "scope_type": "user", "scope_id": "usr_1", "period": "2026-03", "threshold_percent": 50,
        "spent": "60.000000", "limit": "100.000000", "fired_at": "2026-03-05T00:00:00+00:00"}
    assert sorted((e.period, e.threshold) for e in events) == sorted(
        (b["period"], b["threshold_percent"]) for b in received)
    warnings = [r for r in caplog.records if r.name == "tenantgate.credits.alerts"]
    assert len(warnings) == 5
    assert warnings[0].levelno == logging.WARNING
    assert (warnings[0].budget_id, warnings[0].threshold_percent, warnings[0].spent) == (budget.id, 50, "60.000000")


async def test_a_failing_webhook_is_logged_and_never_raised(database, clock, caplog):
    async with receiver(status=500) as (url, received):
        budget = await make_budget(database, clock, url)
        alerts = BudgetAlerts(database, clock=clock)
        with caplog.at_level(logging.WARNING, logger="tenantgate.credits.alerts"):
            assert await alerts.observe(budget, "2026-03", 50 * CREDIT) == [50]
    assert len(received) == 1
    assert any(r.getMessage() == "budget alert webhook failed" for r in caplog.records)


async def test_the_webhook_post_gives_up_after_its_timeout():
    async with receiver(delay_s=1.0) as (url, received):
        with pytest.raises(TimeoutError):
            await post_json(url, {"type": "test"}, timeout_s=0.2)
    assert received == [{"type": "test"}]


async def test_an_unreachable_webhook_and_a_broken_callback_do_not_stop_the_alert(database, clock, caplog):
    async with receiver() as (url, _):
        pass  # the server is gone: connections are refused
    budget = await make_budget(database, clock, url)

    def broken(event: AlertEvent) -> None:
        raise RuntimeError("audit down")

    alerts = BudgetAlerts(database, clock=clock, on_alert=broken)
    with caplog.at_level(logging.WARNING, logger="tenantgate.credits.alerts"):
        assert await alerts.observe(budget, "2026-03", 80 * CREDIT) == [50, 80]
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("budget alert webhook failed") == 2
    assert messages.count("budget alert callback failed") == 2


async def test_a_budget_without_webhook_still_logs_and_reports(database, clock):
    budget = await make_budget(database, clock, None)
    sent: list[tuple[str, dict]] = []

    async def send(url: str, body: dict) -> None:
        sent.append((url, body))

    events: list[AlertEvent] = []
    alerts = BudgetAlerts(database, clock=clock, send_webhook=send, on_alert=events.append)
    assert await alerts.observe(budget, "2026-03", 100 * CREDIT) == [50, 80, 100]
    assert sent == []
    assert [e.threshold for e in events] == [50, 80, 100]

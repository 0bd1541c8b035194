"""A price set through one replica's admin API is charged by the other within the refresh
interval, and what was settled before keeps its cost in the reports."""

from __future__ import annotations

import time
from decimal import Decimal

import openai
from rate_card_world import CONFIG_PRICES, REFRESH_S, World, client, ok

from tenantgate.credits.pricing import PER_TOKENS, format_credits, to_micro

NEW_PRICES = ("100", "300")
MESSAGES = [{"role": "user", "content": "what does this cost now"}]


def _cost(prices: tuple[str, str], prompt_tokens: int, completion_tokens: int) -> str:
    total = prompt_tokens * to_micro(prices[0]) + completion_tokens * to_micro(prices[1])
    return format_credits(-(-total // PER_TOKENS))


def _chat(sdk: openai.OpenAI) -> tuple[str, str, str]:
    """One call: the charged cost, and what it costs at the old and at the new prices."""
    raw = sdk.chat.completions.with_raw_response.create(model="chat", messages=MESSAGES, max_tokens=5)
    usage = raw.parse().usage
    assert usage is not None
    cost = raw.headers["x-tenantgate-cost"]
    return cost, _cost(CONFIG_PRICES, usage.prompt_tokens, usage.completion_tokens), \
        _cost(NEW_PRICES, usage.prompt_tokens, usage.completion_tokens)


def _costs_total(admin, start_s: int, end_s: int | None = None) -> Decimal:
    params = {"start_time": start_s, **({"end_time": end_s} if end_s is not None else {})}
    page = ok(admin.get("/v1/organization/costs", params=params))
    return sum((Decimal(str(r["amount"]["value"])) for b in page["data"] for r in b["results"]), Decimal(0))


def _eventually_total(admin, start_s: int, expected: Decimal, end_s: int | None = None) -> None:
    deadline = time.monotonic() + 20
    while _costs_total(admin, start_s, end_s) != expected:
        assert time.monotonic() < deadline, (_costs_total(admin, start_s, end_s), expected)
        time.sleep(0.1)


def test_a_new_price_reaches_every_replica_within_the_refresh_and_history_keeps_its_cost(world: World, replicas):
    writer, server = replicas
    start_s = int(time.time()) - 60
    sdk = openai.OpenAI(api_key=world.tokens["admin"], base_url=server.openai_base_url, max_retries=0)
    with client(writer.base_url, world.tokens["admin"]) as admin:
        before = [_chat(sdk) for _ in range(3)]
        assert all(cost == old for cost, old, _ in before), before  # the settings' price
        paid_before = sum(Decimal(cost) for cost, _, _ in before)
        _eventually_total(admin, start_s, paid_before)
        split_s = int(time.time()) + 1
        while time.time() < split_s:
            time.sleep(0.02)
        made = ok(admin.post("/admin/v1/rate-card", json={
            "model": "chat", "input_per_1m": NEW_PRICES[0], "output_per_1m": NEW_PRICES[1]}), 201)
        set_at = time.monotonic()
        assert made["effective_from"] >= split_s
        assert made["status"] in ("scheduled", "in_force")
        after: list[tuple[str, str, str]] = []
        while not after or after[-1][0] != after[-1][2]:
            after.append(_chat(sdk))
            assert all(cost in (old, new) for cost, old, new in after), after
            assert time.monotonic() - set_at < REFRESH_S + 1.0 + 2.0, after  # refresh + the rounded-up second
            time.sleep(0.05)
        switched = time.monotonic() - set_at
        later = [_chat(sdk) for _ in range(3)]
        assert all(cost == new != old for cost, old, new in later), later  # and it stays
        paid_after = sum(Decimal(cost) for cost, _, _ in after + later)
        _eventually_total(admin, start_s, paid_before + paid_after)
        assert _costs_total(admin, start_s, split_s) == paid_before  # settled before: unchanged
        in_force = ok(admin.get("/admin/v1/rate-card", params={"model": "chat", "at": split_s - 1}))["data"]
        assert [(e["source"], e["input_per_1m"]) for e in in_force] == [("config", "1.000000")]
        now_card = ok(admin.get("/admin/v1/rate-card", params={"model": "chat", "at": int(time.time())}))["data"]
        assert [(e["id"], e["input_per_1m"]) for e in now_card] == [(made["id"], "100.000000")]
    print(f"price took effect on the other replica after {switched:.2f} s (refresh {REFRESH_S} s)")

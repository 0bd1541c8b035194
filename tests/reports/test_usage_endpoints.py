"""The reports equal the ledger to the micro-credit: real traffic through a real gateway, both engines.

Several keys, compartments and models, a stream without usage (estimated), a failed request
(released, never charged), an overage the commitment paid and one it could not (``tg:overage``).
Every figure is checked against the ledger read another way: the accounts' ``debits_posted``
and their transfers, account by account.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
from report_world import ADMITTED, EMBEDDINGS, Traffic, World

from openapi_schemas import OPENAPI, assert_schema, load_components
from tenantgate.credits.focus import FOCUS_COLUMNS
from tenantgate.credits.usage_report import unix_seconds

MICRO = Decimal(1_000_000)
_O = "/v1/organization"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    assert OPENAPI.exists(), f"the OpenAI OpenAPI spec is missing at {OPENAPI}"
    return load_components(OPENAPI)


def get(gateway, world: World, who: str, path: str, **params: Any) -> httpx.Response:
    with httpx.Client(base_url=gateway.base_url, timeout=15,
                      headers={"authorization": f"Bearer {world.tokens[who]}"}) as client:
        return client.get(path, params=params)


def page(gateway, world: World, who: str, path: str, **params: Any) -> dict[str, Any]:
    answer = get(gateway, world, who, path, **params)
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text, parse_float=Decimal)


def results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [result for bucket in body["data"] for result in bucket["results"]]


def credits_of(body: dict[str, Any]) -> Decimal:
    return sum((r["amount"]["value"] for r in results(body)), Decimal(0))


def ledger_total(world: World, keep=lambda record: True) -> Decimal:
    return Decimal(sum(r.transfer.amount for r in world.usage_transfers() if keep(r))) / MICRO


def in_range(traffic: Traffic) -> dict[str, int]:
    return {"start_time": traffic.start_s, "end_time": traffic.end_s}


def test_costs_equal_the_commitments_debits_posted_to_the_micro_credit(world, gateway, traffic, openapi):
    body = page(gateway, world, "admin", f"{_O}/costs", **in_range(traffic), limit=31)
    assert_schema(openapi, "UsageResponse", json.loads(json.dumps(body, default=float)))
    debits = world.debits_posted()
    assert debits[world.paying_accounts[2]] > 0  # one overage was booked to tg:overage
    assert credits_of(body) == Decimal(sum(debits[a] - traffic.debits_before[a] for a in debits)) / MICRO
    assert credits_of(body) == ledger_total(world)
    assert {r["amount"]["currency"] for r in results(body)} == {"credits"}
    assert all(str(r["amount"]["value"]).count(".") == 1 and len(str(r["amount"]["value"]).split(".")[1]) == 6
               for r in results(body))


@pytest.mark.parametrize("group_by", [["project_id"], ["line_item"], ["api_key_id"],
                                      ["project_id", "line_item", "api_key_id"]])
def test_cost_groups_partition_each_bucket(world, gateway, traffic, group_by):
    whole = page(gateway, world, "admin", f"{_O}/costs", **in_range(traffic))
    grouped = page(gateway, world, "admin", f"{_O}/costs", **in_range(traffic), group_by=group_by)
    for total, parts in zip(whole["data"], grouped["data"], strict=True):
        assert sum((r["amount"]["value"] for r in parts["results"]), Decimal(0)) == sum(
            (r["amount"]["value"] for r in total["results"]), Decimal(0))
        keys = [tuple(r[name] for name in group_by) for r in parts["results"]]
        assert len(keys) == len(set(keys))
    if group_by == ["line_item"]:
        by_model = {r["line_item"]: r for r in results(grouped)}
        assert "chat-broken" not in by_model  # released: nothing charged, nothing reported
        assert {r["quantity_unit"] for r in by_model.values()} == {"tokens"}


def test_every_settled_request_counts_once_as_completion_or_embedding(world, gateway, traffic, openapi):
    completions = page(gateway, world, "admin", f"{_O}/usage/completions", **in_range(traffic), limit=31,
                       group_by=["model", "api_key_id"])
    embeddings = page(gateway, world, "admin", f"{_O}/usage/embeddings", **in_range(traffic), limit=31,
                      group_by=["model"])
    assert_schema(openapi, "UsageResponse", completions)
    assert_schema(openapi, "UsageResponse", embeddings)
    records = world.billed_records()
    assert len(records) == ADMITTED
    assert sum(r["num_model_requests"] for r in results(completions)) == ADMITTED - EMBEDDINGS
    assert sum(r["num_model_requests"] for r in results(embeddings)) == EMBEDDINGS
    assert {r["model"] for r in results(embeddings)} == {"embed"}
    every = results(completions) + results(embeddings)
    assert sum(r["input_tokens"] for r in every) == sum(u.prompt_tokens for u in records)
    assert sum(r["output_tokens"] for r in results(completions)) == sum(u.completion_tokens for u in records)
    assert sum(u.cost_micros for u in records) == sum(r.transfer.amount for r in world.usage_transfers())
    per_key = Counter()
    for r in results(completions):
        per_key[r["api_key_id"]] += r["num_model_requests"]
    assert per_key[world.ids["alice-team"]] == 4  # chat-cheap, two chat-pro, one stream
    assert per_key[world.ids["bob-sub"]] == 3
    assert any(u.estimated for u in records if u.model == "chat-nousage")


@pytest.mark.parametrize("group_by", [["project_id"], ["model"], ["api_key_id"], ["user_id"],
                                      ["project_id", "user_id", "api_key_id", "model"]])
def test_usage_groups_partition_each_bucket(world, gateway, traffic, group_by):
    whole = page(gateway, world, "admin", f"{_O}/usage/completions", **in_range(traffic), bucket_width="1h")
    grouped = page(gateway, world, "admin", f"{_O}/usage/completions", **in_range(traffic), bucket_width="1h",
                   group_by=group_by)
    for total, parts in zip(whole["data"], grouped["data"], strict=True):
        for field in ("num_model_requests", "input_tokens", "output_tokens", "input_cached_tokens"):
            assert sum(r[field] for r in parts["results"]) == sum(r[field] for r in total["results"])


def test_a_boundary_between_two_settlements_splits_them_exactly(world, gateway, traffic):
    records = world.billed_records()
    before = ledger_total(world, lambda r: unix_seconds(r.timestamp) < traffic.split_s)
    after = ledger_total(world, lambda r: unix_seconds(r.timestamp) >= traffic.split_s)
    assert before > 0
    assert after > 0
    first = page(gateway, world, "admin", f"{_O}/costs", start_time=traffic.start_s, end_time=traffic.split_s)
    second = page(gateway, world, "admin", f"{_O}/costs", start_time=traffic.split_s, end_time=traffic.end_s)
    assert (credits_of(first), credits_of(second)) == (before, after)
    minutes = page(gateway, world, "admin", f"{_O}/usage/completions", **in_range(traffic), bucket_width="1m",
                   limit=1440)
    embeds = page(gateway, world, "admin", f"{_O}/usage/embeddings", **in_range(traffic), bucket_width="1m",
                  limit=1440)
    for bucket, embed_bucket in zip(minutes["data"], embeds["data"], strict=True):
        assert bucket["start_time"] % 60 == 0 or bucket["start_time"] == traffic.start_s
        expected = sum(1 for r in records if bucket["start_time"] <= unix_seconds(r.booked_at) < bucket["end_time"])
        assert sum(r["num_model_requests"] for r in bucket["results"] + embed_bucket["results"]) == expected


def test_pages_follow_next_page_to_the_end(world, gateway, traffic):
    seen, cursor, total = [], None, 0
    while True:
        params = {**in_range(traffic), "bucket_width": "1m", "limit": 1, **({"page": cursor} if cursor else {})}
        body = page(gateway, world, "admin", f"{_O}/usage/completions", **params)
        assert len(body["data"]) == 1
        seen.append(body["data"][0]["start_time"])
        total += sum(r["num_model_requests"] for r in results(body))
        if not body["has_more"]:
            assert body["next_page"] is None
            break
        cursor = body["next_page"]
    assert seen == sorted(seen)
    assert seen[0] == traffic.start_s
    assert total == ADMITTED - EMBEDDINGS


def test_a_compartment_reader_sees_only_its_compartments_and_nobody_sees_nothing(world, gateway, traffic):
    team = {world.ids["Team"], world.ids["Sub"]}
    body = page(gateway, world, "reader", f"{_O}/costs", **in_range(traffic), group_by=["project_id"])
    assert {r["project_id"] for r in results(body)} == team
    assert credits_of(body) * MICRO == sum(r.cost_micros for r in world.billed_records() if r.compartment_id in team)
    hidden = page(gateway, world, "reader", f"{_O}/costs", **in_range(traffic), project_ids=[world.ids["Other"]])
    assert results(hidden) == []
    usage = page(gateway, world, "reader", f"{_O}/usage/completions", **in_range(traffic), group_by=["api_key_id"])
    assert world.ids["svc-other"] not in {r["api_key_id"] for r in results(usage)}
    refused = get(gateway, world, "nobody", f"{_O}/costs", **in_range(traffic))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "read credits-family" in refused.json()["error"]["message"]


def test_the_focus_csv_adds_up_to_the_ledger(world, gateway, traffic):
    answer = get(gateway, world, "admin", "/admin/v1/usage/focus.csv", **in_range(traffic))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert answer.text.splitlines()[0] == ",".join(FOCUS_COLUMNS)
    assert sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0)) == ledger_total(world)
    assert sum(int(r["x_Requests"]) for r in rows) == ADMITTED
    keys = [(r["ChargePeriodStart"], r["ResourceName"], r["ResourceId"], r["SubAccountId"], r["Tags"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert {r["SubAccountName"] for r in rows} == {"Team", "Team:Sub", "Other"}
    assert {r["BillingCurrency"] for r in rows} == {"credits"}
    reader = get(gateway, world, "reader", "/admin/v1/usage/focus.csv", **in_range(traffic))
    assert {r["SubAccountName"] for r in csv.DictReader(io.StringIO(reader.text))} == {"Team", "Team:Sub"}


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    (f"{_O}/costs", {}, 400, "missing_required_parameter"),
    (f"{_O}/costs", {"start_time": 10, "bucket_width": "1h"}, 400, "invalid_value"),
    (f"{_O}/costs", {"start_time": 10, "end_time": 10}, 400, "invalid_value"),
    (f"{_O}/costs", {"start_time": 10, "page": "page_x"}, 400, "invalid_value"),
    (f"{_O}/usage/completions", {"start_time": 10, "limit": 32}, 400, "invalid_value"),
    (f"{_O}/usage/embeddings", {"start_time": 10, "batch": "true"}, 400, "unknown_parameter"),
    ("/admin/v1/usage/focus.csv", {"start_time": "yesterday"}, 400, "invalid_type"),
])
def test_bad_queries_are_openai_shaped_400s(world, gateway, path, params, status, code):
    answer = get(gateway, world, "admin", path, **params)
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}
    assert answer.json()["error"]["code"] == code

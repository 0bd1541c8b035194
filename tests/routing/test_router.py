"""The routing decision: strategies, their tie-breakers, breakers, cooldowns and residency."""

from __future__ import annotations

from collections import Counter

import pytest
from routing_world import ManualClock, exact, labels, model, router

from tenantgate.routing.residency import ResidencyRules
from tenantgate.settings import ResidencyRule

EIGHT = [{} for _ in range(8)]


def test_priority_keeps_the_configured_order_unless_priorities_say_otherwise():
    plain = router(model("m", EIGHT))
    assert labels(plain, "m") == list(range(8))
    ranked = router(model("m", [{"priority": 2}, {"priority": 0}, {}]))
    assert labels(ranked, "m") == [1, 0, 2]  # the third has no priority: its position (2), after #0's 2


def test_weighted_routing_over_ten_thousand_decisions_lands_within_two_percent_of_its_weights():
    weights = [5, 3, 2]
    r = router(model("m", [{"weight": w} for w in weights], strategy="weighted"), seed=12345)
    firsts = Counter(labels(r, "m")[0] for _ in range(10_000))
    for index, weight in enumerate(weights):
        share = firsts[index] / 10_000
        assert abs(share - weight / sum(weights)) < 0.02, (index, share)


def test_weighted_routing_is_reproducible_with_the_same_seed():
    entry = model("m", [{"weight": 1}] * 4, strategy="weighted")
    first = [labels(router(entry, seed=99), "m") for _ in range(3)]
    again = [labels(router(entry, seed=99), "m") for _ in range(3)]
    assert first == again
    assert len({tuple(order) for order in first}) >= 1


def test_weight_zero_is_only_used_on_failover():
    r = router(model("m", [{"weight": 0}, {"weight": 1}], strategy="weighted"))
    assert all(labels(r, "m") == [1, 0] for _ in range(200))


def test_weighted_breaks_priority_ties_only_within_a_priority():
    r = router(model("m", [{"priority": 1}, {"priority": 0, "weight": 1}, {"priority": 0, "weight": 1}],
                     strategy=["priority", "weighted"]), seed=3)
    orders = [labels(r, "m") for _ in range(400)]
    assert all(order[-1] == 0 for order in orders)
    assert {order[0] for order in orders} == {1, 2}


def test_least_latency_prefers_the_faster_average_and_ties_go_to_the_tie_breaker():
    clock = ManualClock()
    r = router(model("m", [{}, {}], strategy=["least_latency", "priority"]), clock=clock,
               settings={"latency": {"explore_ratio": 0}})
    first, second = r.route("m").states
    first.observe_ttft(0.004, exact(r))
    second.observe_ttft(0.009, exact(r))
    assert labels(r, "m") == [0, 1]  # both under tie_ms: a tie, priority decides
    first.observe_ttft(0.400, exact(r))
    assert labels(r, "m") == [1, 0]
    first.observe_ttft(0.005, exact(r))
    assert labels(r, "m") == [0, 1]


def test_least_latency_measures_an_unmeasured_deployment_first():
    r = router(model("m", [{}, {}], strategy="least_latency"), settings={"latency": {"explore_ratio": 0}})
    r.route("m").states[0].observe_ttft(0.001, exact(r))
    assert labels(r, "m") == [1, 0]


def test_least_latency_explores_a_small_share_of_decisions():
    r = router(model("m", [{}, {}], strategy="least_latency"), settings={"latency": {"explore_ratio": 0.1}})
    fast, slow = r.route("m").states
    fast.observe_ttft(0.001, exact(r))
    slow.observe_ttft(2.0, exact(r))
    explored = sum(labels(r, "m")[0] == 1 for _ in range(5_000)) / 5_000
    assert 0.07 < explored < 0.13


def test_lowest_cost_orders_by_the_rate_card_price_of_each_region():
    prices = {"region-0": 900, "region-1": 300, "region-2": 600}
    r = router(model("m", [{}, {}, {}], strategy="lowest_cost"), price_of=lambda m, region: prices[region])
    assert labels(r, "m") == [1, 2, 0]


def test_lowest_cost_without_prices_falls_back_to_configured_order():
    r = router(model("m", [{}, {}, {}], strategy="lowest_cost"))
    assert labels(r, "m") == [0, 1, 2]


def test_least_busy_divides_in_flight_by_dedicated_capacity():
    r = router(model("m", [{"concurrent_requests_max": 10, "capacity_class": "dedicated"}, {}],
                     strategy="least_busy"))
    big, small = r.route("m").states
    big.in_flight, small.in_flight = 3, 1
    assert labels(r, "m") == [0, 1]  # 0.3 per slot against 1.0
    big.in_flight = 12
    assert labels(r, "m") == [1, 0]


def test_open_breakers_are_skipped_and_cooling_deployments_go_last():
    clock = ManualClock()
    r = router(model("m", [{}, {}, {}]), clock=clock,
               settings={"breaker": {"min_requests": 2, "cooldown_s": 5}})
    first, second, _ = r.route("m").states
    for _ in range(2):
        first.breaker.record(False, clock())
    second.cooling_until = clock() + 3
    assert labels(r, "m") == [2, 1]
    clock.advance(3.5)
    assert labels(r, "m") == [1, 2]
    clock.advance(2)  # the breaker's cooldown is over: half-open, one probe admitted
    assert labels(r, "m") == [0, 1, 2]


@pytest.mark.parametrize(
    ("path", "expected"),
    [(("Finance", "EU"), [1, 3]), (("Finance", "EU", "Payroll"), [1, 3]), (("Finance",), [0, 1, 2, 3]),
     (("Sovereign",), [2]), (None, [0, 1, 2, 3])],
)
def test_residency_rules_apply_to_descendants_and_untagged_deployments_are_never_eligible(path, expected):
    r = router(model("m", [{}, {"residency": ["eu"]}, {"residency": ["sovereign", "us"]},
                           {"residency": ["eu", "us"]}]),
               settings={"compartments": [{"compartment": "Finance/EU", "residency": ["eu"]},
                                          {"compartment": "Sovereign", "residency": ["sovereign"]}]})
    assert labels(r, "m", r.rule_for(path)) == expected


def test_the_nearest_residency_rule_wins():
    rules = ResidencyRules([ResidencyRule(compartment="A", residency=["eu"]),
                            ResidencyRule(compartment="A:B", residency=[], allow_model_fallback=False)])
    nearest = rules.rule_for(("A", "B", "C"))
    assert nearest is not None
    assert (nearest.pinned, nearest.allow_model_fallback) == (False, False)
    outer = rules.rule_for(("A", "X"))
    assert outer is not None
    assert outer.residency == {"eu"}
    assert rules.rule_for(("Z",)) is None


def test_unknown_fallback_models_are_refused_at_start_up():
    with pytest.raises(ValueError, match="unknown models: nope"):
        router(model("m", [{}], fallbacks=["nope"]))

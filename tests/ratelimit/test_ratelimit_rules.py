"""Which limits apply to whom, how they are named and rendered as OpenAI's headers."""

from __future__ import annotations

import pytest

from tenantgate.credits.prompt_tokens import chat_prompt_tokens
from tenantgate.iam.access_snapshot import CompartmentRecord
from tenantgate.iam.principal import ANONYMOUS, Principal
from tenantgate.ratelimit.estimate import output_bound, token_estimate
from tenantgate.ratelimit.headers import format_duration, rate_limit_headers
from tenantgate.ratelimit.rules import CallFacts, Limit, LimitKind, applicable_limits, facts_of
from tenantgate.settings import RateLimitRule, RateLimitSettings, SettingsError, load_settings

TEAM = CompartmentRecord(id="c-risk", name="Risk", parent_id="c-fin", path=("Finance", "Risk"),
                         ids=("c-fin", "c-risk"))
ALICE = Principal(id="u-alice", type="user", key_id="k-1", governed=True)
SERVICE = Principal(id="k-svc", type="apikey", key_id="k-svc", governed=True)


def rule(**fields) -> RateLimitRule:
    return RateLimitRule(**{"requests_per_minute": 10, **fields})


def counters(rules: list[RateLimitRule], facts: CallFacts) -> dict[str, int]:
    return {limit.counter: limit.limit for limit in applicable_limits(rules, facts)}


def test_each_scope_counts_its_own_subject():
    facts = facts_of(ALICE, TEAM, "gpt-4o")
    rules = [rule(scope="key"), rule(scope="user"), rule(scope="compartment"), rule(scope="model")]
    assert counters(rules, facts) == {
        "requests|key|k-1|": 10, "requests|user|u-alice|": 10,
        "requests|compartment|c-risk|": 10, "requests|model|gpt-4o|": 10,
    }


def test_a_named_compartment_limits_its_whole_subtree_by_id_or_path():
    facts = facts_of(ALICE, TEAM, "m")
    assert counters([rule(scope="compartment", match="Finance")], facts) == {"requests|compartment|c-fin|": 10}
    assert counters([rule(scope="compartment", match="c-fin")], facts) == {"requests|compartment|c-fin|": 10}
    assert counters([rule(scope="compartment", match="Finance:Risk")], facts) == {
        "requests|compartment|c-risk|": 10}
    assert counters([rule(scope="compartment", match="Ops")], facts) == {}
    assert counters([rule(scope="compartment")], facts_of(ALICE, None, "m")) == {}


def test_match_and_model_filters_select_and_separate():
    facts = facts_of(ALICE, TEAM, "gpt-4o")
    assert counters([rule(scope="key", match="k-2")], facts) == {}
    assert counters([rule(scope="key", match="k-1", model="other")], facts) == {}
    assert counters([rule(scope="key", model="gpt-4o")], facts) == {"requests|key|k-1|gpt-4o": 10}
    assert counters([rule(scope="key", model="*")], facts) == {"requests|key|k-1|gpt-4o": 10}


def test_users_service_keys_static_keys_and_anonymous():
    assert counters([rule(scope="user")], facts_of(SERVICE, None, "m")) == {}
    assert counters([rule(scope="key")], facts_of(SERVICE, None, "m")) == {"requests|key|k-svc|": 10}
    static = Principal(id="static-abcd", type="static-key")
    assert counters([rule(scope="key")], facts_of(static, None, "m")) == {"requests|key|static-abcd|": 10}
    assert counters([rule(scope="key"), rule(scope="user")], facts_of(ANONYMOUS, None, "m")) == {}


def test_rules_counting_the_same_thing_share_a_counter_and_the_smallest_limit_wins():
    facts = facts_of(ALICE, None, "m")
    limits = applicable_limits(
        [rule(scope="key", requests_per_minute=10, tokens_per_minute=500),
         rule(scope="key", requests_per_minute=5, concurrent_requests=2)], facts)
    assert sorted((lim.kind.value, lim.limit) for lim in limits) == [
        ("concurrent", 2), ("requests", 5), ("tokens", 500)]


def test_a_rule_without_any_limit_is_a_settings_error(tmp_path):
    config = tmp_path / "tg.yaml"
    config.write_text("rate_limits:\n  rules:\n    - {scope: key}\n")
    with pytest.raises(SettingsError, match="needs requests_per_minute"):
        load_settings(config)
    assert RateLimitSettings().rules == []


@pytest.mark.parametrize(("ms", "text"), [
    (0, "0s"), (-5, "0s"), (20, "20ms"), (999, "999ms"), (1000, "1s"), (1500, "1.5s"),
    (17_280, "17.28s"), (60_000, "1m0s"), (360_000, "6m0s"), (390_250, "6m30.25s"),
])
def test_durations_are_written_as_openai_writes_them(ms, text):
    assert format_duration(ms) == text


def test_headers_report_the_most_restrictive_limit_of_each_kind():
    limits = [Limit("requests|key|k|", LimitKind.REQUESTS, 100), Limit("requests|user|u|", LimitKind.REQUESTS, 10),
              Limit("tokens|key|k|", LimitKind.TOKENS, 1000), Limit("concurrent|key|k|", LimitKind.CONCURRENT, 2)]
    headers = dict(rate_limit_headers(limits, [50, 3, 900, 1], [1200, 59_000, 30_000, 0]))
    assert headers == {
        b"x-ratelimit-limit-requests": b"10", b"x-ratelimit-remaining-requests": b"3",
        b"x-ratelimit-reset-requests": b"59s",
        b"x-ratelimit-limit-tokens": b"1000", b"x-ratelimit-remaining-tokens": b"900",
        b"x-ratelimit-reset-tokens": b"30s",
    }
    assert rate_limit_headers([limits[3]], [1], [0]) == []


def test_the_token_estimate_is_the_prompt_bound_plus_the_output_bound():
    body = {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20, "n": 2}
    prompt = max(chat_prompt_tokens(body, "gpt-4o"), chat_prompt_tokens(body, "llama"))
    assert token_estimate("chat", body, ["gpt-4o", "llama"], cap=None, default=4096) == prompt + 40
    assert output_bound("chat", {"max_tokens": 50}, cap=30, default=4096) == 30
    assert output_bound("chat", {}, cap=None, default=4096) == 4096
    assert output_bound("chat", {}, cap=300, default=4096) == 300
    assert output_bound("embedding", {"max_tokens": 5}, cap=None, default=4096) == 0


def test_the_package_exports_exactly_its_public_names():
    import tenantgate.ratelimit as package

    assert sorted(package.__all__) == sorted([
        "NOT_LIMITED", "Admission", "Limit", "LimitKind", "LimitStore", "LocalStore", "RateLimiter",
        "StoreUnavailable", "Verdict", "build_rate_limiter",
    ])
    assert all(hasattr(package, name) for name in package.__all__)

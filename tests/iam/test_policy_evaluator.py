import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantgate.iam.policy_evaluator import DENY, CompiledPolicies, Decision, RequestContext
from tenantgate.iam.policy_model import (
    AnyUser,
    CompartmentPath,
    ResourceType,
    Statement,
    Verb,
)
from tenantgate.iam.policy_parser import parse_policy, parse_statement

NOON = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)  # a Wednesday


def ctx(**overrides):
    base = {
        "principal_type": "user",
        "principal_id": "u-1",
        "user_name": "ana",
        "group_names": frozenset({"Analysts"}),
        "group_ids": frozenset({"g-1"}),
        "verb": Verb.USE,
        "resource_type": ResourceType.GENERATIVE_AI_CHAT,
        "compartment_path": ("Finance", "Risk"),
        "model": "gpt-4o",
        "region": "eu-frankfurt-1",
        "ip": "10.1.2.3",
        "utc_timestamp": NOON,
        "operation": "chat.completions",
    }
    base.update(overrides)
    return RequestContext(**base)


def compiled(text, attached_to=()):
    return CompiledPolicies(parse_policy(text, policy_id="p", attached_to=attached_to))


def decide(text, context=None, attached_to=()):
    return compiled(text, attached_to).evaluate(context or ctx())


def test_no_statements_deny_by_default():
    assert CompiledPolicies([]).evaluate(ctx()) == DENY == Decision(False, (), ())


def test_oci_generative_ai_api_key_example_allows_only_that_key():
    policy = (
        "allow any-user to use generative-ai-family in compartment Finance where ALL "
        "{request.principal.type='generativeaiapikey', request.principal.id='ocid1.generativeaiapikey.oc1.abc'}"
    )
    key = ctx(
        principal_type="apikey", principal_id="ocid1.generativeaiapikey.oc1.abc", group_names=frozenset()
    )
    assert decide(policy, key) == Decision(True, ("p#1",), ())
    assert not decide(policy, dataclasses.replace(key, principal_id="other")).allowed
    assert not decide(policy, ctx(principal_id="ocid1.generativeaiapikey.oc1.abc")).allowed


ALLOW, DENIED = True, False
TABLE = [
    ("Allow group Analysts to use generative-ai-chat in tenancy", {}, ALLOW),
    ("Allow group Analysts to use generative-ai-family in tenancy", {}, ALLOW),
    ("Allow group Analysts to manage all-resources in compartment Finance", {}, ALLOW),
    ("Allow group Analysts to read generative-ai-chat in tenancy", {}, DENIED),
    ("Allow group Analysts to use generative-ai-embedding in tenancy", {}, DENIED),
    (
        "Allow group Analysts to use generative-ai-family in tenancy",
        {"resource_type": ResourceType.USERS},
        DENIED,
    ),
    ("Allow group Admins to use generative-ai-chat in tenancy", {}, DENIED),
    ("Allow group id g-1 to use generative-ai-chat in tenancy", {}, ALLOW),
    ("Allow group Admins, Analysts to use generative-ai-chat in tenancy", {}, ALLOW),
    ("Allow any-group to use generative-ai-chat in tenancy", {}, ALLOW),
    (
        "Allow any-group to use generative-ai-chat in tenancy",
        {"group_names": frozenset(), "group_ids": frozenset()},
        DENIED,
    ),
    (
        "Allow any-user to use generative-ai-chat in tenancy",
        {"group_names": frozenset(), "group_ids": frozenset()},
        ALLOW,
    ),
    ("Allow dynamic-group batch to use generative-ai-chat in tenancy", {}, DENIED),
    (
        "Allow dynamic-group batch to use generative-ai-chat in tenancy",
        {"dynamic_group_names": frozenset({"batch"})},
        ALLOW,
    ),
    ("Allow group Analysts to use generative-ai-chat in compartment Finance:Risk", {}, ALLOW),
    ("Allow group Analysts to use generative-ai-chat in compartment Finance:Risk:Models", {}, DENIED),
    ("Allow group Analysts to use generative-ai-chat in compartment Finance:Ops", {}, DENIED),
    ("Allow group Analysts to use generative-ai-chat in compartment Risk", {}, DENIED),
    (
        "Allow group Analysts to use generative-ai-chat in compartment id c-risk",
        {"compartment_ids": ("c-fin", "c-risk")},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in compartment id c-fin",
        {"compartment_ids": ("c-fin", "c-risk")},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in compartment id c-ops",
        {"compartment_ids": ("c-fin", "c-risk")},
        DENIED,
    ),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.model = 'gpt-4o'", {}, ALLOW),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.model = 'GPT-4o'", {}, DENIED),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.model = /gpt-*/", {}, ALLOW),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.model = /*-4o/", {}, ALLOW),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.model = /llama*/", {}, DENIED),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.model != /llama*/", {}, ALLOW),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.model = /gpt.4o/", {}, DENIED),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.region in ('us-ashburn-1', /eu-*/)",
        {},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.region not in ('eu-frankfurt-1')",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.operation = 'chat.completions'",
        {},
        ALLOW,
    ),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.user.name = 'ana'", {}, ALLOW),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.principal.type = 'user'",
        {},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where target.compartment.name = 'Risk'",
        {},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where target.compartment.name = 'Finance'",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where target.compartment.id = 'c-risk'",
        {"compartment_ids": ("c-fin", "c-risk")},
        ALLOW,
    ),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.ip = '10.0.0.0/8'", {}, ALLOW),
    ("Allow group Analysts to use generative-ai-chat in tenancy where request.ip = '10.1.2.3'", {}, ALLOW),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.ip in ('192.168.0.0/16', '2001:db8::/32')",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.ip in ('192.168.0.0/16', '2001:db8::/32')",
        {"ip": "2001:db8::1"},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.ip != '10.0.0.0/8'",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp before '2025-04-01T00:00Z'",
        {},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp after '2025-04-01T00:00Z'",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp before '2025-03-05T13:00+02:00'",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp.time-of-day between '09:00:00Z' and '17:00:00Z'",
        {},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp.time-of-day between '22:00:00Z' and '06:00:00Z'",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp.time-of-day between '22:00:00Z' and '06:00:00Z'",
        {"utc_timestamp": NOON.replace(hour=23)},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp.time-of-day between '09:00:00Z' and '17:00:00Z'",
        {"utc_timestamp": datetime(2025, 3, 5, 12, tzinfo=timezone(timedelta(hours=-8)))},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp.day-of-week in ('monday', 'wednesday')",
        {},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp.day-of-week = 'sunday'",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where any {request.model = 'x', request.region = 'eu-frankfurt-1'}",
        {},
        ALLOW,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where all {request.model = 'x', request.region = 'eu-frankfurt-1'}",
        {},
        DENIED,
    ),
    (
        "Allow group Analysts to use generative-ai-chat in tenancy where all {request.model = /gpt*/, any {request.ip = '172.16.0.0/12', request.user.name = 'ana'}}",
        {},
        ALLOW,
    ),
]


@pytest.mark.parametrize(("policy", "overrides", "allowed"), TABLE)
def test_decision_table(policy, overrides, allowed):
    decision = decide(policy, ctx(**overrides))
    assert decision.allowed is allowed
    assert decision.matched_statement_ids == (("p#1",) if allowed else ())


def test_decision_lists_every_matching_statement_in_policy_order():
    policy = """
    Allow group Analysts to manage all-resources in compartment Finance
    Allow group Admins to manage all-resources in tenancy
    Allow any-user to use generative-ai-family in tenancy
    Allow group Analysts to use generative-ai-chat in compartment Finance:Risk
    """
    assert decide(policy).matched_statement_ids == ("p#1", "p#3", "p#4")


def test_missing_variable_does_not_match_and_is_explained():
    policy = """
    Allow group Analysts to use generative-ai-chat in tenancy where request.model != 'x'
    Allow group Analysts to use generative-ai-chat in tenancy where request.utc-timestamp before '2030-01-01T00:00Z'
    """
    decision = decide(policy, ctx(model=None, utc_timestamp=None))
    assert decision == Decision(
        False,
        (),
        (
            "p#1: the request has no request.model, so its condition does not match",
            "p#2: the request has no request.utc-timestamp, so its condition does not match",
        ),
    )


def test_missing_variable_is_explained_even_when_another_statement_allows():
    policy = """
    Allow group Analysts to use generative-ai-chat in tenancy where request.ip = '10.0.0.0/8'
    Allow group Analysts to use generative-ai-chat in tenancy
    """
    decision = decide(policy, ctx(ip=None))
    assert decision.allowed
    assert decision.matched_statement_ids == ("p#2",)
    assert decision.errors == ("p#1: the request has no request.ip, so its condition does not match",)


def test_unparseable_request_ip_does_not_match():
    decision = decide(
        "Allow any-user to use users in tenancy where request.ip != '10.0.0.0/8'",
        ctx(ip="nonsense", resource_type=ResourceType.USERS),
    )
    assert decision == Decision(False, (), ("p#1: request.ip 'nonsense' is not an IP address",))


def test_target_compartment_name_is_missing_at_the_tenancy_root():
    decision = decide(
        "Allow any-user to use users in tenancy where target.compartment.name != 'x'",
        ctx(compartment_path=(), resource_type=ResourceType.USERS),
    )
    assert not decision.allowed
    assert decision.errors


def test_compartment_id_never_reaches_outside_the_attached_compartment():
    # The id names Finance itself, but the policy lives in Finance:Risk: no grant on Finance:Ops.
    statements = parse_policy(
        "Allow any-user to use generative-ai-chat in compartment id c-fin",
        policy_id="p",
        attached_to=("Finance", "Risk"),
    )
    policies = CompiledPolicies(statements)
    assert not policies.evaluate(
        ctx(compartment_path=("Finance", "Ops"), compartment_ids=("c-fin", "c-ops"))
    ).allowed
    assert not policies.evaluate(
        ctx(compartment_path=("Finance", "Risk"), compartment_ids=("c-fin", "c-risk"))
    ).allowed
    inner = parse_policy(
        "Allow any-user to use generative-ai-chat in compartment id c-risk",
        policy_id="q",
        attached_to=("Finance", "Risk"),
    )
    decision = CompiledPolicies(inner).evaluate(
        ctx(compartment_path=("Finance", "Risk", "M"), compartment_ids=("c-fin", "c-risk", "c-m"))
    )
    assert decision.matched_statement_ids == ("q#1",)


def test_duplicate_statement_ids_are_refused():
    statement = parse_statement("Allow any-user to use users in tenancy", statement_id="s")
    with pytest.raises(ValueError, match="duplicate statement id"):
        CompiledPolicies([statement, statement])


def test_requesting_a_family_needs_a_grant_on_the_family():
    family = ctx(resource_type=ResourceType.GENERATIVE_AI_FAMILY)
    assert not decide("Allow group Analysts to use generative-ai-chat in tenancy", family).allowed
    assert decide("Allow group Analysts to use generative-ai-family in tenancy", family).allowed
    assert decide("Allow group Analysts to use all-resources in tenancy", family).allowed


# A thousand statements: correctness at the scale the benchmark measures.


def _thousand_statements():
    statements = []
    for i in range(1000):
        department, team = f"Dept{i % 10}", f"Team{(i // 10) % 10}"
        text = f"Allow group G{i} to use generative-ai-chat in compartment {department}:{team}"
        if i % 3 == 0:
            text += f" where request.model = /model-{i}*/"
        statements.append(parse_statement(text, statement_id=f"s{i}"))
    return statements


def test_thousand_statements_match_exactly_the_expected_ones():
    policies = CompiledPolicies(_thousand_statements())
    for i in (0, 1, 2, 517, 999):
        department, team = f"Dept{i % 10}", f"Team{(i // 10) % 10}"
        context = ctx(
            group_names=frozenset({f"G{i}"}),
            compartment_path=(department, team, "Leaf"),
            model=f"model-{i}-x",
        )
        assert policies.evaluate(context).matched_statement_ids == (f"s{i}",)
        assert not policies.evaluate(dataclasses.replace(context, compartment_path=(department,))).allowed
        assert not policies.evaluate(dataclasses.replace(context, verb=Verb.MANAGE)).allowed
    conditioned = ctx(group_names=frozenset({"G3"}), compartment_path=("Dept3", "Team0"), model="other")
    assert not policies.evaluate(conditioned).allowed


# Properties.

NAMES = ["A", "B", "C"]
paths = st.lists(st.sampled_from(NAMES), min_size=0, max_size=4).map(tuple)
verbs = st.sampled_from(list(Verb))
resource_types = st.sampled_from(list(ResourceType))
subjects = st.sampled_from(
    ["any-user", "any-group", "group G1", "group G2", "group id g-1", "dynamic-group D"]
)
conditions = st.sampled_from(
    [
        "",
        " where request.model = /gpt*/",
        " where request.region in ('r1', 'r2')",
        " where any {request.ip = '10.0.0.0/8', request.user.name = 'ana'}",
        " where all {request.model != 'gpt-x', request.utc-timestamp.time-of-day between '08:00:00Z' and '18:00:00Z'}",
    ]
)


@st.composite
def statement_sets(draw):
    count = draw(st.integers(min_value=0, max_value=8))
    statements = []
    for i in range(count):
        path = draw(paths)
        location = "tenancy" if not path else "compartment " + ":".join(path)
        text = f"Allow {draw(subjects)} to {draw(verbs).keyword} {draw(resource_types).value} in {location}{draw(conditions)}"
        statements.append(parse_statement(text, statement_id=f"s{i}"))
    return statements


@st.composite
def contexts(draw):
    return RequestContext(
        principal_type=draw(st.sampled_from(["user", "apikey"])),
        principal_id="u-1",
        user_name=draw(st.sampled_from(["ana", "bo", None])),
        group_names=frozenset(draw(st.lists(st.sampled_from(["G1", "G2"]), max_size=2))),
        group_ids=frozenset(draw(st.lists(st.sampled_from(["g-1"]), max_size=1))),
        dynamic_group_names=frozenset(draw(st.lists(st.sampled_from(["D"]), max_size=1))),
        verb=draw(verbs),
        resource_type=draw(resource_types),
        compartment_path=draw(paths),
        model=draw(st.sampled_from(["gpt-4o", "gpt-x", "llama", None])),
        region=draw(st.sampled_from(["r1", "r3", None])),
        ip=draw(st.sampled_from(["10.0.0.1", "192.168.0.1", None])),
        utc_timestamp=draw(st.sampled_from([NOON, NOON.replace(hour=3), None])),
    )


@settings(max_examples=200, deadline=None)
@given(statement_sets(), contexts(), verbs)
def test_a_larger_verb_includes_every_smaller_one(statements, context, lower):
    policies = CompiledPolicies(statements)
    if policies.evaluate(context).allowed and lower <= context.verb:
        assert policies.evaluate(dataclasses.replace(context, verb=lower)).allowed


@settings(max_examples=200, deadline=None)
@given(statement_sets(), contexts(), st.integers(min_value=0, max_value=7), verbs)
def test_raising_a_statements_verb_never_narrows_access(statements, context, index, higher):
    if not statements:
        return
    index %= len(statements)
    raised = list(statements)
    raised[index] = dataclasses.replace(statements[index], verb=max(higher, statements[index].verb))
    before = set(CompiledPolicies(statements).evaluate(context).matched_statement_ids)
    assert before <= set(CompiledPolicies(raised).evaluate(context).matched_statement_ids)


@settings(max_examples=200, deadline=None)
@given(statement_sets(), contexts(), st.lists(st.sampled_from(NAMES), min_size=1, max_size=2))
def test_access_at_a_compartment_extends_to_its_descendants(statements, context, deeper):
    # Conditions on target.compartment.* are the one way to single out a descendant; none are generated here.
    policies = CompiledPolicies(statements)
    child = dataclasses.replace(context, compartment_path=(context.compartment_path + tuple(deeper))[:6])
    assert set(policies.evaluate(context).matched_statement_ids) <= set(
        policies.evaluate(child).matched_statement_ids
    )


@settings(max_examples=200, deadline=None)
@given(paths, paths, verbs, resource_types)
def test_a_compartment_statement_applies_to_descendants_and_never_to_siblings(
    location, target, verb, resource_type
):
    statement = Statement(
        id="s",
        subject=AnyUser(),
        verb=Verb.MANAGE,
        resource_type=ResourceType.ALL_RESOURCES,
        location=CompartmentPath(location),
    )
    context = ctx(compartment_path=target, verb=verb, resource_type=resource_type)
    allowed = CompiledPolicies([statement]).evaluate(context).allowed
    assert allowed is (target[: len(location)] == location)


@settings(max_examples=200, deadline=None)
@given(statement_sets(), contexts(), st.integers(min_value=0, max_value=7))
def test_removing_a_statement_never_widens_access(statements, context, index):
    full = CompiledPolicies(statements).evaluate(context)
    if statements:
        del statements[index % len(statements)]
    fewer = CompiledPolicies(statements).evaluate(context)
    assert set(fewer.matched_statement_ids) <= set(full.matched_statement_ids)
    assert full.allowed or not fewer.allowed


@settings(max_examples=200, deadline=None)
@given(statement_sets(), contexts())
def test_the_index_agrees_with_checking_each_statement_alone(statements, context):
    alone = [sid for s in statements for sid in CompiledPolicies([s]).evaluate(context).matched_statement_ids]
    decision = CompiledPolicies(statements).evaluate(context)
    assert decision.matched_statement_ids == tuple(alone)
    assert decision.allowed is bool(alone)
    for statement in statements:
        if statement.id in alone:
            location = statement.location
            path = () if not isinstance(location, CompartmentPath) else location.path
            assert statement.verb >= context.verb
            assert statement.resource_type.covers(context.resource_type)
            assert context.compartment_path[: len(path)] == path

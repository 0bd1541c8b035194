import ipaddress
from datetime import UTC, datetime, time

import pytest

from tenantgate.errors import InvalidRequest, PolicySyntaxError
from tenantgate.iam.policy_model import (
    AllOf,
    AnyGroup,
    AnyOf,
    AnyUser,
    CidrValue,
    Comparison,
    CompartmentId,
    CompartmentPath,
    DynamicGroups,
    Groups,
    ListValue,
    Operator,
    PatternValue,
    ResourceType,
    StringValue,
    Tenancy,
    TimeRangeValue,
    TimestampValue,
    Verb,
)
from tenantgate.iam.policy_parser import parse_policy, parse_statement

# Statements from OCI's policy reference and Generative AI docs, adapted to our resource types.
OCI_EXAMPLES = [
    (
        "allow group GenAI-Admins to manage generative-ai-family in tenancy",
        Groups(names=("GenAI-Admins",)),
        Verb.MANAGE,
        ResourceType.GENERATIVE_AI_FAMILY,
        Tenancy(),
    ),
    (
        "Allow group A-Admins to manage all-resources in compartment Project-A",
        Groups(names=("A-Admins",)),
        Verb.MANAGE,
        ResourceType.ALL_RESOURCES,
        CompartmentPath(("Project-A",)),
    ),
    (
        "Allow group NetworkAdmins to manage compartments in compartment CompartmentB:CompartmentC",
        Groups(names=("NetworkAdmins",)),
        Verb.MANAGE,
        ResourceType.COMPARTMENTS,
        CompartmentPath(("CompartmentB", "CompartmentC")),
    ),
    (
        "Allow group Auditors to inspect all-resources in tenancy",
        Groups(names=("Auditors",)),
        Verb.INSPECT,
        ResourceType.ALL_RESOURCES,
        Tenancy(),
    ),
    (
        "Allow group id ocid1.group.oc1..aaaaexample to read audit-events in tenancy",
        Groups(ids=("ocid1.group.oc1..aaaaexample",)),
        Verb.READ,
        ResourceType.AUDIT_EVENTS,
        Tenancy(),
    ),
    (
        "Allow group A-Admins, B-Admins, group id ocid1.group.x to use generative-ai-chat in compartment id ocid1.compartment.y",
        Groups(names=("A-Admins", "B-Admins"), ids=("ocid1.group.x",)),
        Verb.USE,
        ResourceType.GENERATIVE_AI_CHAT,
        CompartmentId("ocid1.compartment.y"),
    ),
    (
        "allow any-user to use generative-ai-embedding in compartment Finance:Risk:Models",
        AnyUser(),
        Verb.USE,
        ResourceType.GENERATIVE_AI_EMBEDDING,
        CompartmentPath(("Finance", "Risk", "Models")),
    ),
    (
        "ALLOW ANY-GROUP TO READ generative-ai-model IN TENANCY",
        AnyGroup(),
        Verb.READ,
        ResourceType.GENERATIVE_AI_MODEL,
        Tenancy(),
    ),
    (
        "Allow dynamic-group batch-jobs to use generative-ai-apikey in tenancy",
        DynamicGroups(names=("batch-jobs",)),
        Verb.USE,
        ResourceType.GENERATIVE_AI_APIKEY,
        Tenancy(),
    ),
    (
        "Allow group 'Data Science' to manage credits-family in tenancy",
        Groups(names=("Data Science",)),
        Verb.MANAGE,
        ResourceType.CREDITS_FAMILY,
        Tenancy(),
    ),
]


@pytest.mark.parametrize(("text", "subject", "verb", "resource_type", "location"), OCI_EXAMPLES)
def test_parses_oci_documented_statements(text, subject, verb, resource_type, location):
    statement = parse_statement(text, statement_id="p#1")
    assert (statement.subject, statement.verb, statement.resource_type, statement.location) == (
        subject,
        verb,
        resource_type,
        location,
    )
    assert statement.condition is None
    assert statement.source == text


def test_parses_the_oci_generative_ai_api_key_example():
    text = (
        "allow any-user to use generative-ai-family in compartment X where ALL "
        "{request.principal.type='generativeaiapikey', request.principal.id='ocid1.generativeaiapikey.oc1.abc'}"
    )
    statement = parse_statement(text, statement_id="p#1")
    assert statement.location == CompartmentPath(("X",))
    assert statement.condition == AllOf(
        (
            Comparison("request.principal.type", Operator.EQ, StringValue("apikey")),
            Comparison("request.principal.id", Operator.EQ, StringValue("ocid1.generativeaiapikey.oc1.abc")),
        )
    )


CONDITIONS = [
    ("request.model = 'gpt-4o'", Comparison("request.model", Operator.EQ, StringValue("gpt-4o"))),
    ("request.model != /gpt-*/", Comparison("request.model", Operator.NE, PatternValue("gpt-*"))),
    (
        "request.region in ('us-ashburn-1', /eu-*/)",
        Comparison(
            "request.region", Operator.IN, ListValue((StringValue("us-ashburn-1"), PatternValue("eu-*")))
        ),
    ),
    (
        "request.operation not in ('chat')",
        Comparison("request.operation", Operator.NOT_IN, ListValue((StringValue("chat"),))),
    ),
    (
        "request.ip = '10.0.0.0/8'",
        Comparison("request.ip", Operator.EQ, CidrValue(ipaddress.ip_network("10.0.0.0/8"))),
    ),
    (
        "request.ip in ('192.168.1.7', '2001:db8::/32')",
        Comparison(
            "request.ip",
            Operator.IN,
            ListValue(
                (
                    CidrValue(ipaddress.ip_network("192.168.1.7/32")),
                    CidrValue(ipaddress.ip_network("2001:db8::/32")),
                )
            ),
        ),
    ),
    (
        "request.utc-timestamp before '2025-01-01T00:00Z'",
        Comparison(
            "request.utc-timestamp", Operator.BEFORE, TimestampValue(datetime(2025, 1, 1, tzinfo=UTC))
        ),
    ),
    (
        "request.utc-timestamp after '2024-06-01T12:00:00'",
        Comparison(
            "request.utc-timestamp", Operator.AFTER, TimestampValue(datetime(2024, 6, 1, 12, tzinfo=UTC))
        ),
    ),
    (
        "request.utc-timestamp.time-of-day between '09:00:00Z' and '17:30:00Z'",
        Comparison(
            "request.utc-timestamp.time-of-day", Operator.BETWEEN, TimeRangeValue(time(9), time(17, 30))
        ),
    ),
    (
        "request.utc-timestamp.day-of-week in ('Monday', 'friday')",
        Comparison(
            "request.utc-timestamp.day-of-week",
            Operator.IN,
            ListValue((StringValue("monday"), StringValue("friday"))),
        ),
    ),
    (
        "target.compartment.name = 'Risk'",
        Comparison("target.compartment.name", Operator.EQ, StringValue("Risk")),
    ),
    (
        "any {request.user.name = 'ana', all {request.model = /llama*/, request.region = 'eu-frankfurt-1'}}",
        AnyOf(
            (
                Comparison("request.user.name", Operator.EQ, StringValue("ana")),
                AllOf(
                    (
                        Comparison("request.model", Operator.EQ, PatternValue("llama*")),
                        Comparison("request.region", Operator.EQ, StringValue("eu-frankfurt-1")),
                    )
                ),
            )
        ),
    ),
]


@pytest.mark.parametrize(("condition", "expected"), CONDITIONS)
def test_parses_conditions(condition, expected):
    statement = parse_statement(
        f"Allow group G to use generative-ai-chat in tenancy where {condition}", statement_id="s"
    )
    assert statement.condition == expected


def test_document_with_comments_and_multiline_statements_gets_sequential_ids():
    text = """
    # Finance's policy
    Allow group Analysts to use generative-ai-chat in compartment Risk  # trailing comment
    Allow any-user to read generative-ai-model in compartment Finance
      where any {
        request.principal.type = 'apikey',
        request.user.name = 'ana'
      }
    """
    statements = parse_policy(text, policy_id="pol-1", attached_to=("Finance",))
    assert [s.id for s in statements] == ["pol-1#1", "pol-1#2"]
    assert statements[0].location == CompartmentPath(("Finance", "Risk"))
    assert statements[1].location == CompartmentPath(("Finance",))
    assert all(s.attached_to == ("Finance",) for s in statements)
    assert statements[1].source.endswith("}")


def test_empty_document_has_no_statements():
    assert parse_policy("# nothing yet\n\n", policy_id="p", attached_to=()) == []


def test_compartment_paths_are_relative_to_the_attached_compartment():
    def location(text, attached_to):
        return parse_statement(
            f"Allow group G to use users in {text}", statement_id="s", attached_to=attached_to
        ).location

    assert location("compartment Risk", ("Finance",)) == CompartmentPath(("Finance", "Risk"))
    assert location("compartment Finance:Risk", ("Finance",)) == CompartmentPath(("Finance", "Risk"))
    assert location("compartment Models", ("Finance", "Risk")) == CompartmentPath(
        ("Finance", "Risk", "Models")
    )
    assert location("compartment Finance:Risk", ()) == CompartmentPath(("Finance", "Risk"))


def test_tenancy_is_refused_outside_the_root():
    with pytest.raises(PolicySyntaxError, match=r"line 1, column 31: .*attached to compartment Finance"):
        parse_statement("Allow group G to use users in tenancy", statement_id="s", attached_to=("Finance",))


def test_paths_deeper_than_six_levels_are_refused():
    parse_statement("Allow group G to use users in compartment a:b:c:d:e:f", statement_id="s")
    with pytest.raises(PolicySyntaxError, match="nested 7 levels deep"):
        parse_statement(
            "Allow group G to use users in compartment d:e:f",
            statement_id="s",
            attached_to=("a", "b", "c", "x"),
        )


def test_invalid_attachment_is_a_caller_bug():
    with pytest.raises(ValueError, match="invalid compartment path"):
        parse_policy("", policy_id="p", attached_to=("a", ""))


SYNTAX_ERRORS = [
    ("Allow group A\n  too use users in tenancy", "line 2, column 3: expected 'to', found 'too'"),
    (
        "Allow group A to use users in tenancy\nAllow group B to  use users in tenancy extra",
        "line 2, column 40: expected 'allow', found 'extra'",
    ),
    (
        "Allow group A to write users in tenancy",
        "line 1, column 18: expected a verb (inspect, read, use or manage), found 'write'",
    ),
    (
        "Allow group A to use instances in tenancy",
        "line 1, column 22: expected a resource type, found 'instances'",
    ),
    ("Allow everyone to use users in tenancy", "line 1, column 7: expected a subject"),
    ("Allow group to use users in tenancy", "line 1, column 13: expected a group name, found 'to'"),
    ("Allow group A to use users", "line 1, column 27: expected 'in', found end of policy"),
    (
        "Allow group A to use users in compartment",
        "line 1, column 42: expected a compartment name or 'id', found end of policy",
    ),
    (
        "Allow group A to use users in compartment A:",
        "line 1, column 45: expected a compartment name, found end of policy",
    ),
    (
        "Allow group A to use users in tenancy where request.colour = 'red'",
        "line 1, column 45: unknown condition variable 'request.colour'",
    ),
    (
        "Allow group A to use users in tenancy where request.model before 'x'",
        "line 1, column 59: 'request.model' cannot be compared with 'before'",
    ),
    (
        "Allow group A to use users in tenancy where request.model = gpt",
        "line 1, column 61: expected a quoted value or /pattern/, found 'gpt'",
    ),
    (
        "Allow group A to use users in tenancy where request.model = 'gpt",
        "line 1, column 61: unterminated string",
    ),
    (
        "Allow group A to use users in tenancy where request.model = /gpt",
        "line 1, column 61: unterminated pattern",
    ),
    (
        "Allow group A to use users in tenancy where request.ip = '10.0.0.300'",
        "line 1, column 58: '10.0.0.300' is not an IP address or CIDR block",
    ),
    (
        "Allow group A to use users in tenancy where request.utc-timestamp after 'soon'",
        "line 1, column 73: 'soon' is not an ISO-8601 time",
    ),
    (
        "Allow group A to use users in tenancy where request.utc-timestamp.time-of-day between '25:00' and '10:00'",
        "line 1, column 87: '25:00' is not a UTC time of day",
    ),
    (
        "Allow group A to use users in tenancy where request.utc-timestamp.day-of-week = 'someday'",
        "line 1, column 81: 'someday' is not a day of the week",
    ),
    (
        "Allow group A to use users in tenancy where all {request.model = 'a' request.region = 'b'}",
        "line 1, column 70: expected '}', found 'request.region'",
    ),
    (
        "Allow group A to use users in tenancy where request.model in 'a'",
        "line 1, column 62: expected '(', found string 'a'",
    ),
    (
        "Allow group A to use users in tenancy where request.model ~ 'a'",
        "line 1, column 59: unexpected character '~'",
    ),
    (
        "Deny group A to use users in tenancy",
        "line 1, column 1: only Allow statements are supported, found 'Deny'",
    ),
    ("Endorse group A to use users in tenancy", "line 1, column 1: only Allow statements are supported"),
]


@pytest.mark.parametrize(("text", "message"), SYNTAX_ERRORS)
def test_syntax_errors_name_line_and_column(text, message):
    with pytest.raises(PolicySyntaxError) as caught:
        parse_policy(text, policy_id="p", attached_to=())
    assert str(caught.value).startswith(message)
    assert caught.value.line == int(message.split(",")[0].removeprefix("line "))
    assert caught.value.code == "invalid_policy"
    assert isinstance(caught.value, InvalidRequest)
    assert caught.value.status == 400


def test_conditions_nest_to_a_bounded_depth():
    condition = "any {" * 8 + "request.model = 'a'" + "}" * 8
    parse_statement(f"Allow group A to use users in tenancy where {condition}", statement_id="s")
    deeper = "any {" * 9 + "request.model = 'a'" + "}" * 9
    with pytest.raises(PolicySyntaxError, match="nest at most 8"):
        parse_statement(f"Allow group A to use users in tenancy where {deeper}", statement_id="s")


def test_parse_statement_rejects_trailing_tokens():
    with pytest.raises(PolicySyntaxError, match="expected end of statement, found 'Allow'"):
        parse_statement(
            "Allow group A to use users in tenancy Allow group B to use users in tenancy", statement_id="s"
        )

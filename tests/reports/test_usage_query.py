"""Query strings of the report routes: decoded like bodies, lists in both spellings, 400s that name the field."""

import pytest

from tenantgate.admin.query import decode_query, query_parameters
from tenantgate.admin.usage_views import CompletionsUsageQuery, CostsQuery, FocusQuery
from tenantgate.errors import InvalidParameterType, InvalidParameterValue, MissingParameter, UnknownParameter


def test_lists_take_every_value_in_either_spelling_and_scalars_are_converted():
    query = decode_query(b"start_time=17&project_ids[]=a&project_ids=b&group_by=model&group_by%5B%5D=project_id"
                         b"&limit=3&batch=false&bucket_width=1h", CompletionsUsageQuery)
    assert (query.start_time, query.project_ids, query.group_by) == (17, ["a", "b"], ["model", "project_id"])
    assert (query.limit, query.batch, query.bucket_width, query.end_time) == (3, False, "1h", None)


@pytest.mark.parametrize(("raw", "error", "param"), [
    (b"", MissingParameter, "start_time"),
    (b"start_time=soon", InvalidParameterType, "start_time"),
    (b"start_time=-1", InvalidParameterValue, "start_time"),
    (b"start_time=99999999999999", InvalidParameterValue, "start_time"),
    (b"start_time=1&start_time=2", InvalidParameterValue, "start_time"),
    (b"start_time=1&bucket_width=1h", InvalidParameterValue, "bucket_width"),
    (b"start_time=1&group_by=user_id", InvalidParameterValue, "group_by[0]"),
    (b"start_time=1&limit=181", InvalidParameterValue, "limit"),
    (b"start_time=1&models=x", UnknownParameter, "models"),
])
def test_bad_cost_queries_are_400s_naming_the_parameter(raw, error, param):
    with pytest.raises(error) as refused:
        decode_query(raw, CostsQuery)
    assert refused.value.param == param
    assert refused.value.status == 400


def test_query_schemas_are_documented_as_openapi_query_parameters():
    parameters = {p["name"]: p for p in query_parameters(FocusQuery)}
    assert set(parameters) == {"start_time", "end_time"}
    assert parameters["start_time"]["required"] is True
    assert parameters["start_time"]["in"] == "query"
    assert parameters["start_time"]["schema"]["type"] == "integer"
    assert query_parameters(None) == []

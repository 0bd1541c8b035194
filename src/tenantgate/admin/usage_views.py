"""The usage reports' query parameters and answers, in OpenAI's Admin API shapes.

``UsageResponse`` / ``UsageTimeBucket`` with ``UsageCompletionsResult``,
``UsageEmbeddingsResult`` and ``CostsResult``; tests validate them against OpenAI's spec. One
difference: a cost's ``amount`` is in **credits** (``currency: "credits"``), not dollars, and
its ``value`` is the exact decimal (six places), written as a JSON number without ever being
a float.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

import msgspec

from tenantgate.admin.query import Query
from tenantgate.admin.views import View

T = TypeVar("T")
_YEAR_9999_S = 253_402_300_799
UnixStart = Annotated[int, msgspec.Meta(ge=0, le=_YEAR_9999_S,
                                        description="Start of the range, Unix seconds, inclusive.")]
UnixEnd = Annotated[int, msgspec.Meta(ge=1, le=_YEAR_9999_S, description=(
    "End of the range, Unix seconds, exclusive (default: the end of the bucket holding now)."))]
Cursor = Annotated[str, msgspec.Meta(description="`next_page` of the previous page.")]
Ids = Annotated[list[str], msgspec.Meta(description="Only these (repeat the parameter, or use `name[]`).")]
UsageDimension = Literal["project_id", "user_id", "api_key_id", "model"]
CostDimension = Literal["project_id", "line_item", "api_key_id"]
UsageLimit = Annotated[int, msgspec.Meta(ge=1, le=1440, description=(
    "Buckets per page: 1d default 7, max 31; 1h default 24, max 168; 1m default 60, max 1440."))]
CostsLimit = Annotated[int, msgspec.Meta(ge=1, le=180, description="Buckets per page (default 7).")]
Credits = Annotated[msgspec.Raw, msgspec.Meta(extra_json_schema={
    "type": "number", "description": "Credits, exact to the micro-credit (six decimals)."})]


class UsageRange(Query):
    """What both usage endpoints take (OpenAI's parameters), but ``group_by``."""

    start_time: UnixStart
    end_time: UnixEnd | None = None
    bucket_width: Literal["1m", "1h", "1d"] = "1d"
    project_ids: Ids = []
    user_ids: Ids = []
    api_key_ids: Ids = []
    models: Ids = []
    limit: UsageLimit | None = None
    page: Cursor | None = None


class UsageQuery(UsageRange):
    """``GET /v1/organization/usage/embeddings``."""

    group_by: list[UsageDimension] = []


class CompletionsUsageQuery(UsageRange):
    """``GET /v1/organization/usage/completions``: also ``batch`` (nothing here is a batch job)."""

    batch: bool | None = None
    group_by: list[UsageDimension | Literal["batch"]] = []


class CostsQuery(Query):
    """``GET /v1/organization/costs``: OpenAI's parameters (daily buckets only)."""

    start_time: UnixStart
    end_time: UnixEnd | None = None
    bucket_width: Literal["1d"] = "1d"
    project_ids: Ids = []
    api_key_ids: Ids = []
    group_by: list[CostDimension] = []
    limit: CostsLimit | None = None
    page: Cursor | None = None


class FocusQuery(Query):
    """``GET /admin/v1/usage/focus.csv``: the range, in whole days or not."""

    start_time: UnixStart
    end_time: UnixEnd | None = None


class UsageCompletionsResult(View, kw_only=True):
    """OpenAI's ``UsageCompletionsResult``; ``input_tokens`` includes the cached ones."""

    object: Literal["organization.usage.completions.result"] = "organization.usage.completions.result"
    input_tokens: int
    input_cached_tokens: int
    input_uncached_tokens: int
    output_tokens: int
    num_model_requests: int
    project_id: str | None = None
    user_id: str | None = None
    api_key_id: str | None = None
    model: str | None = None
    batch: bool | None = None
    service_tier: str | None = None


class UsageEmbeddingsResult(View, kw_only=True):
    """OpenAI's ``UsageEmbeddingsResult``."""

    object: Literal["organization.usage.embeddings.result"] = "organization.usage.embeddings.result"
    input_tokens: int
    num_model_requests: int
    project_id: str | None = None
    user_id: str | None = None
    api_key_id: str | None = None
    model: str | None = None


class CostAmount(View, kw_only=True):
    """What was spent, in credits."""

    value: Credits
    currency: Literal["credits"] = "credits"


class CostsResult(View, kw_only=True):
    """OpenAI's ``CostsResult``; ``line_item`` is the model, ``quantity`` its tokens."""

    object: Literal["organization.costs.result"] = "organization.costs.result"
    amount: CostAmount
    line_item: str | None = None
    project_id: str | None = None
    api_key_id: str | None = None
    quantity: int | None = None
    quantity_unit: Literal["tokens"] | None = None


class UsageBucket(View, Generic[T], kw_only=True):
    """OpenAI's ``UsageTimeBucket``: ``[start_time, end_time)`` in Unix seconds."""

    object: Literal["bucket"] = "bucket"
    start_time: int
    end_time: int
    results: list[T]


class UsagePage(View, Generic[T], kw_only=True):
    """OpenAI's ``UsageResponse``: a page of buckets; ``next_page`` continues it."""

    object: Literal["page"] = "page"
    data: list[UsageBucket[T]]
    has_more: bool
    next_page: str | None

"""Usage and cost reports: OpenAI's ``/v1/organization/usage/…`` and ``/costs``, and a FOCUS CSV.

Every figure is folded from the ledger's commitment-side settlement transfers
(``credits.usage_report``), so the costs equal what the commitments were debited, to the
micro-credit. Only the buckets of the page asked for are read.

Authorization is ``read credits-family``: granted in the tenancy, the caller sees every
request; granted in some compartments, only the requests that targeted them (a grant covers
the compartments below, as always); granted nowhere, 403. A request whose compartment is no
longer known counts for tenancy-wide readers only. Filters (``project_ids``…) only narrow
what the caller may see, so naming a compartment they cannot read returns nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from tenantgate.admin import authorization as rules
from tenantgate.admin.call import AdminCall, Reply
from tenantgate.admin.usage_views import (
    CompletionsUsageQuery,
    CostAmount,
    CostsQuery,
    CostsResult,
    FocusQuery,
    UsageBucket,
    UsageCompletionsResult,
    UsageEmbeddingsResult,
    UsagePage,
    UsageQuery,
    UsageRange,
)
from tenantgate.credits.focus import FOCUS_GROUP_BY, BillingAccount, focus_csv, focus_rows
from tenantgate.credits.pricing import format_credits
from tenantgate.credits.usage_report import (
    COMPLETIONS,
    EMBEDDINGS,
    WIDTHS_S,
    Bucket,
    GroupKey,
    UsageFilter,
    UsageTotals,
    bucket_end,
    spans,
    unix_seconds,
)
from tenantgate.credits.usage_rows import fold_usage
from tenantgate.errors import InvalidParameterValue
from tenantgate.iam.policy_model import ResourceType, Verb

CREDITS = ResourceType.CREDITS_FAMILY
CSV_CONTENT_TYPE = b"text/csv; charset=utf-8"
_USAGE_LIMITS = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}
_COSTS_LIMITS = (7, 180)
_NO_BATCH = "batch"  # an operation no request has: ``batch=true`` matches nothing
_PAGE = "page_"
Result = Callable[[dict[str, str | None], UsageTotals], Any]


def readable_compartments(call: AdminCall) -> frozenset[str] | None:
    """The compartments whose usage the caller may read; None for all of it; 403 for none."""
    root = call.root
    if call.can(Verb.READ, CREDITS, root):
        return None
    found = frozenset(c.id for c in call.snapshot.compartments.values() if call.can(Verb.READ, CREDITS, c))
    if not found:
        call.refuse("not_authorized", rules.denial_message(Verb.READ, CREDITS, root), "usage", None, root.id)
    return found


def _keep(
    call: AdminCall, operation: str | None, *, project_ids: Sequence[str] = (), models: Sequence[str] = (),
    api_key_ids: Sequence[str] = (), user_ids: Sequence[str] = (),
) -> UsageFilter:
    return UsageFilter(compartments=readable_compartments(call), operation=operation,
                       project_ids=frozenset(project_ids), models=frozenset(models),
                       api_key_ids=frozenset(api_key_ids), user_ids=frozenset(user_ids))


def _range_end(call: AdminCall, start_s: int, end_s: int | None, width_s: int) -> int:
    end = end_s if end_s is not None else bucket_end(unix_seconds(call.now), width_s)
    if end <= start_s:
        raise InvalidParameterValue("'end_time' must be after 'start_time'.", param="end_time")
    return end


def _first_bucket(page: str | None, start_s: int, end_s: int) -> int:
    if page is None:
        return start_s
    text = page.removeprefix(_PAGE)
    if page.startswith(_PAGE) and text.isdigit() and start_s < int(text) < end_s:
        return int(text)
    raise InvalidParameterValue("'page' is not a next_page of this query.", param="page")


async def _page(
    call: AdminCall, query: UsageRange | CostsQuery, limits: tuple[int, int], group_by: Sequence[str],
    keep: UsageFilter, result: Result,
) -> Reply:
    """One page of buckets for ``query``: ``limit`` buckets from its ``page`` on, read and shaped."""
    width = WIDTHS_S[query.bucket_width]
    end = _range_end(call, query.start_time, query.end_time, width)
    limit = query.limit or limits[0]
    if limit > limits[1]:
        raise InvalidParameterValue(f"'limit' is at most {limits[1]} for bucket_width "
                                    f"{query.bucket_width}.", param="limit")
    windows = spans(_first_bucket(query.page, query.start_time, end), end, width, limit=limit + 1)
    more = len(windows) > limit
    buckets = await fold_usage(call.services.database, windows[:limit], group_by=group_by, keep=keep)
    data = [_bucket(bucket, group_by, result) for bucket in buckets]
    next_page = f"{_PAGE}{windows[limit].start_s}" if more else None
    return Reply(200, UsagePage(data=data, has_more=more, next_page=next_page))


def _bucket(bucket: Bucket, group_by: Sequence[str], result: Result) -> UsageBucket[Any]:
    results = [result(_dims(group_by, key), totals) for key, totals in bucket.sorted_groups()]
    return UsageBucket(start_time=bucket.span.start_s, end_time=bucket.span.end_s, results=results)


def _dims(group_by: Sequence[str], key: GroupKey) -> dict[str, str | None]:
    return dict(zip(group_by, key, strict=True))


async def usage_completions(call: AdminCall) -> Reply:
    """``GET /v1/organization/usage/completions``: chat and text completions, per bucket."""
    query = call.query_as(CompletionsUsageQuery)
    operation = _NO_BATCH if query.batch is True else COMPLETIONS
    keep = _keep(call, operation, project_ids=query.project_ids, models=query.models,
                 api_key_ids=query.api_key_ids, user_ids=query.user_ids)
    group_by = [name for name in dict.fromkeys(query.group_by) if name != "batch"]
    batch = False if "batch" in query.group_by else None

    def result(dims: dict[str, str | None], totals: UsageTotals) -> UsageCompletionsResult:
        return UsageCompletionsResult(
            input_tokens=totals.input_tokens, input_cached_tokens=totals.cached_tokens,
            input_uncached_tokens=totals.input_tokens - totals.cached_tokens,
            output_tokens=totals.output_tokens, num_model_requests=totals.requests, batch=batch,
            project_id=dims.get("project_id"), user_id=dims.get("user_id"),
            api_key_id=dims.get("api_key_id"), model=dims.get("model"))

    return await _page(call, query, _USAGE_LIMITS[query.bucket_width], group_by, keep, result)


async def usage_embeddings(call: AdminCall) -> Reply:
    """``GET /v1/organization/usage/embeddings``: embeddings, per bucket."""
    query = call.query_as(UsageQuery)
    keep = _keep(call, EMBEDDINGS, project_ids=query.project_ids, models=query.models,
                 api_key_ids=query.api_key_ids, user_ids=query.user_ids)

    def result(dims: dict[str, str | None], totals: UsageTotals) -> UsageEmbeddingsResult:
        return UsageEmbeddingsResult(
            input_tokens=totals.input_tokens, num_model_requests=totals.requests,
            project_id=dims.get("project_id"), user_id=dims.get("user_id"),
            api_key_id=dims.get("api_key_id"), model=dims.get("model"))

    group_by = list(dict.fromkeys(query.group_by))
    return await _page(call, query, _USAGE_LIMITS[query.bucket_width], group_by, keep, result)


async def costs(call: AdminCall) -> Reply:
    """``GET /v1/organization/costs``: credits spent per day, in credits (not dollars)."""
    query = call.query_as(CostsQuery)
    keep = _keep(call, None, project_ids=query.project_ids, api_key_ids=query.api_key_ids)
    group_by = list(dict.fromkeys(query.group_by))
    itemized = "line_item" in group_by

    def result(dims: dict[str, str | None], totals: UsageTotals) -> CostsResult:
        amount = CostAmount(value=msgspec.Raw(format_credits(totals.cost_micros).encode()))
        return CostsResult(amount=amount, quantity=totals.tokens if itemized else None,
                           quantity_unit="tokens" if itemized else None, line_item=dims.get("line_item"),
                           project_id=dims.get("project_id"), api_key_id=dims.get("api_key_id"))

    return await _page(call, query, _COSTS_LIMITS, group_by, keep, result)


async def focus_export(call: AdminCall) -> Reply:
    """``GET /admin/v1/usage/focus.csv``: the range as FOCUS 1.0 rows, one per day, model,
    deployment, compartment and key."""
    query = call.query_as(FocusQuery)
    keep = _keep(call, None)
    day = WIDTHS_S["1d"]
    windows = spans(query.start_time, _range_end(call, query.start_time, query.end_time, day), day)
    buckets = await fold_usage(call.services.database, windows, group_by=FOCUS_GROUP_BY, keep=keep)
    root, tenancy = call.root, call.snapshot.tenancy
    name = tenancy.name if tenancy is not None else ""
    paths = {c.id: c.path_text for c in call.snapshot.compartments.values()} | {root.id: name}
    account = BillingAccount(id=root.id, name=name, compartment_paths=paths)
    return Reply(200, focus_csv(focus_rows(buckets, account)).encode(), content_type=CSV_CONTENT_TYPE)

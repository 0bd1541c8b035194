"""The pure fold of settlement transfers into buckets and groups, on made-up ledger timestamps."""

from datetime import UTC, datetime, timedelta

import pytest

from tenantgate.credits.usage_report import (
    COMPLETIONS,
    EMBEDDINGS,
    BucketFold,
    Span,
    UsageFilter,
    bucket_end,
    bucketize,
    entry_of,
    from_unix,
    operation_of,
    spans,
    unix_seconds,
)

MIDNIGHT = datetime(2026, 3, 5, tzinfo=UTC)
DAY = 86_400


def record(**extra):
    base = {"request_id": "req_1", "model": "chat", "region": "eu", "deployment": "openai:chat",
            "principal_type": "user", "principal_id": "usr_a", "key_id": "key_a", "user_id": "usr_a",
            "compartment_id": "cmp_team", "prompt_tokens": 10, "completion_tokens": 4, "cached_tokens": 3,
            "estimated": False, "cost": 17}
    return base | extra


def post(at: datetime, amount: int = 17, **extra):
    return entry_of(timestamp=at, amount=amount, is_post=True, user_data=record(**extra))


def overage(at: datetime, amount: int, **extra):
    return entry_of(timestamp=at, amount=amount, is_post=False, user_data=record(**extra))


def test_a_post_counts_the_request_and_its_tokens_an_overage_only_its_amount():
    counted, extra = post(MIDNIGHT, 10), overage(MIDNIGHT, 7)
    assert (counted.requests, counted.input_tokens, counted.cached_tokens, counted.output_tokens) == (1, 10, 3, 4)
    assert (extra.requests, extra.input_tokens, extra.output_tokens, extra.cost_micros) == (0, 0, 0, 7)
    (bucket,) = bucketize([counted, extra], [Span(unix_seconds(MIDNIGHT), unix_seconds(MIDNIGHT) + DAY)],
                          group_by=[], keep=UsageFilter())
    totals = bucket.groups[()]
    assert (totals.requests, totals.cost_micros, totals.tokens) == (1, 17, 14)


def test_missing_or_malformed_fields_of_old_records_count_as_nothing():
    entry = entry_of(timestamp=MIDNIGHT, amount=5, is_post=True, user_data={"prompt_tokens": "x", "estimated": 1})
    assert (entry.requests, entry.input_tokens, entry.model, entry.estimated_requests) == (1, 0, None, 0)
    assert entry_of(timestamp=MIDNIGHT, amount=5, is_post=True, user_data=None).cost_micros == 5


def test_buckets_are_aligned_to_utc_and_clipped_to_the_range():
    start = unix_seconds(MIDNIGHT) + 3_600
    assert spans(start, start + 2 * DAY, DAY) == [
        Span(start, unix_seconds(MIDNIGHT) + DAY), Span(unix_seconds(MIDNIGHT) + DAY, unix_seconds(MIDNIGHT) + 2 * DAY),
        Span(unix_seconds(MIDNIGHT) + 2 * DAY, start + 2 * DAY)]
    assert spans(0, 180, 60, limit=2) == [Span(0, 60), Span(60, 120)]
    assert spans(59, 61, 60) == [Span(59, 60), Span(60, 61)]
    assert bucket_end(unix_seconds(MIDNIGHT) + 5, DAY) == unix_seconds(MIDNIGHT) + DAY
    assert bucket_end(unix_seconds(MIDNIGHT), DAY) == unix_seconds(MIDNIGHT) + DAY


def test_a_transfer_at_a_boundary_belongs_to_the_bucket_it_starts():
    tick = timedelta(microseconds=1)
    at_start, before_end = MIDNIGHT + timedelta(days=1), MIDNIGHT + timedelta(days=1) - tick
    windows = spans(unix_seconds(MIDNIGHT), unix_seconds(MIDNIGHT) + 2 * DAY, DAY)
    first, second = bucketize([post(before_end, 1), post(at_start, 2), post(MIDNIGHT, 4)], windows,
                              group_by=[], keep=UsageFilter())
    assert first.groups[()].cost_micros == 1 + 4
    assert second.groups[()].cost_micros == 2


def test_entries_outside_the_windows_are_not_counted():
    start = unix_seconds(MIDNIGHT) + 30
    fold = BucketFold(spans(start, start + 60, 60), group_by=[], keep=UsageFilter())
    for at in (from_unix(start - 1), from_unix(start), from_unix(start + 59), from_unix(start + 60)):
        fold.add(post(at, 1))
    assert sum(t.cost_micros for b in fold.buckets for t in b.groups.values()) == 2


def test_groups_partition_the_total_and_sort_missing_values_first():
    entries = [post(MIDNIGHT, 1, model="b"), post(MIDNIGHT, 2, model="a"), post(MIDNIGHT, 4, model=None),
               overage(MIDNIGHT, 8, model="a")]
    (bucket,) = bucketize(entries, [Span(unix_seconds(MIDNIGHT), unix_seconds(MIDNIGHT) + 1)],
                          group_by=["model"], keep=UsageFilter())
    assert [(key, t.cost_micros, t.requests) for key, t in bucket.sorted_groups()] == [
        ((None,), 4, 1), (("a",), 10, 1), (("b",), 1, 1)]


@pytest.mark.parametrize(("keep", "expected"), [
    (UsageFilter(), 7),
    (UsageFilter(compartments=frozenset({"cmp_team"})), 3),
    (UsageFilter(compartments=frozenset()), 0),
    (UsageFilter(project_ids=frozenset({"cmp_other"})), 4),
    (UsageFilter(compartments=frozenset({"cmp_team"}), project_ids=frozenset({"cmp_other"})), 0),
    (UsageFilter(models=frozenset({"embed"})), 4),
    (UsageFilter(api_key_ids=frozenset({"key_b"})), 2),
    (UsageFilter(user_ids=frozenset({"usr_a"})), 5),
    (UsageFilter(operation=EMBEDDINGS), 4),
    (UsageFilter(operation=COMPLETIONS), 3),
])
def test_filters_narrow_what_is_visible(keep, expected):
    entries = [post(MIDNIGHT, 1), post(MIDNIGHT, 2, key_id="key_b", user_id=None),
               post(MIDNIGHT, 4, compartment_id="cmp_other", model="embed", completion_tokens=0)]
    (bucket,) = bucketize(entries, [Span(unix_seconds(MIDNIGHT), unix_seconds(MIDNIGHT) + 1)], group_by=[], keep=keep)
    assert sum(t.cost_micros for t in bucket.groups.values()) == expected


def test_the_operation_is_named_or_else_told_by_the_output_tokens():
    assert operation_of(record(operation="embedding")) == EMBEDDINGS
    assert operation_of(record(operation="chat", completion_tokens=0)) == COMPLETIONS
    assert operation_of(record(completion_tokens=0)) == EMBEDDINGS
    assert operation_of(record(completion_tokens=0, estimated=True)) == COMPLETIONS  # a stream that sent nothing
    assert operation_of(record()) == COMPLETIONS


def test_unix_seconds_floor_without_float_rounding():
    late = MIDNIGHT - timedelta(microseconds=1)
    assert unix_seconds(late) == unix_seconds(MIDNIGHT) - 1
    assert from_unix(unix_seconds(MIDNIGHT)) == MIDNIGHT


def test_the_report_folds_are_pure():
    import ast
    from pathlib import Path

    credits = Path(__file__).parents[2] / "src" / "tenantgate" / "credits"
    forbidden = ("sqlalchemy", "tenantgate.storage", "tenantgate.ledger.store", "asyncio", "random", "time")
    for name in ("usage_report.py", "focus.py"):
        text = (credits / name).read_text()
        modules = {node.module for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ImportFrom)}
        modules |= {a.name for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Import) for a in node.names}
        assert not {m for m in modules if m and m.startswith(forbidden)}, name
        assert ".now(" not in text

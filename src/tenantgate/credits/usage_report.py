"""Usage and cost reports folded from the ledger's settlement transfers. Pure.

Every settled request posts its hold on its commitment (``cmt:… → tg:spend``, flag
``post_pending_transfer``) with the usage record as ``user_data``; an answer that cost more
than its hold adds ``overage`` transfers carrying the same record, debiting the commitment or
``tg:overage``. Budget accounts get posts with the same records too, so reports read only this
commitment side, and each request counts once: its post counts the request and its tokens,
and every transfer counts the amount it moved. Σ cost is therefore exactly what the
commitments and ``tg:overage`` were debited for usage, to the micro-credit. Each transfer
falls in the bucket of its own ledger timestamp.

Buckets are aligned to UTC multiples of their width (midnight, the hour, the minute) and
clipped to the asked range ``[start, end)``, so a bucket states exactly the window it sums.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tenantgate.ledger.model import JsonValue

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
WIDTHS_S = {"1m": 60, "1h": 3_600, "1d": 86_400}
"""Bucket widths in seconds, by the names OpenAI's usage API uses."""
COMPLETIONS = "completions"
EMBEDDINGS = "embeddings"

GroupKey = tuple[str | None, ...]


def unix_seconds(moment: datetime) -> int:
    """Whole Unix seconds, floored, in integer arithmetic (no float rounding at boundaries)."""
    return (moment - EPOCH) // _SECOND


def from_unix(seconds: int) -> datetime:
    """The aware UTC datetime of a Unix second."""
    return EPOCH + seconds * _SECOND


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """One commitment-side settlement transfer: a request's post, or an overage of one."""

    timestamp: datetime
    cost_micros: int
    requests: int
    estimated_requests: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    operation: str
    model: str | None
    compartment_id: str | None
    key_id: str | None
    user_id: str | None
    deployment: str | None
    region: str | None


def _text(record: Mapping[str, JsonValue], name: str) -> str | None:
    value = record.get(name)
    return value if isinstance(value, str) else None


def _count(record: Mapping[str, JsonValue], name: str) -> int:
    value = record.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def operation_of(record: Mapping[str, JsonValue]) -> str:
    """``embeddings`` or ``completions``: the record's ``operation`` when it names one; else an
    answer with no output tokens that was not estimated (a vector has none) is an embedding."""
    named = record.get("operation")
    if named in ("embedding", EMBEDDINGS):
        return EMBEDDINGS
    if isinstance(named, str):
        return COMPLETIONS
    if _count(record, "completion_tokens") == 0 and record.get("estimated") is not True:
        return EMBEDDINGS
    return COMPLETIONS


def entry_of(*, timestamp: datetime, amount: int, is_post: bool, user_data: JsonValue) -> UsageEntry:
    """The report's view of one transfer; only a post counts the request and its tokens."""
    record: Mapping[str, JsonValue] = user_data if isinstance(user_data, dict) else {}
    counted = 1 if is_post else 0
    return UsageEntry(
        timestamp=timestamp, cost_micros=amount, requests=counted,
        estimated_requests=counted if record.get("estimated") is True else 0,
        input_tokens=counted * _count(record, "prompt_tokens"),
        cached_tokens=counted * _count(record, "cached_tokens"),
        output_tokens=counted * _count(record, "completion_tokens"),
        operation=operation_of(record), model=_text(record, "model"),
        compartment_id=_text(record, "compartment_id"), key_id=_text(record, "key_id"),
        user_id=_text(record, "user_id"), deployment=_text(record, "deployment"),
        region=_text(record, "region"),
    )


@dataclass(slots=True)
class UsageTotals:
    """Sums over entries; mutable, because a report folds many rows into few of these."""

    requests: int = 0
    estimated_requests: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0

    def add(self, entry: UsageEntry) -> None:
        """Count one entry in."""
        self.requests += entry.requests
        self.estimated_requests += entry.estimated_requests
        self.input_tokens += entry.input_tokens
        self.cached_tokens += entry.cached_tokens
        self.output_tokens += entry.output_tokens
        self.cost_micros += entry.cost_micros

    def merge(self, other: UsageTotals) -> None:
        """Count another total in."""
        self.requests += other.requests
        self.estimated_requests += other.estimated_requests
        self.input_tokens += other.input_tokens
        self.cached_tokens += other.cached_tokens
        self.output_tokens += other.output_tokens
        self.cost_micros += other.cost_micros

    @property
    def tokens(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens


DIMENSIONS: dict[str, Callable[[UsageEntry], str | None]] = {
    "project_id": lambda e: e.compartment_id,
    "model": lambda e: e.model,
    "line_item": lambda e: e.model,
    "api_key_id": lambda e: e.key_id,
    "user_id": lambda e: e.user_id,
    "deployment": lambda e: e.deployment,
    "region": lambda e: e.region,
}
"""What a report may group by; ``project_id`` is the target compartment, ``line_item`` the model."""


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which entries a report counts: what the reader may see, then the asked filters."""

    compartments: frozenset[str] | None = None
    """The compartments the reader may see; None: everything (a tenancy-wide reader)."""
    operation: str | None = None
    project_ids: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    api_key_ids: frozenset[str] = frozenset()
    user_ids: frozenset[str] = frozenset()

    def admits(self, entry: UsageEntry) -> bool:
        """Whether ``entry`` is counted (an empty filter set means "any")."""
        if self.compartments is not None and entry.compartment_id not in self.compartments:
            return False
        if self.operation is not None and entry.operation != self.operation:
            return False
        return all(not wanted or value in wanted for wanted, value in (
            (self.project_ids, entry.compartment_id), (self.models, entry.model),
            (self.api_key_ids, entry.key_id), (self.user_ids, entry.user_id)))


@dataclass(frozen=True, slots=True)
class Span:
    """A bucket's window in Unix seconds, ``[start_s, end_s)``."""

    start_s: int
    end_s: int


def bucket_end(moment_s: int, width_s: int) -> int:
    """The end of the aligned bucket containing ``moment_s``."""
    return moment_s - moment_s % width_s + width_s


def spans(start_s: int, end_s: int, width_s: int, *, limit: int | None = None) -> list[Span]:
    """The aligned buckets covering ``[start_s, end_s)``, clipped to it; at most ``limit`` of them."""
    found: list[Span] = []
    aligned = start_s - start_s % width_s
    while aligned < end_s and (limit is None or len(found) < limit):
        found.append(Span(max(aligned, start_s), min(aligned + width_s, end_s)))
        aligned += width_s
    return found


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket's totals, per group (the key has one value per ``group_by`` dimension)."""

    span: Span
    groups: dict[GroupKey, UsageTotals]

    def sorted_groups(self) -> list[tuple[GroupKey, UsageTotals]]:
        """Groups in a stable order: by key, a missing value first."""
        return sorted_groups(self.groups)


def group_key(entry: UsageEntry, group_by: Sequence[str]) -> GroupKey:
    """The entry's value in each dimension."""
    return tuple(DIMENSIONS[name](entry) for name in group_by)


class BucketFold:
    """Folds entries, one at a time, into contiguous windows (from ``spans``), one total per group.

    An entry outside every window, or one ``keep`` does not admit, is not counted.
    """

    def __init__(self, windows: Sequence[Span], *, group_by: Sequence[str], keep: UsageFilter) -> None:
        self.buckets = [Bucket(window, {}) for window in windows]
        self._starts = [window.start_s for window in windows]
        self._group_by = tuple(group_by)
        self._keep = keep

    def add(self, entry: UsageEntry) -> None:
        """Count ``entry`` in the bucket of its timestamp, under its group."""
        if not self._keep.admits(entry):
            return
        moment = unix_seconds(entry.timestamp)
        index = bisect_right(self._starts, moment) - 1
        if index < 0 or moment >= self.buckets[index].span.end_s:
            return
        groups = self.buckets[index].groups
        key = group_key(entry, self._group_by)
        totals = groups.get(key)
        if totals is None:
            totals = groups[key] = UsageTotals()
        totals.add(entry)


def bucketize(
    entries: Iterable[UsageEntry], windows: Sequence[Span], *, group_by: Sequence[str], keep: UsageFilter,
) -> list[Bucket]:
    """``BucketFold`` over an iterable."""
    fold = BucketFold(windows, group_by=group_by, keep=keep)
    for entry in entries:
        fold.add(entry)
    return fold.buckets


def sorted_groups(groups: Mapping[GroupKey, UsageTotals]) -> list[tuple[GroupKey, UsageTotals]]:
    """Groups in a stable order: by key, a missing value first."""
    return sorted(groups.items(), key=lambda item: [(v is not None, v or "") for v in item[0]])

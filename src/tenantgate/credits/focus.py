"""Usage as a FOCUS 1.0 cost and usage dataset (FinOps Open Cost & Usage Specification). Pure.

One row per UTC day, model, deployment, compartment and key (``FOCUS_GROUP_BY``), built from
the same buckets as every other report, so the rows' ``BilledCost`` add up to the ledger.
Columns are FOCUS 1.0's, in the specification's order, then ``x_`` columns of our own (the
specification's prefix for provider-specific columns). Costs are exact decimals of credits.
Deviations: ``BillingCurrency`` is ``credits``, not an ISO 4217 code, because credits are what
the ledger counts; the cost columns are all equal, because a request is charged at the rate
card's price with no discount (its commitment was paid for in advance).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tenantgate.credits.pricing import format_credits
from tenantgate.credits.usage_report import Bucket, GroupKey, UsageTotals, from_unix

FOCUS_GROUP_BY = ("model", "deployment", "region", "project_id", "api_key_id", "user_id")
"""The dimensions of a FOCUS row (with its day); the user follows from the key, so rows are
one per day, model, deployment, compartment and key."""
FOCUS_COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
    "x_Requests", "x_EstimatedRequests", "x_InputTokens", "x_CachedInputTokens", "x_OutputTokens",
)
SERVICE_NAME = "Tenantgate"
_PER_PRICING_UNIT = Decimal(1_000_000)  # rate cards price per million tokens


@dataclass(frozen=True, slots=True)
class BillingAccount:
    """Who the rows bill: the tenancy, and the compartments' paths (``SubAccountName``)."""

    id: str
    name: str
    compartment_paths: Mapping[str, str]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)


def focus_rows(buckets: Iterable[Bucket], account: BillingAccount) -> list[dict[str, str]]:
    """FOCUS rows of daily buckets grouped by ``FOCUS_GROUP_BY``; an empty cell is a null."""
    return [_row(bucket, key, totals, account)
            for bucket in buckets for key, totals in bucket.sorted_groups()]


def _row(bucket: Bucket, key: GroupKey, totals: UsageTotals, account: BillingAccount) -> dict[str, str]:
    model, deployment, region, compartment_id, key_id, user_id = key
    starts, ends = from_unix(bucket.span.start_s), from_unix(bucket.span.end_s)
    period_start, period_end = _month_bounds(starts)
    cost = format_credits(totals.cost_micros)
    tagged = (("tenantgate/key_id", key_id), ("tenantgate/user_id", user_id))
    tags = {name: value for name, value in tagged if value is not None}
    row = dict.fromkeys(FOCUS_COLUMNS, "")
    row.update({
        "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost,
        "BillingAccountId": account.id, "BillingAccountName": account.name, "BillingCurrency": "credits",
        "BillingPeriodStart": _iso(period_start), "BillingPeriodEnd": _iso(period_end),
        "ChargePeriodStart": _iso(starts), "ChargePeriodEnd": _iso(ends),
        "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
        "ChargeDescription": f"{model or 'unknown model'} tokens",
        "ConsumedQuantity": str(totals.tokens), "ConsumedUnit": "Tokens",
        "PricingQuantity": format(Decimal(totals.tokens) / _PER_PRICING_UNIT, "f"),
        "PricingUnit": "1M Tokens", "PricingCategory": "Standard",
        "InvoiceIssuerName": SERVICE_NAME, "ProviderName": SERVICE_NAME, "PublisherName": SERVICE_NAME,
        "ServiceName": SERVICE_NAME, "ServiceCategory": "AI and Machine Learning",
        "RegionId": region or "", "RegionName": region or "",
        "ResourceId": deployment or model or "", "ResourceName": model or "",
        "ResourceType": "Model deployment" if deployment else "Model", "SkuId": model or "",
        "SubAccountId": compartment_id or "",
        "SubAccountName": account.compartment_paths.get(compartment_id or "", ""),
        "Tags": json.dumps(tags, sort_keys=True, separators=(",", ":")),
        "x_Requests": str(totals.requests), "x_EstimatedRequests": str(totals.estimated_requests),
        "x_InputTokens": str(totals.input_tokens), "x_CachedInputTokens": str(totals.cached_tokens),
        "x_OutputTokens": str(totals.output_tokens),
    })
    return row


def focus_csv(rows: Sequence[Mapping[str, str]]) -> str:
    """The rows as RFC 4180 CSV with a header line (CRLF line ends)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FOCUS_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()

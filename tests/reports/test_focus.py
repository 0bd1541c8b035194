"""FOCUS 1.0 rows and CSV from daily buckets: column names, exact costs, periods, tags."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

from tenantgate.credits.focus import FOCUS_COLUMNS, FOCUS_GROUP_BY, BillingAccount, focus_csv, focus_rows
from tenantgate.credits.usage_report import UsageFilter, bucketize, entry_of, spans, unix_seconds

DEC_31 = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
ACCOUNT = BillingAccount(id="cmp_root", name="acme", compartment_paths={"cmp_team": "Team", "cmp_root": "acme"})

FOCUS_1_0_MANDATORY = {  # FOCUS 1.0, the columns every dataset must carry
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}


def usage(at, amount, **extra):
    data = {"model": "chat", "deployment": "openai:gpt", "region": "eu", "compartment_id": "cmp_team",
            "key_id": "key_a", "user_id": "usr_a", "prompt_tokens": 1000, "completion_tokens": 500} | extra
    return entry_of(timestamp=at, amount=amount, is_post=True, user_data=data)


def rows_for(entries, start, end):
    windows = spans(unix_seconds(start), unix_seconds(end), 86_400)
    return focus_rows(bucketize(entries, windows, group_by=FOCUS_GROUP_BY, keep=UsageFilter()), ACCOUNT)


def test_one_row_per_day_model_deployment_compartment_and_key_with_exact_costs():
    entries = [usage(DEC_31, 1_234_567), usage(DEC_31, 1), usage(DEC_31, 5, key_id="key_b", user_id=None),
               usage(datetime(2026, 1, 1, 0, 30, tzinfo=UTC), 10)]
    rows = rows_for(entries, DEC_31, datetime(2026, 1, 2, tzinfo=UTC))
    assert [(r["ChargePeriodStart"], r["Tags"], r["BilledCost"]) for r in rows] == [
        ("2025-12-31T23:00:00Z", '{"tenantgate/key_id":"key_a","tenantgate/user_id":"usr_a"}', "1.234568"),
        ("2025-12-31T23:00:00Z", '{"tenantgate/key_id":"key_b"}', "0.000005"),
        ("2026-01-01T00:00:00Z", '{"tenantgate/key_id":"key_a","tenantgate/user_id":"usr_a"}', "0.000010"),
    ]
    first = rows[0]
    assert first["ChargePeriodEnd"] == "2026-01-01T00:00:00Z"  # the day, clipped to the range's start
    assert (first["BillingPeriodStart"], first["BillingPeriodEnd"]) == ("2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert rows[2]["BillingPeriodEnd"] == "2026-02-01T00:00:00Z"
    assert first["BilledCost"] == first["EffectiveCost"] == first["ListCost"] == first["ContractedCost"]
    assert (first["ConsumedQuantity"], first["ConsumedUnit"], first["PricingQuantity"]) == ("3000", "Tokens", "0.003")
    assert (first["x_Requests"], first["x_InputTokens"], first["x_OutputTokens"]) == ("2", "2000", "1000")
    assert (first["SubAccountId"], first["SubAccountName"], first["ResourceId"], first["ResourceName"]) == (
        "cmp_team", "Team", "openai:gpt", "chat")
    assert (first["BillingCurrency"], first["ChargeCategory"], first["ServiceName"], first["RegionId"]) == (
        "credits", "Usage", "Tenantgate", "eu")


def test_the_csv_has_every_focus_1_0_mandatory_column_and_parses_back():
    rows = rows_for([usage(DEC_31, 7)], DEC_31, datetime(2026, 1, 1, tzinfo=UTC))
    text = focus_csv(rows)
    assert text.startswith(",".join(FOCUS_COLUMNS) + "\r\n")
    assert set(FOCUS_COLUMNS) >= FOCUS_1_0_MANDATORY
    assert all(c in FOCUS_1_0_MANDATORY or c[0].isupper() or c.startswith("x_") for c in FOCUS_COLUMNS)
    (parsed,) = csv.DictReader(io.StringIO(text))
    assert Decimal(parsed["BilledCost"]) == Decimal("0.000007")
    assert json.loads(parsed["Tags"]) == {"tenantgate/key_id": "key_a", "tenantgate/user_id": "usr_a"}
    assert parsed["ChargeClass"] == ""  # null: not a correction


def test_no_usage_is_just_the_header():
    assert focus_csv(rows_for([], DEC_31, datetime(2026, 1, 1, tzinfo=UTC))) == ",".join(FOCUS_COLUMNS) + "\r\n"

"""FOCUS cost export files shaped as each cloud writes them, for the import tests.

Column sets and types follow the FOCUS specification and the clouds' export documentation:
- AWS Data Exports, "FOCUS 1.2 with AWS columns": Parquet (or CSV.gz), BilledCost and the
  other costs as doubles, timestamps in milliseconds UTC, Tags a map whose user-defined keys
  carry `user:`, the AWS columns x_CostCategories, x_Discounts, x_Operation, x_ServiceCode and
  x_UsageType. Claude is a Marketplace product (ServiceName "... (Amazon Bedrock Edition)",
  PublisherName Anthropic); first-party models are ServiceName "Amazon Bedrock".
- Azure Cost Management "FOCUS cost" export (1.0): CSV, ISO times with Z, SubAccountId the
  subscription path, Tags a JSON object, x_SkuMeterCategory / x_SkuMeterSubcategory /
  x_SkuMeterName (no SkuMeter before FOCUS 1.1), billed in the account's currency.
- Google Cloud's FOCUS export (BigQuery view, exported as CSV): ServiceName "Vertex AI",
  SubAccountId the project id, labels in Tags, SkuMeter naming the model and token type;
  written here with the FOCUS 1.3 name ServiceProviderName instead of ProviderName.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

AWS_ACCOUNT = "111122223333"
AWS_PAYER = "999988887777"
AZURE_SUBSCRIPTION = "/subscriptions/5f1c9a2e-0000-4000-8000-00000000a1b2"
AZURE_BILLING_ACCOUNT = "/providers/Microsoft.Billing/billingAccounts/8611537"
GCP_PROJECT = "acme-search-prod"
GCP_BILLING_ACCOUNT = "01A2B3-C4D5E6-F7A8B9"

FOCUS_12_COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "CapacityReservationId",
    "CapacityReservationStatus", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountQuantity", "CommitmentDiscountStatus",
    "CommitmentDiscountType", "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost", "ListUnitPrice",
    "PricingCategory", "PricingCurrency", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName",
    "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId",
    "SubAccountName", "SubAccountType", "Tags",
)  # fmt: skip
AWS_COLUMNS = ("x_CostCategories", "x_Discounts", "x_Operation", "x_ServiceCode", "x_UsageType")
FOCUS_10_COLUMNS = tuple(
    c
    for c in FOCUS_12_COLUMNS
    if c
    not in {
        "BillingAccountType", "CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit", "InvoiceId", "PricingCurrency", "ServiceSubcategory", "SkuMeter",
        "SkuPriceDetails", "SubAccountType",
    }
)  # fmt: skip
AZURE_COLUMNS = ("x_SkuMeterCategory", "x_SkuMeterSubcategory", "x_SkuMeterName", "x_ResourceGroupName")
FOCUS_13_COLUMNS = tuple("ServiceProviderName" if c == "ProviderName" else c for c in FOCUS_12_COLUMNS) + (
    "HostProviderName",
)
MONEY_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")


def _ts(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=UTC)


def _period(day: str) -> tuple[datetime, datetime]:
    start = _ts(day[:8] + "01")
    end = start.replace(month=start.month % 12 + 1, year=start.year + (start.month == 12))
    return start, end


def aws_row(day: str, cost: str, *, service: str, usage_type: str, publisher: str = "Anthropic", **extra) -> dict:
    """One row of AWS's "FOCUS 1.2 with AWS columns" export (one charge day)."""
    start, end = _period(day)
    marketplace = service.endswith("(Amazon Bedrock Edition)")
    row = {
        "BilledCost": Decimal(cost),
        "BillingAccountId": AWS_PAYER,
        "BillingAccountName": "acme-payer",
        "BillingAccountType": "Billing Account",
        "BillingCurrency": "USD",
        "BillingPeriodStart": start,
        "BillingPeriodEnd": end,
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": f"{service} {usage_type}",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": _ts(day),
        "ChargePeriodEnd": _ts(day).replace(hour=23),
        "ConsumedQuantity": Decimal("1000"),
        "ConsumedUnit": "Units",
        "EffectiveCost": Decimal(cost),
        "InvoiceId": None,
        "InvoiceIssuerName": "AWS Marketplace" if marketplace else "AWS",
        "ListCost": Decimal(cost),
        "ListUnitPrice": Decimal("0.000003"),
        "PricingCategory": "Standard",
        "PricingQuantity": Decimal("1000"),
        "PricingUnit": "Units",
        "ProviderName": "AWS",
        "PublisherName": publisher if marketplace else "Amazon Web Services",
        "RegionId": "us-east-1",
        "RegionName": "US East (N. Virginia)",
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": service,
        "ServiceSubcategory": "Generative AI",
        "SkuId": "4HTKU9XFD8SEXZZT" if marketplace else "B9Q2KQ5YPBX3ZV8J",
        "SubAccountId": AWS_ACCOUNT,
        "SubAccountName": "acme-ml",
        "SubAccountType": "Linked Account",
        "Tags": {},
        "x_CostCategories": {},
        "x_Discounts": {},
        "x_Operation": "Usage",
        "x_ServiceCode": "prod-xyz123abc" if marketplace else "AmazonBedrock",
        "x_UsageType": usage_type,
    }
    row.update(extra)
    return row


def azure_row(day: str, cost: str, *, meter: str, currency: str = "EUR", **extra) -> dict:
    """One row of an Azure Cost Management FOCUS (1.0) cost export."""
    start, end = _period(day)
    row = {
        "BilledCost": Decimal(cost),
        "BillingAccountId": AZURE_BILLING_ACCOUNT,
        "BillingAccountName": "Acme GmbH",
        "BillingCurrency": currency,
        "BillingPeriodStart": start,
        "BillingPeriodEnd": end,
        "ChargeCategory": "Usage",
        "ChargeDescription": meter,
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": _ts(day),
        "ChargePeriodEnd": _ts(day).replace(hour=23),
        "ConsumedQuantity": Decimal("12"),
        "ConsumedUnit": "1K Tokens",
        "EffectiveCost": Decimal(cost),
        "InvoiceIssuerName": "Microsoft",
        "ListCost": Decimal(cost),
        "ProviderName": "Microsoft",
        "PublisherName": "Microsoft",
        "RegionId": "swedencentral",
        "ResourceId": f"{AZURE_SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/acme-oai",
        "ResourceName": "acme-oai",
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": "Azure OpenAI",
        "SkuId": "DZH318Z0BQ4L",
        "SubAccountId": AZURE_SUBSCRIPTION,
        "SubAccountName": "acme-ai-prod",
        "Tags": {"costline-feature": "triage"},
        "x_SkuMeterCategory": "Cognitive Services",
        "x_SkuMeterSubcategory": "Azure OpenAI",
        "x_SkuMeterName": meter,
        "x_ResourceGroupName": "rg-ai",
    }
    row.update(extra)
    return row


def gcp_row(day: str, cost: str, *, meter: str, **extra) -> dict:
    """One row of Google Cloud's FOCUS export, with the FOCUS 1.3 provider column."""
    start, end = _period(day)
    row = {
        "BilledCost": Decimal(cost),
        "BillingAccountId": GCP_BILLING_ACCOUNT,
        "BillingCurrency": "USD",
        "BillingPeriodStart": start,
        "BillingPeriodEnd": end,
        "ChargeCategory": "Usage",
        "ChargeDescription": meter,
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": _ts(day),
        "ChargePeriodEnd": _ts(day).replace(hour=23),
        "EffectiveCost": Decimal(cost),
        "InvoiceIssuerName": "Google",
        "ListCost": Decimal(cost),
        "ServiceProviderName": "Google Cloud",
        "HostProviderName": "Google Cloud",
        "PublisherName": "Google",
        "RegionId": "us-central1",
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": "Vertex AI",
        "SkuId": "FDE5-4F2B-AA11",
        "SkuMeter": meter,
        "SubAccountId": GCP_PROJECT,
        "Tags": {"costline-workspace": "search"},
    }
    row.update(extra)
    return row


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def write_csv(path: Path, rows: list[dict], columns: tuple[str, ...], gz: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_parquet(path: Path, rows: list[dict], columns: tuple[str, ...]) -> Path:
    """As AWS writes it: doubles for money, millisecond UTC timestamps, maps for tags."""
    fields, arrays = [], []
    for c in columns:
        values = [row.get(c) for row in rows]
        if c in MONEY_COLUMNS or c.endswith(("Quantity", "UnitPrice")):
            fields.append(pa.field(c, pa.float64()))
            arrays.append([None if v is None else float(v) for v in values])
        elif c.endswith(("PeriodStart", "PeriodEnd")):
            fields.append(pa.field(c, pa.timestamp("ms", tz="UTC")))
            arrays.append(values)
        elif c in ("Tags", "x_CostCategories", "x_Discounts"):
            fields.append(pa.field(c, pa.map_(pa.string(), pa.string())))
            arrays.append([None if v is None else list(v.items()) for v in values])
        else:
            fields.append(pa.field(c, pa.string()))
            arrays.append([None if v is None else str(v) for v in values])
    schema = pa.schema(fields)
    table = pa.Table.from_arrays([pa.array(a, type=f.type) for a, f in zip(arrays, schema, strict=True)], schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path

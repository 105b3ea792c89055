"""Demo cloud bill: AWS's FOCUS 1.2 export for the Claude calls research makes on Bedrock.

AWS Data Exports re-delivers the month to date every day; the demo writes each delivery as
AWS would, one Parquet part under `billing/focus/<day + 1>/`: every charge day of the month so
far, one row per token kind (input, output, cache read, cache write usage types of the
Marketplace product "Claude Sonnet 4 (Amazon Bedrock Edition)"), each day's amount being
`round(list x markup, 6)` as for the API bills (`demo/billing_pages.py`), so tests can
compute the bill to the cent from the same usage. Money is written as doubles, as AWS does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from demo import scenario as sc
from demo.billing_pages import DEFAULT_MARKUP, MICRO, BillLine, DailyUsage, split_billed

PRODUCT = {sc.BEDROCK_SONNET: "Claude Sonnet 4 (Amazon Bedrock Edition)"}
USAGE_TYPES = {
    "input": "USE1-MP:USE1_InputTokenCount-Units",
    "output": "USE1-MP:USE1_OutputTokenCount-Units",
    "cache_read": "USE1-MP:USE1_CacheReadInputTokenCount-Units",
    "cache_write": "USE1-MP:USE1_CacheWriteInputTokenCount-Units",
}
PAYER_ACCOUNT = "acme-payer-000111222333"  # not all digits: a CSV reader keeps it text
_MONEY = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
_STRING_COLUMNS = (
    "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency", "ChargeCategory",
    "ChargeDescription", "ChargeFrequency", "ConsumedUnit", "InvoiceIssuerName", "PricingCategory", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ServiceCategory", "ServiceName",
    "ServiceSubcategory", "SkuId", "SubAccountId", "SubAccountName", "SubAccountType", "x_Operation",
    "x_ServiceCode", "x_UsageType",
)  # fmt: skip


def _ts(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def write_demo_focus_exports(
    billing_dir: Path, usage: Iterable[DailyUsage], *, markup: Decimal = DEFAULT_MARKUP
) -> int:
    """One delivery per day of Bedrock usage (the month to date); returns the files written."""
    lines: dict[date, dict[tuple[str, str], BillLine]] = defaultdict(dict)
    for row in usage:
        if row.provider != sc.BEDROCK:
            continue
        line = lines[row.day].setdefault((row.scope_id, row.model), BillLine())
        line.input_tokens += row.input_tokens
        line.output_tokens += row.output_tokens
        line.cache_read += row.cache_read_input_tokens
        line.cache_write += row.cache_creation_input_tokens
        line.list_usd += Decimal(row.list_cost_usd)
    for day_lines in lines.values():
        for line in day_lines.values():
            line.billed_usd = (line.list_usd * markup).quantize(MICRO, ROUND_HALF_EVEN)
    written = 0
    for delivered in sorted(lines):
        month = [d for d in sorted(lines) if d.replace(day=1) == delivered.replace(day=1) and d <= delivered]
        rows = [
            _row(day, scope, model, kind, amount, line)
            for day in month
            for (scope, model), line in sorted(lines[day].items())
            for kind, amount in split_billed(line, preliminary=False)
        ]
        folder = billing_dir / "focus" / (delivered + timedelta(days=1)).isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "acme-focus-00001.snappy.parquet", rows)
        written += 1
    return written


def _row(day: date, scope: str, model: str, kind: str, amount: Decimal, line: BillLine) -> dict:
    tokens = {
        "input": line.input_tokens - line.cache_read - line.cache_write,
        "output": line.output_tokens,
        "cache_read": line.cache_read,
        "cache_write": line.cache_write,
    }[kind]
    return {
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "ContractedCost": amount,
        "BillingAccountId": PAYER_ACCOUNT,
        "BillingAccountName": "acme-payer",
        "BillingAccountType": "Billing Account",
        "BillingCurrency": "USD",
        "BillingPeriodStart": _ts(day.replace(day=1)),
        "BillingPeriodEnd": _ts(_month_end(day)),
        "ChargeCategory": "Usage",
        "ChargeDescription": f"{PRODUCT[model]} {USAGE_TYPES[kind]}",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": _ts(day),
        "ChargePeriodEnd": _ts(day + timedelta(days=1)),
        "ConsumedQuantity": float(tokens),
        "ConsumedUnit": "Units",
        "InvoiceIssuerName": "AWS Marketplace",
        "PricingCategory": "Standard",
        "PricingQuantity": float(tokens),
        "PricingUnit": "Units",
        "ProviderName": "AWS",
        "PublisherName": "Anthropic",
        "RegionId": "us-east-1",
        "RegionName": "US East (N. Virginia)",
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": PRODUCT[model],
        "ServiceSubcategory": "Generative AI",
        "SkuId": "4HTKU9XFD8SEXZZT",
        "SubAccountId": scope,
        "SubAccountName": "acme-research",
        "SubAccountType": "Linked Account",
        "Tags": [("user:costline-workspace", "research")],
        "x_Operation": "Usage",
        "x_ServiceCode": "prod-6bd6bgnuuuv4k",
        "x_UsageType": USAGE_TYPES[kind],
    }


def _write(path: Path, rows: list[dict]) -> None:
    fields = [pa.field(c, pa.float64()) for c in _MONEY]
    fields += [pa.field(c, pa.timestamp("ms", tz="UTC")) for c in ("BillingPeriodStart", "BillingPeriodEnd")]
    fields += [pa.field(c, pa.timestamp("ms", tz="UTC")) for c in ("ChargePeriodStart", "ChargePeriodEnd")]
    fields += [pa.field(c, pa.float64()) for c in ("ConsumedQuantity", "PricingQuantity")]
    fields += [pa.field(c, pa.string()) for c in _STRING_COLUMNS]
    fields.append(pa.field("Tags", pa.map_(pa.string(), pa.string())))
    schema = pa.schema(fields)
    columns = {f.name: [float(r[f.name]) if f.name in _MONEY else r[f.name] for r in rows] for f in schema}
    pq.write_table(pa.table(columns, schema=schema), path)

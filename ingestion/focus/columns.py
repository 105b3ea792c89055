"""The FOCUS columns costline reads, across FOCUS 1.0, 1.1, 1.2 and 1.3, and how each is typed.

A cloud's FOCUS export has 40-60 columns; costline keeps the ones that say what was billed,
when, to which scope and for which model service. Names are matched without regard to case.
Where a version renamed or added a column, the alternatives are listed in the order tried:
FOCUS 1.3 deprecates `ProviderName` for `ServiceProviderName`; `SkuMeter` is new in 1.1 (Azure
writes its meter as `x_SkuMeterName` before that); `x_` columns are the clouds' own.

Every value is first read as text (CSV cells are text; Parquet values are cast), so one set of
typing rules serves both formats and a bad cell is quarantined with its row and reason.
"""

from dataclasses import dataclass

MONEY = "money"  # a decimal amount in the billing currency (kept at 12 decimals until summed)
QUANTITY = "quantity"
TIMESTAMP = "timestamp"
TEXT = "text"
JSON = "json"


@dataclass(frozen=True)
class FocusColumn:
    name: str  # costline's column in raw.focus_costs
    sources: tuple[str, ...]  # FOCUS (or x_) column names, first present wins
    kind: str
    required: bool = False  # a file without it cannot be a FOCUS cost export


COLUMNS: tuple[FocusColumn, ...] = (
    FocusColumn("billed_cost", ("BilledCost",), MONEY, required=True),
    FocusColumn("effective_cost", ("EffectiveCost",), MONEY),
    FocusColumn("list_cost", ("ListCost",), MONEY),
    FocusColumn("billing_currency", ("BillingCurrency",), TEXT, required=True),
    FocusColumn("charge_period_start", ("ChargePeriodStart",), TIMESTAMP, required=True),
    FocusColumn("charge_period_end", ("ChargePeriodEnd",), TIMESTAMP),
    FocusColumn("billing_period_start", ("BillingPeriodStart",), TIMESTAMP, required=True),
    FocusColumn("billing_account_id", ("BillingAccountId",), TEXT, required=True),
    FocusColumn("sub_account_id", ("SubAccountId",), TEXT),
    FocusColumn("focus_provider", ("ServiceProviderName", "ProviderName"), TEXT, required=True),
    FocusColumn("publisher", ("PublisherName",), TEXT),
    FocusColumn("invoice_issuer", ("InvoiceIssuerName",), TEXT),
    FocusColumn("service_category", ("ServiceCategory",), TEXT),
    FocusColumn("service_name", ("ServiceName",), TEXT, required=True),
    FocusColumn("charge_category", ("ChargeCategory",), TEXT),
    FocusColumn("charge_class", ("ChargeClass",), TEXT),
    FocusColumn("charge_description", ("ChargeDescription",), TEXT),
    FocusColumn("sku_id", ("SkuId",), TEXT),
    FocusColumn("sku_meter", ("SkuMeter", "x_SkuMeterName"), TEXT),
    FocusColumn("sku_meter_subcategory", ("x_SkuMeterSubcategory",), TEXT),
    FocusColumn("usage_type", ("x_UsageType",), TEXT),
    FocusColumn("service_code", ("x_ServiceCode",), TEXT),
    FocusColumn("region_id", ("RegionId",), TEXT),
    FocusColumn("resource_id", ("ResourceId",), TEXT),
    FocusColumn("consumed_quantity", ("ConsumedQuantity",), QUANTITY),
    FocusColumn("consumed_unit", ("ConsumedUnit",), TEXT),
    FocusColumn("pricing_unit", ("PricingUnit",), TEXT),
    FocusColumn("list_unit_price", ("ListUnitPrice",), QUANTITY),
    FocusColumn("tags", ("Tags",), JSON),
)

# Columns only some versions have, used to say which column set a file carries (ledger format).
VERSION_MARKERS: tuple[tuple[str, str], ...] = (
    ("1.3", "ServiceProviderName"),
    ("1.2", "InvoiceId"),
    ("1.1", "SkuMeter"),
)


_DDL_TYPES = {MONEY: "DECIMAL(28, 12)", QUANTITY: "DECIMAL(38, 12)", TIMESTAMP: "TIMESTAMP"}


def column_type(column: FocusColumn) -> str:
    return _DDL_TYPES.get(column.kind, "VARCHAR")


def focus_columns_ddl() -> str:
    """The FOCUS columns of raw.focus_costs (the required ones NOT NULL)."""
    return ",\n        ".join(f"{c.name} {column_type(c)}{' NOT NULL' if c.required else ''}" for c in COLUMNS)


def focus_version(present: set[str]) -> str:
    """The FOCUS column set a file carries ('1.0' .. '1.3'), from the columns it has."""
    lowered = {p.lower() for p in present}
    for version, marker in VERSION_MARKERS:
        if marker.lower() in lowered:
            return version
    return "1.0"

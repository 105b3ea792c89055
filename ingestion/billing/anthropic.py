"""Anthropic Admin API: cost report and Messages usage report.

Cost `amount` is a decimal string in cents (USD): "123.45" is $1.2345. Usage splits input
into uncached, cache-write (5 m and 1 h) and cache-read tokens; costline's input_tokens is
their sum (all input), as telemetry reports it. The usage report has no request counts. It is
also grouped by `service_tier` (standard, batch, priority, ...), `context_window` ("0-200k",
"200k-1M": the long-context rates) and `inference_geo` ("global", "us": US-only inference is
priced above global), the dimensions that change what the same tokens cost.
"""

from datetime import date, datetime, timedelta

from ingestion.billing.provider import Endpoint, Provider
from ingestion.billing.records import CostLine, RecordError, UsageLine, group_key, optional_str, tokens, usd

API_VERSION = "2023-06-01"
PAGE_LIMIT = "31"  # the most daily buckets either report returns per page


def parse_cost(result: dict) -> CostLine:
    currency = result.get("currency", "USD")
    if not isinstance(currency, str) or currency.upper() != "USD":
        raise RecordError(f"currency is {currency!r}; costline only loads USD bills")
    if not isinstance(result.get("amount"), str):
        raise RecordError(f"amount is {result.get('amount')!r}, expected a decimal string in cents")
    return CostLine(
        scope_id=optional_str(result, "workspace_id"),
        model=optional_str(result, "model"),
        line_item=optional_str(result, "description"),
        amount_usd=usd(result["amount"], field="amount (cents)", divisor=100),
        group_key=group_key(result, exclude=frozenset({"amount"})),
    )


def parse_usage(result: dict) -> UsageLine:
    creation = result.get("cache_creation") or {}
    if not isinstance(creation, dict):
        raise RecordError(f"cache_creation is {creation!r}, expected an object")
    written = tokens(creation, "ephemeral_5m_input_tokens", required=False) + tokens(
        creation, "ephemeral_1h_input_tokens", required=False
    )
    read = tokens(result, "cache_read_input_tokens", required=False)
    return UsageLine(
        scope_id=optional_str(result, "workspace_id"),
        model=optional_str(result, "model"),
        api_key_id=optional_str(result, "api_key_id"),
        requests=None,
        input_tokens=tokens(result, "uncached_input_tokens") + written + read,
        output_tokens=tokens(result, "output_tokens"),
        cache_read_input_tokens=read,
        cache_creation_input_tokens=written,
        group_key=group_key(result),
        service_tier=optional_str(result, "service_tier"),
        context_window=optional_str(result, "context_window"),
        inference_geo=optional_str(result, "inference_geo"),
    )


def _rfc3339(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def window_params(start: date, end: date) -> list[tuple[str, str]]:
    return [("starting_at", _rfc3339(start)), ("ending_at", _rfc3339(end + timedelta(days=1)))]


def _instant(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError(f"bucket {field} is {value!r}, expected an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"bucket {field} is {value!r}, expected an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise RecordError(f"bucket {field} {value!r} has no UTC offset")
    return parsed


def bucket_bounds(bucket: dict) -> tuple[datetime, datetime]:
    return _instant(bucket.get("starting_at"), "starting_at"), _instant(bucket.get("ending_at"), "ending_at")


ANTHROPIC = Provider(
    name="anthropic",
    key_env="ANTHROPIC_ADMIN_KEY",
    base_url_env="ANTHROPIC_BASE_URL",
    default_base_url="https://api.anthropic.com",
    endpoints=(
        Endpoint(
            "cost_report",
            "/v1/organizations/cost_report",
            "costs",
            (
                ("bucket_width", "1d"),
                ("group_by[]", "workspace_id"),
                ("group_by[]", "description"),
                ("limit", PAGE_LIMIT),
            ),
            parse_cost,
        ),
        Endpoint(
            "usage_report_messages",
            "/v1/organizations/usage_report/messages",
            "usage",
            (
                ("bucket_width", "1d"),
                ("group_by[]", "workspace_id"),
                ("group_by[]", "model"),
                ("group_by[]", "service_tier"),
                ("group_by[]", "context_window"),
                ("group_by[]", "inference_geo"),
                ("limit", PAGE_LIMIT),
            ),
            parse_usage,
        ),
    ),
    window_params=window_params,
    bucket_bounds=bucket_bounds,
    auth_headers=lambda key: {"x-api-key": key, "anthropic-version": API_VERSION},
    key_advice="the key is wrong or is not an admin key; set ANTHROPIC_ADMIN_KEY to an Admin API key "
    "(sk-ant-admin..., console.anthropic.com > Settings > Admin keys)",
)

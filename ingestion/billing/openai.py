"""OpenAI Admin API: organization costs and completions usage.

Costs come as float dollars (`amount.value`), grouped by project and line item; a line item
such as "gpt-4o-2024-08-06, input" names the model before the comma. Usage `input_tokens`
already include cached and cache-write tokens, as costline's input_tokens do. Usage is also
grouped by `batch` (true for the Batch API) and `service_tier` (`default`, `flex`,
`priority`, `scale`, ...: the tier that served the tokens), so the tier mix of each day's
tokens is known: a batch result's tier is `batch`.
"""

import re
from datetime import UTC, date, datetime, time, timedelta

from ingestion.billing.provider import Endpoint, Provider
from ingestion.billing.records import CostLine, RecordError, UsageLine, group_key, optional_str, tokens, usd

# "<model>, <token kind>" where the model is one token without spaces (fine-tunes contain ':').
_MODEL_IN_LINE_ITEM = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._:/-]*), ")
PAGE_LIMIT = "31"  # buckets per page; costs allow 180, daily usage 31


def model_from_line_item(line_item: str | None) -> str | None:
    """The model a line item names ("gpt-4o-2024-08-06, input"), None for tool or storage lines."""
    match = _MODEL_IN_LINE_ITEM.match(line_item or "")
    return match.group(1) if match else None


def parse_cost(result: dict) -> CostLine:
    amount = result.get("amount")
    if not isinstance(amount, dict):
        raise RecordError(f"amount is {amount!r}, expected {{'value': ..., 'currency': 'usd'}}")
    currency = amount.get("currency")
    if not isinstance(currency, str) or currency.lower() != "usd":
        raise RecordError(f"amount.currency is {currency!r}; costline only loads usd bills")
    line_item = optional_str(result, "line_item")
    return CostLine(
        scope_id=optional_str(result, "project_id"),
        model=model_from_line_item(line_item),
        line_item=line_item,
        amount_usd=usd(amount.get("value"), field="amount.value"),
        group_key=group_key(result),
    )


def parse_usage(result: dict) -> UsageLine:
    input_tokens = tokens(result, "input_tokens")
    cached = tokens(result, "input_cached_tokens", required=False)
    written = tokens(result, "input_cache_write_tokens", required=False) + tokens(
        result, "input_cache_write_12h_tokens", required=False
    )
    if cached + written > input_tokens:
        raise RecordError(
            f"input_cached_tokens + cache writes ({cached + written}) exceed input_tokens ({input_tokens})"
        )
    return UsageLine(
        scope_id=optional_str(result, "project_id"),
        model=optional_str(result, "model"),
        api_key_id=optional_str(result, "api_key_id"),
        requests=tokens(result, "num_model_requests", required=False),
        input_tokens=input_tokens,
        output_tokens=tokens(result, "output_tokens"),
        cache_read_input_tokens=cached,
        cache_creation_input_tokens=written,
        group_key=group_key(result),
        service_tier=_service_tier(result),
    )


def _service_tier(result: dict) -> str | None:
    batch = result.get("batch")
    if batch is not None and not isinstance(batch, bool):
        raise RecordError(f"batch is {batch!r}, expected true, false or null")
    return "batch" if batch else optional_str(result, "service_tier")


def _unix(day: date) -> str:
    return str(int(datetime.combine(day, time(), UTC).timestamp()))


def window_params(start: date, end: date) -> list[tuple[str, str]]:
    return [("start_time", _unix(start)), ("end_time", _unix(end + timedelta(days=1)))]


def bucket_bounds(bucket: dict) -> tuple[datetime, datetime]:
    start, end = bucket.get("start_time"), bucket.get("end_time")
    if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
        raise RecordError(f"bucket start_time/end_time are {start!r}/{end!r}, expected Unix seconds")
    return (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))


OPENAI = Provider(
    name="openai",
    key_env="OPENAI_ADMIN_KEY",
    base_url_env="OPENAI_BASE_URL",
    default_base_url="https://api.openai.com/v1",
    endpoints=(
        Endpoint(
            "costs",
            "/organization/costs",
            "costs",
            (("bucket_width", "1d"), ("group_by[]", "project_id"), ("group_by[]", "line_item"), ("limit", PAGE_LIMIT)),
            parse_cost,
        ),
        Endpoint(
            "usage_completions",
            "/organization/usage/completions",
            "usage",
            (
                ("bucket_width", "1d"),
                ("group_by[]", "project_id"),
                ("group_by[]", "model"),
                ("group_by[]", "api_key_id"),
                ("group_by[]", "batch"),
                ("group_by[]", "service_tier"),
                ("limit", PAGE_LIMIT),
            ),
            parse_usage,
        ),
    ),
    window_params=window_params,
    bucket_bounds=bucket_bounds,
    auth_headers=lambda key: {"Authorization": f"Bearer {key}"},
    key_advice="the key is wrong or is not an admin key; set OPENAI_ADMIN_KEY to an organization "
    "admin key (platform.openai.com > Settings > Admin keys)",
)

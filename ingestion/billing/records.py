"""What one provider result becomes: a cost line or a usage line, plus the value parsers.

Money arrives as `Decimal` because pages are decoded with `parse_float=Decimal`: OpenAI's
float dollars never pass through binary floating point. Amounts are quantized to the
warehouse's 6 decimals with ROUND_HALF_EVEN (banker's rounding), so rounding errors do not
drift in one direction when thousands of lines are summed.
"""

import json
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

MICRO = Decimal("0.000001")
# DECIMAL(18, 6) holds 12 integer digits.
MAX_ABS_USD = Decimal("999999999999.999999")


class RecordError(ValueError):
    """A result that breaks the documented shape; its message becomes a quarantine reason."""


@dataclass(frozen=True)
class CostLine:
    scope_id: str | None
    model: str | None
    line_item: str | None
    amount_usd: Decimal
    # Every dimension the provider grouped by, canonical: a later page with the same
    # (bucket day, group_key) restates this line.
    group_key: str


@dataclass(frozen=True)
class UsageLine:
    scope_id: str | None
    model: str | None
    api_key_id: str | None
    requests: int | None
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    group_key: str
    # The dimensions that change the price of the same tokens, where the usage API splits by
    # them: the service tier (OpenAI `service_tier`, or `batch` for its Batch API; Anthropic
    # `service_tier`), Anthropic's `context_window` ("0-200k", "200k-1M") and `inference_geo`
    # ("global", "us", "not_available"). None when the provider does not report it.
    service_tier: str | None = None
    context_window: str | None = None
    inference_geo: str | None = None


@dataclass(frozen=True)
class Located:
    """A line with the bucket day it belongs to and where it was read."""

    bucket_day: date
    line: CostLine | UsageLine
    position: str  # e.g. "data[0].results[3]", for quarantine and debugging


def usd(value: object, *, field: str, divisor: int = 1) -> Decimal:
    """Dollars from a JSON number (already Decimal) or a decimal string, quantized to 6 places."""
    if isinstance(value, bool) or value is None:
        raise RecordError(f"{field} is {value!r}, expected a number")
    try:
        amount = Decimal(value) if isinstance(value, (str, int)) else value
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise InvalidOperation
        dollars = (amount / divisor).quantize(MICRO, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError, TypeError):
        raise RecordError(f"{field} is {value!r}, expected a decimal amount") from None
    if abs(dollars) > MAX_ABS_USD:
        raise RecordError(f"{field} {value!r} does not fit DECIMAL(18, 6) dollars")
    return dollars


def tokens(result: dict, field: str, *, required: bool = True) -> int:
    """A non-negative integer count; absent optional counts are 0."""
    value = result.get(field)
    if value is None and not required:
        return 0
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError(f"{field} is {value!r}, expected an integer >= 0")
    return value


def optional_str(result: dict, field: str) -> str | None:
    value = result.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordError(f"{field} is {value!r}, expected a string or null")
    return value


def group_key(result: dict, *, exclude: frozenset[str] = frozenset()) -> str:
    """Every string/boolean/null field: the dimensions the provider split this result by.

    Counting fields the request did not group by too means two results that differ in any
    dimension are never mistaken for a restatement of each other.
    """
    # Null and absent are the same: a provider may drop null fields in a later response.
    dims = {k: v for k, v in result.items() if k not in exclude and isinstance(v, (str, bool))}
    return json.dumps(dims, sort_keys=True, separators=(",", ":"))

"""How a figure from the mart reads to a person: money, percentages, counts.

One module for the report, the alerts, the `costline demo` summary and `costline status`, so
the same value is written the same way everywhere. Formatting only: every figure arrives
computed by the mart (Decimal money, float fractions) and is never recomputed here.
`missing` is what a null reads as ("n/a" in prose, "-" in a table cell).
"""

from decimal import Decimal

MISSING = "n/a"


def usd(value, places: int = 2, small: bool = False, missing: str = MISSING) -> str:
    """Dollars with thousands separators, sign before the $; `small` shows four decimals
    below one dollar (per-request sized amounts would read $0.00 otherwise)."""
    if value is None:
        return missing
    amount = Decimal(str(value))
    if small and abs(amount) < 1:
        places = max(places, 4)
    return f"{'-' if amount < 0 else ''}${abs(amount):,.{places}f}"


def pct(value, signed: bool = False, places: int = 1, missing: str = MISSING) -> str:
    """A fraction as a percentage: 0.253 -> 25.3%."""
    if value is None:
        return missing
    return f"{float(value):{'+' if signed else ''}.{places}%}"


def count(value, missing: str = MISSING) -> str:
    """A whole number (calls, rows, tokens per request) with thousands separators."""
    if value is None:
        return missing
    return f"{float(value):,.0f}" if not isinstance(value, int) else f"{value:,}"

"""The demo providers' rate card: what they charge per million tokens (`rates.csv`).

A snapshot of the list prices genai-prices published for the demo's models (December 2026,
genai-prices 0.2.5). The demo bills its calls from this card as a provider bills from its
own: it is the demo's fixture, not the warehouse's pricing rule, which lives only in dbt
(`int_calls_priced.sql`). `tests/test_demo_data.py` prices the demo's token sums with
genai-prices' own `calc_price` and expects the same dollars, so a stale card shows there.

Rows are effective-dated like `raw.model_prices`: [effective_from, effective_to) in UTC days.
Long-context rows price every component of a call above the threshold at its `_long` rate.
A row with a `service_tier` (empty = standard) is what that tier is billed: OpenAI's Batch API
at genai-prices' batch rates from the date it lists them (2026-10-14: cached input stays at the
standard rate), half of every standard rate before.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

RATES_CSV = Path(__file__).with_name("rates.csv")
_MTOK = Decimal(1_000_000)


@dataclass(frozen=True)
class Rate:
    provider: str
    model: str
    effective_from: date
    effective_to: date
    input_mtok: Decimal
    output_mtok: Decimal
    cache_read_mtok: Decimal | None
    cache_write_mtok: Decimal | None
    long_context_threshold: int | None
    input_mtok_long: Decimal | None
    output_mtok_long: Decimal | None
    cache_read_mtok_long: Decimal | None
    cache_write_mtok_long: Decimal | None
    service_tier: str = "standard"

    def charge(
        self,
        input_tokens: int,
        output_tokens: int,
        cache_read_input_tokens: int,
        cache_creation_input_tokens: int,
        *,
        long_context: bool,
    ) -> Decimal:
        """Exact dollars for token sums of calls on one side of the long-context cliff."""
        if long_context:
            rates = (self.input_mtok_long, self.output_mtok_long, self.cache_read_mtok_long, self.cache_write_mtok_long)
        else:
            rates = (self.input_mtok, self.output_mtok, self.cache_read_mtok, self.cache_write_mtok)
        input_rate, output_rate, read_rate, write_rate = rates
        read_rate = input_rate if read_rate is None else read_rate
        write_rate = input_rate if write_rate is None else write_rate
        uncached = input_tokens - cache_read_input_tokens - cache_creation_input_tokens
        return (
            uncached * input_rate
            + cache_read_input_tokens * read_rate
            + cache_creation_input_tokens * write_rate
            + output_tokens * output_rate
        ) / _MTOK


def _decimal(text: str) -> Decimal | None:
    return Decimal(text) if text else None


@cache
def rate_card() -> tuple[Rate, ...]:
    with RATES_CSV.open(newline="") as f:
        return tuple(
            Rate(
                provider=r["provider"],
                model=r["model"],
                effective_from=date.fromisoformat(r["effective_from"]),
                effective_to=date.fromisoformat(r["effective_to"]),
                input_mtok=Decimal(r["input_mtok"]),
                output_mtok=Decimal(r["output_mtok"]),
                cache_read_mtok=_decimal(r["cache_read_mtok"]),
                cache_write_mtok=_decimal(r["cache_write_mtok"]),
                long_context_threshold=int(r["long_context_threshold"]) if r["long_context_threshold"] else None,
                input_mtok_long=_decimal(r["input_mtok_long"]),
                output_mtok_long=_decimal(r["output_mtok_long"]),
                cache_read_mtok_long=_decimal(r["cache_read_mtok_long"]),
                cache_write_mtok_long=_decimal(r["cache_write_mtok_long"]),
                service_tier=r["service_tier"] or "standard",
            )
            for r in csv.DictReader(f)
        )


def rate_on(provider: str, model: str, day: date, service_tier: str = "standard") -> Rate:
    for rate in rate_card():
        if (rate.provider, rate.model, rate.service_tier) == (
            provider,
            model,
            service_tier,
        ) and rate.effective_from <= day < rate.effective_to:
            return rate
    raise LookupError(
        f"demo model {provider}/{model} ({service_tier}) has no rate on {day} in {RATES_CSV.name}; add a row"
    )

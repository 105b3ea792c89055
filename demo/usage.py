"""What the providers would bill for the demo's calls, priced from the demo's rate card (`rates.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from demo import scenario as sc
from demo.calls import mapped_project_ids
from demo.rates import rate_on

MONEY = Decimal("0.000001")
_SUMS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


@dataclass(frozen=True)
class DailyUsage:
    """What a provider would bill: one row per UTC day, provider, billing scope and model.

    `requests` counts the calls the provider served (status ok, and the timeouts it served to the
    end; other failed calls carry no tokens).
    `list_cost_usd` is the rate card's charge summed over the calls: tokens x the rate in force
    that day, cache reads and writes at their own rates, long-context calls at the tier rates;
    exact, then rounded once to 6 decimal places (DECIMAL(18, 6)).
    """

    day: date
    provider: str
    scope_id: str
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    list_cost_usd: Decimal
    # The tier that served the tokens (the Batch API's are billed at the batch rates).
    service_tier: str = "standard"


def billing_scope(calls: pd.DataFrame) -> np.ndarray:
    """The provider project/workspace a call is billed under: its project_id, else its workspace's."""
    mapped = mapped_project_ids(calls["provider"].to_numpy(dtype=object), calls["workspace"].to_numpy(dtype=object))
    project = calls["project_id"].to_numpy(dtype=object)
    return np.where(pd.isna(project), mapped, project)


def daily_usage(calls: pd.DataFrame, untracked: pd.DataFrame) -> tuple[DailyUsage, ...]:
    """Aggregate unique calls (and the untracked project's usage) to provider billing rows."""
    # The provider bills what it served: a billed timeout's tokens too (scenario.BILLED_ERROR_TYPE),
    # and every call's true cache breakdown, whatever telemetry reported.
    frame = calls.assign(
        day=calls["started_at"].dt.date,
        scope_id=billing_scope(calls),
        served=((calls["status"] == "ok") | calls["billed_error"]).astype(np.int64),
        input_tokens=calls["served_input_tokens"],
        output_tokens=calls["served_output_tokens"],
    )[["day", "provider", "scope_id", "model", "service_tier", "served", *_SUMS]]
    frame = pd.concat([frame, untracked.assign(service_tier="standard")], ignore_index=True)

    rows: list[DailyUsage] = []
    # Prices change only at 00:00 UTC, so one price row per (day, model) is exact; the long-context
    # tier is a per-call cliff, so calls above a model's threshold are summed apart.
    keys = ["day", "provider", "scope_id", "model", "service_tier"]
    priced = ["day", "provider", "model", "service_tier"]
    prices = {
        (d, p, m, t): rate_on(p, m, d, t) for d, p, m, t in frame[priced].drop_duplicates().itertuples(index=False)
    }
    no_tier = np.iinfo(np.int64).max
    thresholds = pd.DataFrame(
        [(*key, price.long_context_threshold or no_tier) for key, price in prices.items()],
        columns=[*priced, "threshold"],
    )
    frame = frame.merge(thresholds, on=priced, how="left", validate="many_to_one")
    frame["long"] = frame["input_tokens"] > frame["threshold"]
    grouped = frame.groupby(keys + ["long"], sort=True)[["served", *_SUMS]].sum()
    totals: dict[tuple, list] = {}
    for (day, provider, scope, model, tier, long), sums in zip(
        grouped.index, grouped.itertuples(index=False), strict=True
    ):
        served, tin, tout, cread, cwrite = (int(v) for v in sums)
        cost = prices[(day, provider, model, tier)].charge(tin, tout, cread, cwrite, long_context=bool(long))
        acc = totals.setdefault((day, provider, scope, model, tier), [0, 0, 0, 0, 0, Decimal(0)])
        for i, v in enumerate((served, tin, tout, cread, cwrite, cost)):
            acc[i] += v
    for (day, provider, scope, model, tier), (served, tin, tout, cread, cwrite, cost) in sorted(totals.items()):
        if served == 0 and tin == 0 and tout == 0:
            continue
        rows.append(
            DailyUsage(
                day=day,
                provider=provider,
                scope_id=scope,
                model=model,
                requests=served,
                input_tokens=tin,
                output_tokens=tout,
                cache_read_input_tokens=cread,
                cache_creation_input_tokens=cwrite,
                list_cost_usd=cost.quantize(MONEY, rounding=ROUND_HALF_UP),
                service_tier=tier,
            )
        )
    return tuple(rows)


def untracked_project_usage(rng: np.random.Generator, timeline: sc.Timeline) -> pd.DataFrame:
    """Growth's notebook project: billed every weekday, never in telemetry."""
    provider, project, _, model = sc.UNTRACKED_PROJECT
    days = [d for d in timeline.days if d.weekday() < 5]
    n = len(days)
    # About $1 a weekday: a leftover next to the metered spend, as such projects usually are.
    input_tokens = rng.integers(200_000, 400_000, size=n)
    return pd.DataFrame(
        {
            "day": days,
            "provider": provider,
            "scope_id": project,
            "model": model,
            "served": rng.integers(8, 16, size=n),
            "input_tokens": input_tokens,
            "output_tokens": rng.integers(20_000, 40_000, size=n),
            "cache_read_input_tokens": (input_tokens * 0.3 // 128 * 128).astype(np.int64),
            "cache_creation_input_tokens": np.zeros(n, dtype=np.int64),
        }
    )

"""Backtest of the month-end forecast (int_budget_forecasts) against the linear projection.

    python -m bench.forecast_backtest                 # four months of seasonal data, printed errors
    python -m bench.forecast_backtest --days 150 --growth 0.006

Generates telemetry whose call volume has a working-week shape (weekends at about a fifth of a
weekday) and a steady growth, runs the real `costline backfill` over it, and for every as-of
day of the evaluated months compares each workspace's forecast month end with what the month
really spent. The linear rule (spend to date / day of month x days in month) is scored on the
same days. Figures: mean absolute percentage error (MAPE) per method, and how often the
actual month end fell inside the forecast's interval.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bench.generate import write_day

START = date(2026, 1, 1)
# Monday .. Sunday: a working week, quiet weekends.
WEEKDAY_SHAPE = (1.0, 1.05, 1.0, 0.95, 0.9, 0.22, 0.18)

SCORE_SQL = """
with actual as (
    select workspace, month, sum(cost_usd) as month_usd
    from marts.daily_spend
    group by workspace, month
),
scored as (
    select
        f.workspace,
        f.month,
        f.day,
        f.forecast_month_end_usd,
        f.forecast_low_usd,
        f.forecast_high_usd,
        f.spend_to_date_usd / extract(day from f.day) * extract(day from last_day(f.day)) as linear_usd,
        a.month_usd
    from intermediate.int_budget_forecasts as f
    inner join actual as a on a.workspace = f.workspace and a.month = f.month
    where f.forecast_method = 'weekday_trend'
        and f.month in (select unnest(?::varchar[]))
        and f.day < last_day(f.day)
        and a.month_usd > 1
)
select
    count(*) as as_of_days,
    avg(abs(forecast_month_end_usd - month_usd) / month_usd) as forecast_mape,
    avg(abs(linear_usd - month_usd) / month_usd) as linear_mape,
    max(abs(forecast_month_end_usd - month_usd) / month_usd) as forecast_worst,
    max(abs(linear_usd - month_usd) / month_usd) as linear_worst,
    avg(case when month_usd between forecast_low_usd and forecast_high_usd then 1.0 else 0.0 end) as coverage
from scored
"""


def calls_on(day: date, base: int, growth: float) -> int:
    """The generated day's call volume: weekday shape x linear growth since START."""
    return max(1, round(base * WEEKDAY_SHAPE[day.weekday()] * (1 + growth * (day - START).days)))


def run_backtest(work: Path, days: int = 120, base: int = 120, growth: float = 0.004) -> dict:
    """Generate, backfill with the real CLI, score the months after two months of history."""
    input_dir, warehouse_dir = work / "input", work / "warehouse"
    end = START + timedelta(days=days - 1)
    for offset in range(days):
        day = START + timedelta(days=offset)
        write_day(input_dir, day, calls_on(day, base, growth), seed=offset + 1)
    env = {
        **os.environ,
        "COSTLINE_INPUT_DIR": str(input_dir),
        "COSTLINE_WAREHOUSE_DIR": str(warehouse_dir),
        "COSTLINE_NOW": f"{end + timedelta(days=1)}T06:00:00Z",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "GX_ANALYTICS_ENABLED": "False",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "backfill", "--start", str(START), "--end", str(end)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if done.returncode != 0:
        raise RuntimeError(f"costline backfill failed: {done.stderr[-3000:]}")
    # Months with a full forecast history behind most of their days: the third month onwards,
    # complete months only.
    months = sorted(
        {
            (START + timedelta(days=offset)).strftime("%Y-%m")
            for offset in range(59, days)
            if (START + timedelta(days=offset + 1)).month != (START + timedelta(days=offset)).month
        }
    )
    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        row = con.execute(SCORE_SQL, [months]).fetchone()
    names = ("as_of_days", "forecast_mape", "linear_mape", "forecast_worst", "linear_worst", "coverage")
    return {
        "months": months,
        **{name: (float(value) if name != "as_of_days" else value) for name, value in zip(names, row, strict=True)},
    }


def print_figures(figures: dict) -> None:
    print(f"forecast backtest over {', '.join(figures['months'])}: {figures['as_of_days']} workspace-days")
    print(f"{'method':<16}{'MAPE':>8}{'worst':>8}")
    print(f"{'weekday_trend':<16}{figures['forecast_mape']:>8.1%}{figures['forecast_worst']:>8.1%}")
    print(f"{'linear':<16}{figures['linear_mape']:>8.1%}{figures['linear_worst']:>8.1%}")
    print(f"actual month end inside the forecast interval: {figures['coverage']:.0%} of days")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--calls-per-day", type=int, default=120, help="a weekday's calls at the start")
    parser.add_argument("--growth", type=float, default=0.004, help="growth of the volume per day")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        print_figures(run_backtest(work, args.days, args.calls_per_day, args.growth))


if __name__ == "__main__":
    main()

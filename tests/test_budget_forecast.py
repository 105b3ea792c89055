"""The month-end forecast (int_budget_forecasts, read by budget_burn and budget_month_status).

Exact on a clean weekly shape, and the budget status follows it; on seasonal data it beats the
linear rule (the backtest of bench/forecast_backtest.py, run with the real CLI, smaller).
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from dbt_fixtures import call, create_warehouse, insert_rows, query, run_dbt

from bench.forecast_backtest import print_figures, run_backtest
from ingestion.warehouse import connect

pytestmark = pytest.mark.pipeline

AS_OF = date(2025, 3, 14)  # a Friday: six weeks of history behind it


def weekly_shape(first: date, last: date) -> list[dict]:
    """$10 on each weekday, $2 on each weekend day, one call a day with the caller's cost."""
    rows, day = [], first
    while day <= last:
        cost = "10" if day.weekday() < 5 else "2"
        rows.append(call(f"c-{day}", f"r-{day}", f"{day}T12:00:00", cost_usd=cost, workspace="team-a"))
        day += timedelta(days=1)
    return rows


def test_a_weekly_shape_is_forecast_exactly_and_the_status_follows_it(tmp_path):
    db_path = create_warehouse(tmp_path / "warehouse")
    with connect(db_path) as con:
        insert_rows(con, "telemetry_calls", weekly_shape(date(2025, 2, 1), AS_OF))
        # $235 for March: the linear rule projects $239.14 (over), the forecast $230 (under).
        insert_rows(
            con,
            "budgets",
            [{"workspace": "team-a", "month": "2025-03", "monthly_budget_usd": Decimal("235"), "hard_limit": False,
              "source_line": 1}],
        )  # fmt: skip
    run_dbt(
        ["build", "--select", "+budget_month_status", "--exclude", "assert_focus_costs_equal_daily_spend"],
        db_path.parent,
        tmp_path,
    )

    [(method, history, to_date, forecast, low, high, trend)] = query(
        db_path,
        """select forecast_method, history_days, spend_to_date_usd, forecast_month_end_usd, forecast_low_usd,
                  forecast_high_usd, trend_usd_per_day
           from intermediate.int_budget_forecasts where workspace = 'team-a' and day = ?""",
        [AS_OF],
    )
    # March 1-14: four weekend days and ten weekdays = $108. Still to come, March 15-31: eleven
    # weekdays and six weekend days = $122. A flat, noiseless history: no trend, no interval.
    assert (method, history, to_date) == ("weekday_trend", 42, Decimal("108"))
    assert (forecast, low, high, trend) == (Decimal("230"), Decimal("230"), Decimal("230"), Decimal("0"))

    burn = query(
        db_path,
        """select day, status, projected_month_end_usd, forecast_method, forecast_month_end_usd
           from marts.budget_burn where workspace = 'team-a' order by day""",
    )
    by_day = {day: rest for day, *rest in burn}
    # The linear projection says over budget; the forecast, which knows the weekends, says not.
    assert by_day[AS_OF] == ["ok", Decimal("239.142857"), "weekday_trend", Decimal("230")]
    # Early in March the history is February's (28 days, enough): still the forecast's status.
    assert by_day[date(2025, 3, 3)][2:] == ["weekday_trend", Decimal("230")]
    assert by_day[date(2025, 3, 3)][0] == "ok"
    assert query(db_path, "select forecast_month_end_usd from marts.budget_month_status") == [(Decimal("230"),)]


def test_too_little_history_keeps_the_linear_rule(tmp_path):
    db_path = create_warehouse(tmp_path / "warehouse")
    with connect(db_path) as con:
        insert_rows(con, "telemetry_calls", weekly_shape(date(2025, 3, 1), date(2025, 3, 10)))
        insert_rows(
            con,
            "budgets",
            [{"workspace": "team-a", "month": "*", "monthly_budget_usd": Decimal("150"), "hard_limit": False,
              "source_line": 1}],
        )  # fmt: skip
    run_dbt(
        ["build", "--select", "+budget_burn", "--exclude", "assert_focus_costs_equal_daily_spend"],
        db_path.parent,
        tmp_path,
    )
    rows = query(
        db_path,
        """select status, forecast_method, forecast_month_end_usd, projected_month_end_usd, forecast_low_usd
           from marts.budget_burn where day = '2025-03-10'""",
    )
    # Ten days ($68): $210.80 on the linear projection, above $150: at risk, as before.
    assert rows == [("at_risk", "linear", Decimal("210.800000"), Decimal("210.800000"), None)]


def test_the_backtest_beats_the_linear_rule_on_seasonal_data(tmp_path):
    figures = run_backtest(tmp_path, days=120, base=300, growth=0.004)
    print_figures(figures)
    assert figures["months"] == ["2026-03", "2026-04"] and figures["as_of_days"] > 200
    assert figures["forecast_mape"] < figures["linear_mape"] / 2
    assert figures["forecast_worst"] < figures["linear_worst"] / 3
    # An ~80 % interval: most month ends inside it, not all.
    assert 0.6 <= figures["coverage"] < 1

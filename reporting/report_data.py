"""Everything the stakeholder report shows, read from the published mart for one month.

Every figure is a mart column: the month's money from `executive_summary`, its calendar and
pace from `month_to_date`, the per-feature and per-model figures from the reporting marts
(dbt_project/models/marts/reporting/). Python only selects the month's rows and shapes them;
it divides nothing (money stays `Decimal`; charts convert to float at the last step).
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb

from reporting.publication import latest_publication

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# What the report reads beyond the contract tables; a mart published by an older costline
# lacks them until the next run.
REPORTING_TABLES = (
    "month_to_date",
    "feature_results_monthly",
    "feature_results_daily",
    "model_spend_monthly",
    "budget_month_status",
)


class ReportError(RuntimeError):
    """The report cannot be written; the message says what to do."""


class EmptyMartError(ReportError):
    """The mart is published but holds no spend yet: nothing to report, nothing wrong."""


@dataclass(frozen=True)
class Summary:
    """executive_summary's row and month_to_date's, for the month."""

    spend_usd: Decimal | None
    budget_usd: Decimal | None
    consumed_pct: float | None
    projected_month_end_usd: Decimal | None
    avg_cost_per_request_usd: Decimal | None
    cost_per_success_usd: Decimal | None
    retry_cost_usd: Decimal | None
    retry_cost_share: float | None
    anomalies: int | None
    savings_opportunity_usd: Decimal | None
    month_elapsed_pct: float | None
    projected_over_budget_usd: Decimal | None
    ahead_of_budget_pace: bool
    retry_waste_high: bool
    # The month's credits and net bill (doc credit_rule); None from a mart published before
    # credits were their own line.
    credits_usd: Decimal | None = None
    net_spend_usd: Decimal | None = None


# billing_gap_explained's causes, in waterfall order: (column, label).
GAP_CAUSES = (
    ("unmonitored_scopes_usd", "Billed scopes without telemetry"),
    ("unpriced_calls_usd", "Calls of unpriced models"),
    ("error_calls_billed_usd", "Error calls billed"),
    ("cache_tokens_unreported_usd", "Cache tokens not reported"),
    ("tier_unreported_usd", "Service tier not reported"),
    ("credits_adjustments_usd", "Credits and adjustments"),
    ("residual_usd", "Residual"),
)


@dataclass(frozen=True)
class ReportData:
    month: str
    months: list[str]
    first_day: date
    last_day: date
    loaded_day_of_month: int
    days_in_month: int
    summary: Summary
    published_at: datetime | None
    publication_run_id: str | None
    # Billed spend with no calls (feature '(unattributed)') has no outcomes: it is in the
    # spend totals, not in the per-feature cost-per-result cards and trend.
    features: list[tuple] = field(default_factory=list)  # feature, cost, successes, cost_per_success (exact)
    daily: list[tuple] = field(default_factory=list)  # day, workspace, cost
    deployments: list[tuple] = field(default_factory=list)  # deployed_at, scope, version, change_pct, flagged
    workspaces: list[tuple] = field(default_factory=list)  # workspace, spend, budget, projected, status
    models: list[tuple] = field(default_factory=list)  # provider, model, cost
    success_trend: list[tuple] = field(default_factory=list)  # day, feature, cost_per_success
    comparison: list[tuple] = field(default_factory=list)  # feature, model, calls, success_rate, cps, alt, savings
    billing: list[tuple] = field(default_factory=list)  # day, provider, billed, estimated
    # provider, estimated, the GAP_CAUSES in order, billed, residual_pct: the month's gap explained
    gap: list[tuple] = field(default_factory=list)
    anomalies: list[tuple] = field(
        default_factory=list
    )  # detected_at, kind, ws, feature, observed, baseline, increase, detail
    # ws, day, budget, spend, consumed, expected, projected, status, forecast, forecast low, forecast high
    budgets: list[tuple] = field(default_factory=list)
    # Value and savings (value_summary, value_monthly, realised_savings): None / empty when the
    # mart was published by a costline without them, or nothing carried a value.
    value: tuple | None = None  # spend, valued_requests, value, value_per_dollar, realised, potential
    value_features: list[tuple] = field(default_factory=list)  # ws, feature, value, per_dollar, per_resolved
    realised: list[tuple] = field(default_factory=list)  # feature, kind, from, to, changed_at, before, after, saving


SUMMARY_SQL = """
select e.spend_usd, e.budget_usd, e.consumed_pct, e.projected_month_end_usd, e.avg_cost_per_request_usd,
       e.cost_per_success_usd, e.retry_cost_usd, e.retry_cost_share, e.anomalies, e.savings_opportunity_usd,
       m.month_elapsed_pct, m.projected_over_budget_usd, m.ahead_of_budget_pace, m.retry_waste_high{credits}
from executive_summary e join month_to_date m on m.month = e.month
where e.month = ?
"""

# The month's gap per provider, summed from billing_gap_explained (money exact); the residual
# share is computed by the mart per day, so the month's is the same ratio of the sums.
GAP_SQL = f"""
select provider, sum(estimated_cost_usd), {", ".join(f"sum({column})" for column, _ in GAP_CAUSES)},
       sum(billed_cost_usd)
from billing_gap_explained where strftime(day, '%Y-%m') = ?
group by provider order by provider
"""


def load_report_data(con: duckdb.DuckDBPyConnection, month: str | None = None, top_anomalies: int = 10) -> ReportData:
    _require_reporting_tables(con)
    months = [m for (m,) in con.execute("select month from month_to_date order by month").fetchall()]
    if not months:
        raise EmptyMartError("the published mart has no spend yet (daily_spend is empty); run the daily job first")
    if month is None:
        month = months[-1]
    elif not MONTH_RE.match(month):
        raise ReportError(f"--month must look like 2026-10, got {month!r}")
    elif month not in months:
        raise ReportError(f"month {month} is not in the published mart; months with spend: {', '.join(months)}")
    params = [month]
    first_day, last_day, loaded_day, days_in_month = con.execute(
        """
        select first_loaded_day, last_loaded_day, loaded_day_of_month, days_in_month
        from month_to_date where month = ?""",
        params,
    ).fetchone()
    has_credits = _has_column(con, "executive_summary", "credits_usd")
    summary_sql = SUMMARY_SQL.format(credits=", e.credits_usd, e.net_spend_usd" if has_credits else "")
    summary = Summary(*con.execute(summary_sql, params).fetchone())
    publication = latest_publication(con)
    return ReportData(
        month=month,
        months=months,
        first_day=first_day,
        last_day=last_day,
        loaded_day_of_month=loaded_day,
        days_in_month=days_in_month,
        summary=summary,
        published_at=publication.published_at if publication else None,
        publication_run_id=publication.run_id if publication else None,
        features=con.execute(
            """
            select feature, cost_usd, successful_requests, cost_per_success_usd from feature_results_monthly
            where month = ? order by cost_usd desc, feature""",
            params,
        ).fetchall(),
        daily=con.execute(
            """
            select day, workspace, cost_usd from workspace_kpis_daily
            where day between ? and ? order by day, workspace""",
            [first_day, last_day],
        ).fetchall(),
        deployments=con.execute(
            """
            select deployed_at, scope, version, change_pct, flagged from deployment_impact
            where strftime(deployed_at, '%Y-%m') = ? order by deployed_at""",
            params,
        ).fetchall(),
        workspaces=con.execute(
            """
            select a.workspace, a.cost_usd, b.monthly_budget_usd, b.projected_month_end_usd, b.status
            from workspace_attribution a
            left join budget_month_status b on b.month = a.month and b.workspace = a.workspace
            where a.month = ? order by a.cost_usd desc, a.workspace""",
            params,
        ).fetchall(),
        models=con.execute(
            """
            select provider, model, cost_usd from model_spend_monthly
            where month = ? order by cost_usd desc, model""",
            params,
        ).fetchall(),
        success_trend=con.execute(
            """
            select day, feature, cost_per_success_usd from feature_results_daily
            where month = ? order by feature, day""",
            params,
        ).fetchall(),
        comparison=con.execute(
            """
            select feature, model, api_calls, success_rate, cost_per_success_usd, cheaper_alternative,
                   potential_savings_usd
            from model_comparison where month = ?
            order by potential_savings_usd desc nulls last, feature, cost_per_success_usd""",
            params,
        ).fetchall(),
        billing=con.execute(
            """
            select day, provider, billed_cost_usd, estimated_cost_usd from billing_reconciliation
            where strftime(day, '%Y-%m') = ? order by provider, day""",
            params,
        ).fetchall(),
        gap=con.execute(GAP_SQL, params).fetchall() if _has_table(con, "billing_gap_explained") else [],
        anomalies=con.execute(
            f"""
            select detected_at, kind, workspace, feature, observed, baseline, increase_pct, detail
            from cost_anomalies where strftime(detected_at, '%Y-%m') = ? and {_first_hour_of_episode(con)}
            order by increase_pct desc nulls last, detected_at desc limit ?""",
            [month, top_anomalies],
        ).fetchall(),
        budgets=con.execute(
            f"""
            select workspace, as_of_day, monthly_budget_usd, spend_to_date_usd, consumed_pct, expected_pct,
                   projected_month_end_usd, status, {_budget_forecast_columns(con)}
            from budget_month_status where month = ?
            order by consumed_pct desc nulls last, workspace""",
            params,
        ).fetchall(),
        **_value_data(con, month),
    )


def _budget_forecast_columns(con: duckdb.DuckDBPyConnection) -> str:
    """The month-end forecast and its interval; a mart from before forecasts existed has none."""
    has_forecast = con.execute(
        "select count(*) from information_schema.columns "
        "where table_name = 'budget_month_status' and column_name = 'forecast_month_end_usd'"
    ).fetchone()[0]
    if has_forecast:
        return "forecast_month_end_usd, forecast_low_usd, forecast_high_usd"
    return "projected_month_end_usd, null, null"


VALUE_TABLES = ("value_summary", "value_monthly", "realised_savings")


def _value_data(con: duckdb.DuckDBPyConnection, month: str) -> dict:
    """The value section's rows; a mart from before these tables reads as no value yet."""
    present = {name for (name,) in con.execute("select table_name from information_schema.tables").fetchall()}
    if not set(VALUE_TABLES) <= present:
        return {}
    params = [month]
    return {
        "value": con.execute(
            """
            select spend_usd, valued_requests, value_usd, value_per_dollar, realised_savings_usd,
                   potential_savings_usd
            from value_summary where month = ?""",
            params,
        ).fetchone(),
        "value_features": con.execute(
            """
            select workspace, feature, value_usd, value_per_dollar, cost_per_resolved_usd from value_monthly
            where month = ? and (valued_requests > 0 or resolved_requests > 0)
            order by value_usd desc, workspace, feature""",
            params,
        ).fetchall(),
        "realised": con.execute(
            """
            select feature, change_kind, changed_from, changed_to, changed_at, cost_per_success_before_usd,
                   cost_per_success_after_usd, saving_usd
            from realised_savings where month = ?
            order by saving_usd desc, feature, changed_at""",
            params,
        ).fetchall(),
    }


def _first_hour_of_episode(con: duckdb.DuckDBPyConnection) -> str:
    """A loop spiking hour after hour is one finding, as in the alerts: its first hour. A mart
    from before episodes existed lists every hour."""
    has_episodes = con.execute(
        "select count(*) from information_schema.columns "
        "where table_name = 'cost_anomalies' and column_name = 'episode_started_at'"
    ).fetchone()[0]
    return "detected_at = coalesce(episode_started_at, detected_at)" if has_episodes else "true"


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.columns where table_name = ? and column_name = ?", [table, column]
        ).fetchone()[0]
    )


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute("select count(*) from information_schema.tables where table_name = ?", [table]).fetchone()[0]
    )


def _require_reporting_tables(con: duckdb.DuckDBPyConnection) -> None:
    present = {name for (name,) in con.execute("select table_name from information_schema.tables").fetchall()}
    missing = [table for table in REPORTING_TABLES if table not in present]
    if missing:
        raise ReportError(
            f"the published mart has no {', '.join(missing)} (published by an older costline); "
            f"run the daily job once to publish them"
        )

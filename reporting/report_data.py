"""Everything the stakeholder report shows, read from the published mart for one month.

All aggregation is SQL over `mart.duckdb`; Python only shapes the small results. Money stays
`Decimal` here (headline numbers are shown from it); charts convert to float at the last step.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import duckdb

MICRO = Decimal("0.000001")
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ReportError(RuntimeError):
    """The report cannot be written; the message says what to do."""


class EmptyMartError(ReportError):
    """The mart is published but holds no spend yet: nothing to report, nothing wrong."""


@dataclass(frozen=True)
class Summary:
    spend_usd: Decimal | None
    budget_usd: Decimal | None
    consumed_pct: float | None
    projected_month_end_usd: Decimal | None
    avg_cost_per_request_usd: Decimal | None
    cost_per_success_usd: Decimal | None
    retry_cost_share: float | None
    anomalies: int | None
    savings_opportunity_usd: Decimal | None


@dataclass(frozen=True)
class ReportData:
    month: str
    months: list[str]
    first_day: date
    last_day: date
    days_in_month: int
    summary: Summary
    retry_waste_usd: Decimal
    published_at: datetime | None
    publication_run_id: str | None
    # Billed spend with no calls (feature '(unattributed)') has no outcomes: it is in the
    # spend totals, not in the per-feature cost-per-result cards and trend.
    features: list[tuple] = field(default_factory=list)          # feature, cost, successes, cost_per_success (exact)
    daily: list[tuple] = field(default_factory=list)             # day, workspace, cost
    deployments: list[tuple] = field(default_factory=list)       # deployed_at, scope, version, change_pct, flagged
    workspaces: list[tuple] = field(default_factory=list)        # workspace, spend, budget, projected, status
    models: list[tuple] = field(default_factory=list)            # provider, model, cost
    success_trend: list[tuple] = field(default_factory=list)     # day, feature, cost_per_success
    comparison: list[tuple] = field(default_factory=list)        # feature, model, calls, success_rate, cps, alt, savings
    billing: list[tuple] = field(default_factory=list)           # day, provider, billed, estimated
    anomalies: list[tuple] = field(default_factory=list)         # detected_at, kind, ws, feature, observed, baseline, increase, detail
    budgets: list[tuple] = field(default_factory=list)           # ws, day, budget, spend, consumed, expected, projected, status


def load_report_data(con: duckdb.DuckDBPyConnection, month: str | None = None,
                     top_anomalies: int = 10) -> ReportData:
    months = [m for (m,) in con.execute(
        "select distinct strftime(day, '%Y-%m') from daily_spend order by 1").fetchall()]
    if not months:
        raise EmptyMartError("the published mart has no spend yet (daily_spend is empty); run the daily job first")
    if month is None:
        month = months[-1]
    elif not MONTH_RE.match(month):
        raise ReportError(f"--month must look like 2026-10, got {month!r}")
    elif month not in months:
        raise ReportError(f"month {month} is not in the published mart; months with spend: "
                          f"{', '.join(months)}")
    params = [month]
    first_day, last_day, days_in_month = con.execute("""
        select min(day), max(day), extract(day from last_day(max(day)))
        from daily_spend where strftime(day, '%Y-%m') = ?""", params).fetchone()
    # executive_summary is the mart's own headline; daily_spend fills in if its row is missing.
    row = con.execute("""
        with spend as (
            select sum(cost_usd) as spend, sum(requests) as requests, sum(successful_requests) as successes,
                   sum(retry_cost_usd) as retry_cost
            from daily_spend where strftime(day, '%Y-%m') = ?
        )
        select coalesce(e.spend_usd, cast(s.spend as decimal(18, 6))), e.budget_usd, e.consumed_pct,
               e.projected_month_end_usd,
               coalesce(e.avg_cost_per_request_usd, cast(s.spend / nullif(s.requests, 0) as decimal(18, 6))),
               coalesce(e.cost_per_success_usd, cast(s.spend / nullif(s.successes, 0) as decimal(18, 6))),
               coalesce(e.retry_cost_share, cast(s.retry_cost as double) / nullif(cast(s.spend as double), 0)),
               e.anomalies, e.savings_opportunity_usd
        from spend s left join executive_summary e on e.month = ?""", [month, month]).fetchone()
    summary = Summary(*row)
    retry_waste = con.execute("""select coalesce(sum(retry_cost_usd), 0) from daily_spend
                                 where strftime(day, '%Y-%m') = ?""", params).fetchone()[0]
    published_at, publication_run = _publication(con)
    return ReportData(
        month=month, months=months, first_day=first_day, last_day=last_day, days_in_month=int(days_in_month),
        summary=summary, retry_waste_usd=retry_waste, published_at=published_at,
        publication_run_id=publication_run,
        features=[(feature, cost, successes, per_unit(cost, successes)) for feature, cost, successes in con.execute("""
            select feature, sum(cost_usd) as cost, sum(successful_requests) as successes
            from daily_spend where strftime(day, '%Y-%m') = ? and feature <> '(unattributed)'
            group by feature order by cost desc, feature""", params).fetchall()],
        daily=con.execute("""
            select day, workspace, sum(cost_usd) from daily_spend where strftime(day, '%Y-%m') = ?
            group by day, workspace order by day, workspace""", params).fetchall(),
        deployments=con.execute("""
            select deployed_at, scope, version, change_pct, flagged from deployment_impact
            where strftime(deployed_at, '%Y-%m') = ? order by deployed_at""", params).fetchall(),
        workspaces=con.execute("""
            with spend as (
                select workspace, sum(cost_usd) as spend from daily_spend
                where strftime(day, '%Y-%m') = ? group by workspace
            ), burn as (
                select workspace, monthly_budget_usd, projected_month_end_usd, status,
                       row_number() over (partition by workspace order by day desc) as newest
                from budget_burn where month = ?
            )
            select s.workspace, s.spend, b.monthly_budget_usd, b.projected_month_end_usd, b.status
            from spend s left join burn b on b.workspace = s.workspace and b.newest = 1
            order by s.spend desc, s.workspace""", [month, month]).fetchall(),
        models=con.execute("""
            select provider, model, sum(cost_usd) as cost from daily_spend
            where strftime(day, '%Y-%m') = ? group by provider, model order by cost desc, model""",
                           params).fetchall(),
        success_trend=con.execute("""
            select day, feature,
                   cast(sum(cost_usd) / nullif(sum(successful_requests), 0) as decimal(18, 6))
            from daily_spend where strftime(day, '%Y-%m') = ? and feature <> '(unattributed)'
            group by day, feature order by feature, day""", params).fetchall(),
        comparison=con.execute("""
            select feature, model, api_calls, success_rate, cost_per_success_usd, cheaper_alternative,
                   potential_savings_usd
            from model_comparison where month = ?
            order by potential_savings_usd desc nulls last, feature, cost_per_success_usd""", params).fetchall(),
        billing=con.execute("""
            select day, provider, billed_cost_usd, estimated_cost_usd from billing_reconciliation
            where strftime(day, '%Y-%m') = ? order by provider, day""", params).fetchall(),
        anomalies=con.execute("""
            select detected_at, kind, workspace, feature, observed, baseline, increase_pct, detail
            from cost_anomalies where strftime(detected_at, '%Y-%m') = ?
            order by increase_pct desc nulls last, detected_at desc limit ?""",
                              [month, top_anomalies]).fetchall(),
        budgets=con.execute("""
            select workspace, day, monthly_budget_usd, spend_to_date_usd, consumed_pct, expected_pct,
                   projected_month_end_usd, status
            from budget_burn where month = ?
            qualify row_number() over (partition by workspace order by day desc) = 1
            order by consumed_pct desc nulls last, workspace""", params).fetchall(),
    )


def per_unit(cost: Decimal | None, units) -> Decimal | None:
    """Exact decimal division to the micro-dollar (DuckDB divides decimals as doubles)."""
    if cost is None or not units:
        return None
    return (Decimal(cost) / Decimal(int(units))).quantize(MICRO, rounding=ROUND_HALF_UP)


def _publication(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, str | None]:
    exists = con.execute("select count(*) from information_schema.tables "
                         "where table_name = 'mart_publication'").fetchone()[0]
    if not exists:
        return None, None
    row = con.execute("select published_at, run_id from mart_publication "
                      "order by published_at desc limit 1").fetchone()
    return (row[0], row[1]) if row else (None, None)

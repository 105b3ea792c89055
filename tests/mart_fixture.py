"""A small published mart built by hand, with the contract's tables, columns and types.

The alert and report tests read it until the real pipeline (`costline demo`) exists; swap
`build_mart_fixture` for the demo mart then and the tests keep their meaning, because they
compare what they read back with the mart, never with numbers written here.

Derived tables (kpis, budget burn, attribution, reconciliation, model comparison, summary)
are computed from `daily_spend` with the contract's formulas, so the mart is self-consistent.
One workspace name carries quotes, HTML and a script tag to prove the report escapes data.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.settings import Paths

HOSTILE_WORKSPACE = "R&D \"lab\" <script>alert('x')</script><b>bold</b>"

# (workspace, feature, provider, model, dollars per call): a few shapes of spend.
DIMENSIONS = [
    ("support", "support_bot", "openai", "gpt-4o", "0.012"),
    ("support", "support_bot", "anthropic", "claude-3-5-haiku", "0.004"),
    ("search", "doc_search", "openai", "gpt-4o-mini", "0.0008"),
    (HOSTILE_WORKSPACE, "code_review", "anthropic", "claude-sonnet-4", "0.03"),
]

# Chosen so the latest month shows every status: ok, at_risk (projected above), exceeded.
BUDGETS = {"support": Decimal("100"), "search": Decimal("3"), HOSTILE_WORKSPACE: Decimal("60")}

DEPLOYMENTS = [
    ("2026-09-28 11:00:00", "support_bot", "v3", 0.05),
    ("2026-10-08 10:00:00", "code_review", "v7", 0.41),
    ("2026-10-14 09:30:00", "*", "release-2026.10.14", -0.03),
    ("2026-10-16 16:00:00", HOSTILE_WORKSPACE, "ops-<1>", 0.02),
]

# (detected_at, kind, workspace, feature, observed, baseline, increase_pct, detail, top_feature, top_model,
# episode_started_at). support's loop on 2026-10-15 spikes two consecutive hours: one episode.
ANOMALIES = [
    (
        "2026-09-28 14:00:00",
        "cost_spike",
        "support",
        "(all)",
        "6.2",
        "2.0",
        2.1,
        "hour cost $6.20 vs median $2.00",
        "support_bot",
        "gpt-4o",
        "2026-09-28 14:00:00",
    ),
    (
        "2026-10-08 00:00:00",
        "token_inflation",
        HOSTILE_WORKSPACE,
        "code_review",
        "1450.0",
        "1000.0",
        0.45,
        "prompt_version v7: 1450 tokens/request vs 1000, success rate +0.5 pts",
        None,
        None,
        "2026-10-08 00:00:00",
    ),
    (
        "2026-10-12 00:00:00",
        "retry_rate",
        "search",
        "doc_search",
        "0.09",
        "0.05",
        0.8,
        "retry rate 9.0% (threshold 5.0%)",
        None,
        None,
        "2026-10-12 00:00:00",
    ),
    (
        "2026-10-15 14:00:00",
        "cost_spike",
        "support",
        "(all)",
        "9.5",
        "2.1",
        3.5238,
        "hour cost $9.50 vs median $2.10",
        "support_bot",
        "gpt-4o",
        "2026-10-15 14:00:00",
    ),
    (
        "2026-10-15 15:00:00",
        "cost_spike",
        "support",
        "(all)",
        "8.25",
        "2.2",
        2.75,
        "hour cost $8.25 vs median $2.20",
        "support_bot",
        "claude-3-5-haiku",
        "2026-10-15 14:00:00",
    ),
]

# (detected_at, workspace, request_rank, request_id, feature, model, calls, cost_usd, first, last started_at).
SPIKE_REQUESTS = [
    ("2026-09-28 14:00:00", "support", 1, "req-0928-a", "support_bot", "gpt-4o", 12, "3.100000", "14:01", "14:40"),
    ("2026-10-15 14:00:00", "support", 1, "req-loop-1", "support_bot", "gpt-4o", 42, "5.123456", "14:00", "14:59"),
    ("2026-10-15 14:00:00", "support", 2, "req-2", "support_bot", "claude-3-5-haiku", 3, "1.200000", "14:10", "14:12"),
    ("2026-10-15 14:00:00", "support", 3, "req-3", "support_bot", "gpt-4o", 1, "0.504999", "14:30", "14:30"),
    ("2026-10-15 15:00:00", "support", 1, "req-loop-1", "support_bot", "gpt-4o", 40, "4.900000", "15:00", "15:59"),
]

# The published cost_anomalies, by its contract's columns.
INSERT_ANOMALY = """
insert into cost_anomalies
select ts, cast(ts as date), strftime(ts, '%Y-%m'), kind, workspace, feature, null, observed, baseline, increase_pct,
       detail, top_feature, top_model, cast(episode_started_at as timestamp)
from (select cast(? as timestamp) as ts, ? as kind, ? as workspace, ? as feature,
             cast(? as decimal(18, 6)) as observed, cast(? as decimal(18, 6)) as baseline,
             cast(? as double) as increase_pct, ? as detail, ? as top_feature, ? as top_model,
             ? as episode_started_at)
"""


def insert_anomalies(con: duckdb.DuckDBPyConnection, rows) -> None:
    """Add rows shaped like ANOMALIES to a mart's cost_anomalies."""
    con.executemany(INSERT_ANOMALY, [list(row) for row in rows])


@dataclass(frozen=True)
class MartFixture:
    paths: Paths
    latest_month: str
    previous_month: str
    first_day: date
    last_day: date


def build_mart_fixture(
    root: Path, first_day: date = date(2026, 9, 24), last_day: date = date(2026, 10, 20)
) -> MartFixture:
    """Write <root>/warehouse/mart.duckdb with every contract table; return where it is."""
    paths = Paths(root / "input", root / "warehouse")
    paths.ensure_warehouse_dir()
    paths.mart_db.unlink(missing_ok=True)
    with duckdb.connect(str(paths.mart_db)) as con:
        _dimensions(con, first_day, last_day)
        con.execute(DAILY_SPEND)
        con.execute(HOURLY_SPEND)
        con.execute(WORKSPACE_KPIS)
        con.execute(BUDGET_BURN)
        con.execute(WORKSPACE_ATTRIBUTION)
        con.execute(ANOMALY_TABLE)
        insert_anomalies(con, ANOMALIES)
        con.execute(SPIKE_REQUEST_TABLE)
        con.executemany(
            "insert into cost_spike_requests select cast(? as timestamp) as t, cast(t as date), strftime(t, '%Y-%m'), "
            "?, ?, ?, ?, ?, ?, cast(? as decimal(18, 6)), cast(t as date) + cast(? as time), "
            "cast(t as date) + cast(? as time)",
            [list(r) for r in SPIKE_REQUESTS],
        )
        con.execute(BILLING_RECONCILIATION)
        con.execute(BILLING_GAP)
        con.execute(MODEL_COMPARISON)
        con.execute(PROMPT_VERSIONS)
        con.execute(DEPLOYMENT_TABLE)
        con.executemany(
            "insert into deployment_impact select cast(? as timestamp), ?, ?, "
            "0.010000, cast(0.010000 * (1 + ?) as decimal(18, 6)), ?, 0.80, 0.81, abs(?) > 0.25",
            [[at, scope, version, change, change, change] for at, scope, version, change in DEPLOYMENTS],
        )
        con.execute(EXECUTIVE_SUMMARY)
        _reporting_tables(con)
        _value_tables(con, last_day.strftime("%Y-%m"))
        con.execute("""create table mart_publication as select timestamp '2026-10-21 02:05:00' as published_at,
                       'fixture-run' as run_id, 'daily_spend,...' as tables""")
        con.execute("drop table fixture_dims; drop table fixture_days; drop table fixture_budgets")
    return MartFixture(paths, last_day.strftime("%Y-%m"), first_day.strftime("%Y-%m"), first_day, last_day)


def _dimensions(con: duckdb.DuckDBPyConnection, first_day: date, last_day: date) -> None:
    con.execute(
        "create table fixture_dims (dim_id integer, workspace varchar, feature varchar, "
        "provider varchar, model varchar, per_call decimal(18, 6))"
    )
    con.executemany(
        "insert into fixture_dims values (?, ?, ?, ?, ?, ?)", [[i, *row] for i, row in enumerate(DIMENSIONS)]
    )
    con.execute(
        "create table fixture_days as select cast(d as date) as day "
        "from generate_series(cast(? as date), cast(? as date), interval 1 day) t(d)",
        [first_day, last_day],
    )
    con.execute("create table fixture_budgets (workspace varchar, monthly_budget_usd decimal(18, 6))")
    con.executemany("insert into fixture_budgets values (?, ?)", [[w, b] for w, b in BUDGETS.items()])


# --- what a report built from this mart must show (works on any contract mart) --------------


def expected_headline(mart_db, month: str) -> dict[str, object]:
    """The headline numbers, computed here from the mart's contract columns."""
    with duckdb.connect(str(mart_db), read_only=True) as con:
        in_month = "strftime(day, '%Y-%m') = ?"
        spend, requests, retry_waste = con.execute(
            f"select sum(cost_usd), sum(requests), sum(retry_cost_usd) from daily_spend where {in_month}", [month]
        ).fetchone()
        summary = dict(
            zip(
                [
                    "spend_usd",
                    "budget_usd",
                    "consumed_pct",
                    "projected_month_end_usd",
                    "avg_cost_per_request_usd",
                    "cost_per_success_usd",
                    "retry_cost_share",
                    "anomalies",
                    "savings_opportunity_usd",
                ],
                con.execute(
                    """select spend_usd, budget_usd, consumed_pct, projected_month_end_usd,
                                  avg_cost_per_request_usd, cost_per_success_usd, retry_cost_share, anomalies,
                                  savings_opportunity_usd
                           from executive_summary where month = ?""",
                    [month],
                ).fetchone(),
                strict=True,
            )
        )
        anomalies = con.execute(
            "select count(*) from cost_anomalies where strftime(detected_at, '%Y-%m') = ?", [month]
        ).fetchone()[0]
        savings = con.execute(
            "select coalesce(sum(potential_savings_usd), 0) from model_comparison where month = ?", [month]
        ).fetchone()[0]
        features = con.execute(
            f"""select feature, sum(cost_usd), sum(successful_requests) from daily_spend
                                   where {in_month} group by feature""",
            [month],
        ).fetchall()
    # The mart agrees with itself (else the comparisons below would prove nothing).
    assert summary["spend_usd"] == spend and summary["anomalies"] == anomalies
    assert summary["savings_opportunity_usd"] == savings
    expected = {
        "month_spend_usd": spend,
        "budget_usd": summary["budget_usd"],
        "consumed_pct": summary["consumed_pct"],
        "projected_month_end_usd": summary["projected_month_end_usd"],
        "avg_cost_per_request_usd": summary["avg_cost_per_request_usd"],
        "cost_per_success_usd": summary["cost_per_success_usd"],
        "retry_waste_usd": retry_waste,
        "retry_cost_share": summary["retry_cost_share"],
        "anomalies": anomalies,
        "savings_opportunity_usd": savings,
    }
    assert abs(summary["avg_cost_per_request_usd"] - spend / requests) < Decimal("0.000001")
    for feature, cost, successes in features:
        # cost / successes to the micro-dollar, half up, in exact decimals
        expected[f"cost_per_success_usd:{feature}"] = (cost / successes).quantize(
            Decimal("0.000001"), rounding=ROUND_HALF_UP
        )
    return expected


def shown_amount(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", "").replace("%", ""))


def assert_headline_matches(found: dict[str, tuple[str, str, str]], expected: dict[str, object]) -> None:
    """found: metric id -> (data-value, label, shown text) as read from the page."""
    assert set(found) == set(expected)
    for metric, want in expected.items():
        exact, label, shown = found[metric]
        if isinstance(want, Decimal):
            assert Decimal(exact) == want, metric
            places = Decimal("0.0001") if "per_" in metric and abs(want) < 1 else Decimal("0.01")
            assert shown.startswith("$") and abs(shown_amount(shown) - want) <= places / 2, (metric, shown)
        elif isinstance(want, float):
            assert float(exact) == pytest.approx(want, rel=1e-12), metric
            assert shown.endswith("%") and abs(float(shown_amount(shown)) - want * 100) <= 0.05, (metric, shown)
        else:
            assert int(exact) == want and shown_amount(shown) == want, metric


# Counts vary by day and dimension; support triples on the 15th (the cost spike). OpenAI bills
# 3% above the estimate so billed and estimated differ visibly.
DAILY_SPEND = """
create table daily_spend as
with base as (
    select d.day, m.workspace, m.feature, m.provider, m.model, m.per_call,
           (100 + (extract(day from d.day) * 7 + m.dim_id * 13) % 50)
             * case when m.workspace = 'support' and d.day = date '2026-10-15' then 3 else 1 end as api_calls,
           5 + m.dim_id as retry_pct, 60 + 10 * (m.dim_id % 3) as success_pct
    from fixture_days d cross join fixture_dims m
), counted as (
    select *, api_calls * retry_pct // 100 as retry_calls from base
), shaped as (
    select *, api_calls - retry_calls as requests,
           (api_calls - retry_calls) * success_pct // 100 as successful_requests,
           (api_calls - retry_calls) // 10 as failed_requests,
           cast(api_calls * per_call as decimal(18, 6)) as estimated_cost_usd
    from counted
)
select day, workspace, feature, provider, model,
       cast(api_calls as bigint) as api_calls, cast(requests as bigint) as requests,
       cast(successful_requests as bigint) as successful_requests,
       cast(failed_requests as bigint) as failed_requests,
       cast(failed_requests as bigint) as error_calls, cast(retry_calls as bigint) as retry_calls,
       cast(api_calls * 800 as bigint) as input_tokens, cast(api_calls * 200 as bigint) as output_tokens,
       estimated_cost_usd,
       cast(case when provider = 'openai' then estimated_cost_usd * 1.03 else estimated_cost_usd end
            as decimal(18, 6)) as cost_usd,
       cast(0 as decimal(18, 6)) as retry_cost_usd,
       cast(null as decimal(18, 6)) as avg_cost_per_request_usd,
       cast(null as decimal(18, 6)) as cost_per_success_usd
from shaped;
update daily_spend set
    retry_cost_usd = cast(cost_usd * (retry_calls + failed_requests) / api_calls as decimal(18, 6)),
    avg_cost_per_request_usd = cast(cost_usd / requests as decimal(18, 6)),
    cost_per_success_usd = cast(cost_usd / nullif(successful_requests, 0) as decimal(18, 6));
"""

# Two hours a day; the second takes the remainder so hours sum to the day exactly.
HOURLY_SPEND = """
create table hourly_spend as
select day + interval 9 hour as hour, workspace, feature, provider, model,
       api_calls // 2 as api_calls, input_tokens // 2 as input_tokens, output_tokens // 2 as output_tokens,
       cast(cost_usd / 2 as decimal(18, 6)) as cost_usd
from daily_spend
union all
select day + interval 15 hour, workspace, feature, provider, model,
       api_calls - api_calls // 2, input_tokens - input_tokens // 2, output_tokens - output_tokens // 2,
       cast(cost_usd - cast(cost_usd / 2 as decimal(18, 6)) as decimal(18, 6))
from daily_spend
"""

WORKSPACE_KPIS = """
create table workspace_kpis_daily as
select day, workspace, cast(sum(cost_usd) as decimal(18, 6)) as cost_usd, sum(api_calls)::bigint as api_calls, sum(requests)::bigint as requests,
       cast(sum(cost_usd) / sum(requests) as decimal(18, 6)) as avg_cost_per_request_usd,
       sum(successful_requests)::bigint as successful_requests,
       sum(successful_requests + failed_requests)::bigint as labelled_requests,
       cast(sum(cost_usd) / nullif(sum(successful_requests), 0) as decimal(18, 6)) as cost_per_success_usd,
       cast(sum(retry_calls) as double) / sum(api_calls) as retry_rate,
       cast(sum(retry_cost_usd) as double) / cast(sum(cost_usd) as double) as retry_cost_share
from daily_spend group by day, workspace
"""

BUDGET_BURN = """
create table budget_burn as
with daily as (
    select k.day, k.workspace, strftime(k.day, '%Y-%m') as month, b.monthly_budget_usd, k.cost_usd as daily_spend_usd,
           extract(day from k.day) as day_of_month,
           extract(day from last_day(k.day)) as days_in_month
    from workspace_kpis_daily k join fixture_budgets b using (workspace)
), burned as (
    select *, sum(daily_spend_usd) over (partition by workspace, month order by day) as spend_to_date_usd
    from daily
)
select day, workspace, month, monthly_budget_usd, false as hard_limit,
       cast(spend_to_date_usd as decimal(18, 6)) as spend_to_date_usd,
       cast(spend_to_date_usd as double) / cast(monthly_budget_usd as double) as consumed_pct,
       day_of_month / days_in_month as expected_pct,
       cast(spend_to_date_usd / day_of_month * days_in_month as decimal(18, 6)) as projected_month_end_usd,
       daily_spend_usd,
       (cast(daily_spend_usd as double) - cast(monthly_budget_usd as double) / days_in_month)
         / (cast(monthly_budget_usd as double) / days_in_month) as daily_variance_pct,
       case when spend_to_date_usd >= monthly_budget_usd then 'exceeded'
            when (spend_to_date_usd >= 0.85 * monthly_budget_usd and day_of_month <= 20)
              or spend_to_date_usd / day_of_month * days_in_month > monthly_budget_usd then 'at_risk'
            else 'ok' end as status,
       'linear' as forecast_method,
       cast(spend_to_date_usd / day_of_month * days_in_month as decimal(18, 6)) as forecast_month_end_usd,
       cast(null as decimal(18, 6)) as forecast_low_usd,
       cast(null as decimal(18, 6)) as forecast_high_usd
from burned
"""

WORKSPACE_ATTRIBUTION = """
create table workspace_attribution as
select strftime(day, '%Y-%m') as month, workspace, cast(sum(cost_usd) as decimal(18, 6)) as cost_usd,
       cast(sum(cost_usd) as double) / sum(sum(cost_usd)) over (partition by strftime(day, '%Y-%m')) as share_pct,
       cast(sum(case when provider = 'openai' then cost_usd end) as decimal(18, 6)) as billed_cost_usd,
       cast(sum(estimated_cost_usd) as decimal(18, 6)) as estimated_cost_usd
from daily_spend group by 1, 2
"""

ANOMALY_TABLE = """
create table cost_anomalies (detected_at timestamp, day date, month varchar, kind varchar, workspace varchar,
                             feature varchar, subject varchar, observed decimal(18, 6), baseline decimal(18, 6),
                             increase_pct double, detail varchar, top_feature varchar, top_model varchar,
                             episode_started_at timestamp)
"""

SPIKE_REQUEST_TABLE = """
create table cost_spike_requests (detected_at timestamp, day date, month varchar, workspace varchar,
                                  request_rank integer, request_id varchar, feature varchar, model varchar,
                                  calls bigint, cost_usd decimal(18, 6), first_started_at timestamp,
                                  last_started_at timestamp)
"""

BILLING_RECONCILIATION = """
create table billing_reconciliation as
select day, provider, cast(sum(cost_usd) as decimal(18, 6)) as billed_cost_usd,
       cast(sum(estimated_cost_usd) as decimal(18, 6)) as estimated_cost_usd,
       cast(sum(cost_usd) - sum(estimated_cost_usd) as decimal(18, 6)) as difference_usd,
       cast(sum(cost_usd) - sum(estimated_cost_usd) as double) / cast(sum(estimated_cost_usd) as double)
         as difference_pct,
       cast(0 as decimal(18, 6)) as unattributed_cost_usd
from daily_spend where provider = 'openai' group by day, provider
"""

MODEL_COMPARISON = """
create table model_comparison as
with per_model as (
    select strftime(day, '%Y-%m') as month, feature, model, sum(api_calls)::bigint as api_calls,
           cast(sum(cost_usd) * 1000 / sum(input_tokens + output_tokens) as decimal(18, 6)) as cost_per_1k_tokens_usd,
           cast(sum(cost_usd) / sum(requests) as decimal(18, 6)) as avg_cost_per_request_usd,
           cast(sum(successful_requests) as double) / sum(successful_requests + failed_requests) as success_rate,
           cast(sum(cost_usd) / nullif(sum(successful_requests), 0) as decimal(18, 6)) as cost_per_success_usd,
           sum(successful_requests) as successes
    from daily_spend group by 1, 2, 3
), ranked as (
    select m.*, alt.model as alternative, alt.cost_per_success_usd as alt_cps,
           row_number() over (partition by m.month, m.feature, m.model order by alt.cost_per_success_usd) as rank
    from per_model m left join per_model alt
      on alt.month = m.month and alt.feature = m.feature and alt.model <> m.model
     and alt.success_rate >= m.success_rate - 0.02 and alt.cost_per_success_usd < m.cost_per_success_usd
)
select month, feature, model, api_calls, cost_per_1k_tokens_usd, avg_cost_per_request_usd, success_rate,
       cost_per_success_usd, alternative as cheaper_alternative,
       cast((cost_per_success_usd - alt_cps) * successes as decimal(18, 6)) as potential_savings_usd
from ranked where rank = 1
"""

PROMPT_VERSIONS = """
create table prompt_versions as
select 'code_review' as feature, 'v7' as prompt_version, timestamp '2026-10-08 10:00:00' as first_seen,
       cast(1200 as bigint) as api_calls, 1200.0::double as avg_input_tokens, 250.0::double as avg_output_tokens,
       cast(0.031 as decimal(18, 6)) as avg_cost_per_request_usd, 0.81::double as success_rate,
       0.45::double as token_change_pct, true as flagged
"""

DEPLOYMENT_TABLE = """
create table deployment_impact (deployed_at timestamp, scope varchar, version varchar,
    cost_per_request_before_usd decimal(18, 6), cost_per_request_after_usd decimal(18, 6), change_pct double,
    success_rate_before double, success_rate_after double, flagged boolean)
"""

EXECUTIVE_SUMMARY = """
create table executive_summary as
with spend as (
    select strftime(day, '%Y-%m') as month, sum(cost_usd) as spend_usd, sum(requests) as requests,
           sum(successful_requests) as successes, sum(retry_cost_usd) as retry_cost,
           max(extract(day from day)) as days_elapsed, max(extract(day from last_day(day))) as days_in_month
    from daily_spend group by 1
)
select s.month, cast(s.spend_usd as decimal(18, 6)) as spend_usd,
       (select cast(sum(monthly_budget_usd) as decimal(18, 6)) from fixture_budgets) as budget_usd,
       cast(s.spend_usd as double) / cast((select sum(monthly_budget_usd) from fixture_budgets) as double) as consumed_pct,
       cast(s.spend_usd / s.days_elapsed * s.days_in_month as decimal(18, 6)) as projected_month_end_usd,
       cast(s.spend_usd / s.requests as decimal(18, 6)) as avg_cost_per_request_usd,
       cast(s.spend_usd / s.successes as decimal(18, 6)) as cost_per_success_usd,
       cast(s.retry_cost as decimal(18, 6)) as retry_cost_usd,
       cast(s.retry_cost as double) / cast(s.spend_usd as double) as retry_cost_share,
       (select count(*) from cost_anomalies a where strftime(a.detected_at, '%Y-%m') = s.month) as anomalies,
       (select cast(coalesce(sum(potential_savings_usd), 0) as decimal(18, 6)) from model_comparison c
         where c.month = s.month)
         as savings_opportunity_usd,
       cast(-25 as decimal(18, 6)) as credits_usd,
       cast(s.spend_usd - 25 as decimal(18, 6)) as net_spend_usd
from spend s
"""

# Each provider-day's gap split as the mart does (fixed causes, the rest residual).
BILLING_GAP = """
create table billing_gap_explained as
with causes as (
    select day, provider, cast(billed_cost_usd - 1 as decimal(18, 6)) as billed_cost_usd, estimated_cost_usd,
           cast(0.50 as decimal(18, 6)) as unmonitored_scopes_usd, cast(0 as decimal(18, 6)) as unpriced_calls_usd,
           cast(0.10 as decimal(18, 6)) as error_calls_billed_usd, cast(-1 as decimal(18, 6)) as credits_adjustments_usd,
           cast(-0.05 as decimal(18, 6)) as cache_tokens_unreported_usd, cast(0 as decimal(18, 6)) as tier_unreported_usd
    from billing_reconciliation
)
select day, provider, billed_cost_usd, estimated_cost_usd,
       cast(billed_cost_usd - estimated_cost_usd as decimal(18, 6)) as gap_usd,
       unmonitored_scopes_usd, unpriced_calls_usd, error_calls_billed_usd, credits_adjustments_usd,
       cache_tokens_unreported_usd, tier_unreported_usd,
       cast(0.50 + 0.10 - 1 - 0.05 as decimal(18, 6)) as explained_usd,
       cast(billed_cost_usd - estimated_cost_usd - (0.50 + 0.10 - 1 - 0.05) as decimal(18, 6)) as residual_usd,
       cast(null as double) as residual_pct
from causes
"""


# The reporting marts (dbt_project/models/marts/reporting/) over the fixture's own tables, by
# the same definitions; the thresholds are dbt_project.yml's vars, as dbt publishes them.
REPORTING_TABLES = """
create table budget_month_status as
select month, workspace, day as as_of_day, monthly_budget_usd, hard_limit, spend_to_date_usd, consumed_pct,
       expected_pct, projected_month_end_usd, status, forecast_method, forecast_month_end_usd, forecast_low_usd,
       forecast_high_usd
from budget_burn qualify row_number() over (partition by workspace, month order by day desc) = 1;
create table month_to_date as
with loaded as (select month, min(day) f, max(day) l from daily_spend group by month)
select loaded.month, f as first_loaded_day, l as last_loaded_day,
       cast(extract(day from l) as integer) as loaded_day_of_month,
       cast(extract(day from last_day(l)) as integer) as days_in_month,
       extract(day from l) / extract(day from last_day(l)) as month_elapsed_pct,
       cast(case when e.budget_usd <> 0 then e.projected_month_end_usd - e.budget_usd end as decimal(18, 6))
           as projected_over_budget_usd,
       coalesce(e.budget_usd <> 0
                and e.spend_usd * extract(day from last_day(l)) > e.budget_usd * extract(day from l), false)
           as ahead_of_budget_pace,
       e.retry_cost_usd > e.spend_usd * (select value from rule_thresholds where name = 'retry_waste_warn_share')
           as retry_waste_high
from loaded join executive_summary e using (month);
create table feature_results_monthly as
select month, feature, cast(sum(cost_usd) as decimal(18, 6)) as cost_usd, sum(api_calls)::bigint as api_calls,
       sum(requests)::bigint as requests, sum(successful_requests)::bigint as successful_requests,
       cast(sum(cost_usd) / nullif(sum(successful_requests), 0) as decimal(18, 6)) as cost_per_success_usd
from daily_spend where feature <> '(unattributed)' group by month, feature;
create table feature_results_daily as
select day, month, feature, cast(sum(cost_usd) as decimal(18, 6)) as cost_usd, sum(requests)::bigint as requests,
       sum(successful_requests)::bigint as successful_requests,
       cast(sum(cost_usd) / nullif(sum(successful_requests), 0) as decimal(18, 6)) as cost_per_success_usd
from daily_spend where feature <> '(unattributed)' group by day, month, feature;
create table model_spend_monthly as
select month, provider, model, cast(sum(cost_usd) as decimal(18, 6)) as cost_usd, sum(api_calls)::bigint as api_calls
from daily_spend group by month, provider, model;
create table workspace_summary as
with totals as (
    select workspace, min(day) first_day, max(day) last_day, sum(cost_usd) cost_usd, sum(requests) requests,
           sum(successful_requests) successes, sum(retry_cost_usd) retry_cost_usd
    from daily_spend group by workspace
), latest as (
    select * from budget_month_status qualify row_number() over (partition by workspace order by month desc) = 1
)
select t.workspace, first_day, last_day, cast(t.cost_usd as decimal(18, 6)) as cost_usd, requests::bigint as requests,
       successes::bigint as successful_requests,
       cast(t.cost_usd / nullif(requests, 0) as decimal(18, 6)) as avg_cost_per_request_usd,
       cast(t.cost_usd / nullif(successes, 0) as decimal(18, 6)) as cost_per_success_usd,
       cast(retry_cost_usd as decimal(18, 6)) as retry_cost_usd,
       cast(retry_cost_usd as double) / nullif(cast(t.cost_usd as double), 0) as retry_cost_share,
       l.month as budget_month, l.consumed_pct as budget_consumed_pct, l.status as budget_status
from totals t left join latest l using (workspace);
"""


def _reporting_tables(con: duckdb.DuckDBPyConnection) -> None:
    import yaml

    variables = yaml.safe_load((Path(__file__).resolve().parents[1] / "dbt_project" / "dbt_project.yml").read_text())[
        "vars"
    ]
    con.execute("create table rule_thresholds (name varchar, value decimal(18, 6))")
    con.executemany(
        "insert into rule_thresholds values (?, ?)",
        [(k, str(v)) for k, v in variables.items() if isinstance(v, int | float) and not isinstance(v, bool)],
    )
    columns = {name for (name,) in con.execute("select column_name from (describe daily_spend)").fetchall()}
    if "month" not in columns:  # the real daily_spend carries its month
        con.execute("alter table daily_spend add column month varchar")
        con.execute("update daily_spend set month = strftime(day, '%Y-%m')")
    con.execute(REPORTING_TABLES)


def two_table_warehouse(paths: Paths, amount: str) -> None:
    """A warehouse whose marts are just daily_spend and hourly_spend, one row each of `amount`
    dollars: enough to publish, fast enough to publish many times."""
    paths.ensure_warehouse_dir()
    with duckdb.connect(str(paths.warehouse_db)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.daily_spend as "
            f"select date '2026-10-01' as day, cast({amount} as decimal(18, 6)) as cost_usd"
        )
        con.execute(
            "create or replace table marts.hourly_spend as "
            f"select timestamp '2026-10-01 10:00' as hour, cast({amount} as decimal(18, 6)) as cost_usd"
        )


# The value tables (issue 18) for the report's value section: one realised switch and one
# dearer prompt, hand-made rows whose figures the report must show as they are.
VALUE_SAVINGS = [
    ("triage", "model", "gpt-4o", "gpt-4o-mini", "2026-10-12", "0.052000", "0.018000", "12.40"),
    ("search", "prompt_version", "s1", "s2", "2026-10-03", "0.010000", "0.012000", "-1.05"),
]


def _value_tables(con: duckdb.DuckDBPyConnection, month: str) -> None:
    con.execute(
        """create table value_summary as select ? as month, cast(100 as decimal(18, 6)) as spend_usd,
           cast(40 as bigint) as valued_requests, cast(250.5 as decimal(18, 6)) as value_usd,
           2.505::double as value_per_dollar, cast(11.35 as decimal(18, 6)) as realised_savings_usd,
           cast(3.2 as decimal(18, 6)) as potential_savings_usd""",
        [month],
    )
    con.execute(
        """create table value_monthly as select ? as month, 'support' as workspace, 'triage' as feature,
           cast(60 as decimal(18, 6)) as cost_usd, 100::bigint as requests, 80::bigint as successful_requests,
           75::bigint as resolved_requests, 40::bigint as valued_requests, cast(250.5 as decimal(18, 6)) as value_usd,
           cast(0.75 as decimal(18, 6)) as cost_per_success_usd, cast(0.8 as decimal(18, 6)) as cost_per_resolved_usd,
           4.175::double as value_per_dollar""",
        [month],
    )
    con.execute(
        """create table realised_savings (month varchar, feature varchar, change_kind varchar,
           changed_from varchar, changed_to varchar, changed_at date, cost_per_success_before_usd decimal(18, 6),
           cost_per_success_after_usd decimal(18, 6), saving_usd decimal(18, 6))"""
    )
    con.executemany(
        "insert into realised_savings values (?, ?, ?, ?, ?, ?, ?, ?, ?)", [[month, *r] for r in VALUE_SAVINGS]
    )

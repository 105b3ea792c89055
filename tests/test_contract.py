"""docs/CONTRACT.md is the promise users build on; a published mart must keep it.

`contract_problems(mart_db)` reads the page (every `### table` with a `Grain:` line and a
`| column | type | definition |` table) and lists each way a mart breaks it: a table the page
does not list or a listed one missing, a column missing, extra or of another type, a grain
that is not unique, and the cross-table totals of section 2.4 that stop agreeing (money
compared exactly). `tests/test_pipeline.py` holds the demo mart to it; the tests here prove
the check itself bites.
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "CONTRACT.md"
# Column names are snake_case, or FOCUS's CamelCase in focus_costs (x_ for costline's own).
_ROW = re.compile(r"^\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*\|\s*([A-Z][A-Z0-9_]*(?:\(\d+,\s*\d+\))?)\s*\|")


@dataclass(frozen=True)
class TableSpec:
    name: str
    grain: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) in mart order


def parse_contract(text: str) -> dict[str, TableSpec]:
    tables: dict[str, TableSpec] = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        name, _, body = section.partition("\n")
        grain = re.search(r"^Grain: (.*)$", body, flags=re.M)
        if grain is None:
            continue  # input and other sections
        columns = tuple(
            (m.group(1), m.group(2).replace(" ", ""))
            for line in body.splitlines()
            if (m := _ROW.match(line)) and m.group(1) != "column"
        )
        tables[name.strip()] = TableSpec(name.strip(), tuple(re.findall(r"`([A-Za-z_]+)`", grain.group(1))), columns)
    return tables


def _type(duck_type: str) -> str:
    return duck_type.replace(" ", "").upper()


# Section 2.4 as SQL: each query returns the rows where two tables disagree (none = kept).
TOTALS = {
    "hourly_spend sums to daily_spend per day and dimensions": """
        with h as (select day, workspace, feature, provider, model, sum(api_calls) c, sum(requests) r,
                          sum(successful_requests) s, sum(labelled_requests) l, sum(error_calls) e,
                          sum(retry_calls) rc, sum(input_tokens) i, sum(output_tokens) o,
                          sum(estimated_cost_usd) est, sum(cost_usd) cost, sum(retry_cost_usd) retry
                   from hourly_spend group by all),
             d as (select day, workspace, feature, provider, model, api_calls c, requests r,
                          successful_requests s, labelled_requests l, error_calls e, retry_calls rc,
                          input_tokens i, output_tokens o, estimated_cost_usd est, cost_usd cost,
                          retry_cost_usd retry from daily_spend)
        select * from (select * from h except select * from d) union all (select * from d except select * from h)""",
    "daily_spend carries each provider-day bill exactly": """
        select r.day, r.provider from billing_reconciliation r
        join (select day, provider, sum(cost_usd) cost, sum(billed_cost_usd) billed from daily_spend group by all) d
          using (day, provider)
        where r.billed_cost_usd is not null and (d.cost <> r.billed_cost_usd or d.billed <> r.billed_cost_usd)""",
    "credits and the net bill per provider-day are daily_spend's": """
        select r.day, r.provider from billing_reconciliation r
        join (select day, provider, sum(credits_usd) credits, sum(net_cost_usd) net from daily_spend group by all) d
          using (day, provider)
        left join (select day, provider, sum(credits_usd) credits from hourly_spend group by all) h
          using (day, provider)
        where d.credits <> r.credits_usd or d.net <> r.net_billed_cost_usd
           or r.billed_cost_usd + r.credits_usd <> r.net_billed_cost_usd or h.credits <> r.credits_usd""",
    "monthly credits are daily_spend's": """
        select e.month from executive_summary e
        join (select month, sum(credits_usd) credits from daily_spend group by all) d using (month)
        where e.credits_usd <> d.credits or e.net_spend_usd <> e.spend_usd + e.credits_usd
        union all
        select a.month from workspace_attribution a
        join (select month, workspace, sum(credits_usd) credits from daily_spend group by all) d using (month, workspace)
        where a.credits_usd <> d.credits""",
    "billing_gap_explained adds up to the gap of the net bill": """
        select g.day, g.provider from billing_gap_explained g
        full join billing_reconciliation r using (day, provider)
        where g.unmonitored_scopes_usd + g.unpriced_calls_usd + g.error_calls_billed_usd + g.credits_adjustments_usd
              + g.cache_tokens_unreported_usd + g.tier_unreported_usd + g.residual_usd is distinct from g.gap_usd
           or g.gap_usd is distinct from g.billed_cost_usd - g.estimated_cost_usd
           or g.billed_cost_usd is distinct from r.net_billed_cost_usd
           or g.estimated_cost_usd is distinct from r.estimated_cost_usd""",
    "workspace_kpis_daily is daily_spend per day and workspace": """
        select k.day, k.workspace from workspace_kpis_daily k
        full join (select day, workspace, sum(cost_usd) cost, sum(api_calls) calls from daily_spend group by all) d
          using (day, workspace)
        where k.cost_usd is distinct from d.cost or k.api_calls is distinct from d.calls""",
    "workspace_attribution is daily_spend per month and workspace": """
        select a.month, a.workspace from workspace_attribution a
        full join (select month, workspace, sum(cost_usd) cost from daily_spend group by all) d using (month, workspace)
        where a.cost_usd is distinct from d.cost""",
    "executive_summary is daily_spend per month": """
        select e.month from executive_summary e
        join (select month, sum(cost_usd) cost from daily_spend group by all) d using (month)
        where e.spend_usd <> d.cost""",
    "budget_burn spend to date is the running sum of its days": """
        select day, workspace from (
            select day, workspace, spend_to_date_usd,
                   sum(daily_spend_usd) over (partition by workspace, month order by day) as running
            from budget_burn)
        where spend_to_date_usd <> running""",
    "budget_burn daily spend is the workspace's cost of the day": """
        select b.day, b.workspace from budget_burn b
        left join (select day, workspace, sum(cost_usd) cost from daily_spend group by all) d using (day, workspace)
        where b.daily_spend_usd <> coalesce(d.cost, 0)""",
    "delivery tables are daily_spend regrouped": """
        select 'feature_results_monthly', month, feature from feature_results_monthly f
        full join (select month, feature, sum(cost_usd) cost, sum(successful_requests) s from daily_spend
                   where feature <> '(unattributed)' group by all) d using (month, feature)
        where f.cost_usd is distinct from d.cost or f.successful_requests is distinct from d.s
        union all
        select 'model_spend_monthly', month, model from model_spend_monthly m
        full join (select month, provider, model, sum(cost_usd) cost from daily_spend group by all) d
          using (month, provider, model)
        where m.cost_usd is distinct from d.cost
        union all
        select 'workspace_summary', workspace, null from workspace_summary w
        full join (select workspace, sum(cost_usd) cost from daily_spend group by all) d using (workspace)
        where w.cost_usd is distinct from d.cost""",
    "hard_limit_status is budget_month_status of its month and workspace": """
        select h.month, h.workspace from hard_limit_status h
        left join budget_month_status b using (month, workspace)
        where b.spend_to_date_usd is distinct from h.spend_to_date_usd
           or b.monthly_budget_usd is distinct from h.hard_limit_usd or not b.hard_limit""",
    "focus_costs carries daily_spend's money per day and provider": """
        select day, provider from (
            select cast("ChargePeriodStart" as date) as day, x_Provider as provider, sum("BilledCost") as billed,
                   sum("ListCost") as list, sum(x_ApiCalls) as calls, sum(x_InputTokens) as tokens
            from focus_costs group by all) f
        full join (select day, provider, sum(cost_usd) as cost, sum(estimated_cost_usd + unattributed_cost_usd) as list,
                          sum(api_calls) as calls, sum(input_tokens) as tokens from daily_spend group by all) d
          using (day, provider)
        where f.billed is distinct from d.cost or f.list is distinct from d.list
           or f.calls is distinct from d.calls or f.tokens is distinct from d.tokens""",
}


def contract_problems(mart_db: Path, contract_text: str | None = None) -> list[str]:
    spec = parse_contract(contract_text if contract_text is not None else CONTRACT.read_text())
    problems: list[str] = []
    with duckdb.connect(str(mart_db), read_only=True) as con:
        present = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        problems += [f"{t}: published but not in docs/CONTRACT.md" for t in sorted(present - set(spec))]
        problems += [f"{t}: in docs/CONTRACT.md but not published" for t in sorted(set(spec) - present)]
        for table in sorted(present & set(spec)):
            actual = [(name, _type(kind)) for name, kind, *_ in con.execute(f"describe {table}").fetchall()]
            documented = list(spec[table].columns)
            for name, kind in documented:
                found = dict(actual).get(name)
                if found is None:
                    problems.append(f"{table}.{name}: documented but missing")
                elif found != kind:
                    problems.append(f"{table}.{name}: documented as {kind}, published as {found}")
            problems += [
                f"{table}.{name}: published but not documented" for name, _ in actual if name not in dict(documented)
            ]
            grain = spec[table].grain
            if grain and set(grain) <= dict(actual).keys():
                keys = ", ".join(grain)
                [(dupes,)] = con.execute(
                    f"select count(*) from (select {keys} from {table} group by {keys} having count(*) > 1)"
                ).fetchall()
                if dupes:
                    problems.append(f"{table}: {dupes} grain values ({keys}) repeat")
        if not problems:
            for rule, sql in TOTALS.items():
                rows = con.execute(sql).fetchall()
                if rows:
                    problems.append(f"{rule}: {len(rows)} disagreeing rows, e.g. {rows[0]}")
    return problems


def test_every_published_table_is_documented_with_a_grain_and_columns():
    spec = parse_contract(CONTRACT.read_text())
    assert {"daily_spend", "hourly_spend", "budget_burn", "mart_publication"} <= set(spec)
    for table in spec.values():
        assert table.columns, f"{table.name}: no columns parsed"
        assert set(table.grain) <= {c for c, _ in table.columns}, f"{table.name}: grain names unknown columns"


@pytest.fixture(scope="module")
def mart(tmp_path_factory, demo_mart) -> Path:
    copy = tmp_path_factory.mktemp("contract") / "mart.duckdb"
    shutil.copy(demo_mart["mart_db"], copy)
    return copy


def test_the_demo_mart_keeps_the_contract(mart):
    assert contract_problems(mart) == []


def test_each_published_table_has_its_parquet_file_with_the_same_rows(demo_mart):
    """mart/<table>.parquet beside mart.duckdb: same columns, same row count, for every table
    mart_publication names (and mart_publication itself)."""
    mart_db = demo_mart["mart_db"]
    parquet_dir = mart_db.parent / "mart"
    with duckdb.connect(str(mart_db), read_only=True) as con:
        [(listed,)] = con.execute("select tables from mart_publication").fetchall()
        for table in [*listed.split(","), "mart_publication"]:
            parquet = parquet_dir / f"{table}.parquet"
            assert parquet.is_file(), f"{parquet} is missing"
            source = f"read_parquet('{str(parquet).replace(chr(39), chr(39) * 2)}')"
            assert (
                con.execute(f"select count(*) from {source}").fetchone()
                == con.execute(f"select count(*) from {table}").fetchone()
            ), table
            assert [r[0] for r in con.execute(f"describe select * from {source}").fetchall()] == [
                r[0] for r in con.execute(f"describe {table}").fetchall()
            ], table


def test_the_check_bites_on_drift(mart, tmp_path):
    text = CONTRACT.read_text()
    undocumented = text.replace("| retry_rate | DOUBLE | retry_calls / api_calls |\n", "", 1)
    assert "daily_spend.retry_rate: published but not documented" in contract_problems(mart, undocumented)
    retyped = text.replace("| api_calls | BIGINT | call records (attempts) |", "| api_calls | DOUBLE | x |", 1)
    assert "daily_spend.api_calls: documented as DOUBLE, published as BIGINT" in contract_problems(mart, retyped)
    drifted = tmp_path / "mart.duckdb"
    shutil.copy(mart, drifted)
    with duckdb.connect(str(drifted)) as con:  # one micro-dollar off in one hour
        con.execute(
            "update hourly_spend set cost_usd = cost_usd + 0.000001 where hour = (select min(hour) from hourly_spend)"
        )
    assert any(p.startswith("hourly_spend sums to daily_spend") for p in contract_problems(drifted))

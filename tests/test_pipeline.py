"""End to end: the real CLI, real Dagster runs, real dbt builds, the published mart."""

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, run_costline
from filelock import FileLock
from ingestion_helpers import late_call

from demo.telemetry_files import CANARY_PREFIX

CONTRACT_TABLES = [
    "daily_spend",
    "hourly_spend",
    "workspace_kpis_daily",
    "budget_burn",
    "workspace_attribution",
    "cost_anomalies",
    "billing_reconciliation",
    "model_comparison",
    "prompt_versions",
    "deployment_impact",
    "executive_summary",
]

pytestmark = pytest.mark.pipeline


def mart_snapshot(mart_db: Path) -> dict[str, list[tuple]]:
    """Every contract table, sorted, so two marts can be compared number for number."""
    with duckdb.connect(str(mart_db), read_only=True) as con:
        return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr) for t in CONTRACT_TABLES}


@pytest.fixture
def demo_copy(demo_mart, tmp_path) -> dict:
    """A private copy of the demo's input and warehouse that a test may change."""
    input_dir, warehouse_dir = tmp_path / "input", tmp_path / "warehouse"
    shutil.copytree(demo_mart["input_dir"], input_dir)
    shutil.copytree(demo_mart["warehouse_dir"], warehouse_dir, symlinks=True)
    return {"input_dir": input_dir, "warehouse_dir": warehouse_dir, "mart_db": warehouse_dir / "mart.duckdb"}


def test_demo_mart_passes_the_contract_check(demo_mart):
    check = subprocess.run(
        [sys.executable, str(REPO.parent / "shared" / "tools" / "check_mart.py"), str(demo_mart["mart_db"])],
        capture_output=True,
        text=True,
    )
    if check.returncode == 2 and "no mart" not in check.stdout:
        pytest.skip("the workplace's check_mart.py is not beside the repo")
    assert check.returncode == 0, check.stdout
    assert "0 shortfalls" in check.stdout


def test_demo_prints_non_trivial_kpis_per_workspace(demo_mart):
    output = demo_mart["result"].stdout
    for workspace in ("support", "growth", "platform", "research"):
        assert workspace in output
    with duckdb.connect(str(demo_mart["mart_db"]), read_only=True) as con:
        kpis = con.execute("""select workspace, sum(cost_usd), sum(cost_usd) / sum(requests),
                                     sum(cost_usd) / nullif(sum(successful_requests), 0),
                                     max(retry_cost_share)
                              from workspace_kpis_daily where workspace <> 'unattributed' group by 1""").fetchall()
        statuses = {s for (s,) in con.execute("select distinct status from budget_burn").fetchall()}
    assert len(kpis) >= 3
    for workspace, spend, per_request, per_success, retry_share in kpis:
        assert spend > 0 and per_request > 0 and per_success > per_request and retry_share > 0, workspace
    assert "exceeded" in statuses and "ok" in statuses


def test_demo_bill_reconciles_to_the_cent(demo_mart):
    with duckdb.connect(str(demo_mart["mart_db"]), read_only=True) as con:
        rows = con.execute("""select r.day, r.provider, r.billed_cost_usd, sum(d.cost_usd)
                              from billing_reconciliation r join daily_spend d using (day, provider)
                              group by all""").fetchall()
        unattributed = con.execute("select sum(unattributed_cost_usd) from billing_reconciliation").fetchone()[0]
    assert len(rows) >= 50
    for day, provider, billed, attributed in rows:
        assert billed == attributed, (day, provider)
    assert unattributed > 0
    # research's Claude calls on Bedrock are billed by AWS's FOCUS export, every closed day.
    assert {d for d, p, _, _ in rows if p == "aws.bedrock"} == {d for d, p, _, _ in rows if p == "openai"}


def test_demo_gap_between_bill_and_estimate_is_explained_to_within_one_percent(demo_mart):
    """The demo's bills know what its telemetry does not (demo/scenario.py): each cause is found
    in billing_gap_explained, adds up to the gap exactly, and leaves under 1% of the bill."""
    with duckdb.connect(str(demo_mart["mart_db"]), read_only=True) as con:
        rows = con.execute(
            """select provider, sum(billed_cost_usd), sum(gap_usd), sum(unmonitored_scopes_usd),
                      sum(error_calls_billed_usd), sum(credits_adjustments_usd), sum(cache_tokens_unreported_usd),
                      sum(residual_usd),
                      bool_and(unmonitored_scopes_usd + unpriced_calls_usd + error_calls_billed_usd
                               + credits_adjustments_usd + cache_tokens_unreported_usd + tier_unreported_usd
                               + residual_usd = gap_usd)
               from billing_gap_explained group by provider order by provider"""
        ).fetchall()
    by_provider = {row[0]: row[1:] for row in rows}
    assert set(by_provider) == {"anthropic", "aws.bedrock", "openai"}
    for provider, (billed, gap, unmonitored, errors, _credits, cache, residual, exact) in by_provider.items():
        assert exact, provider
        assert abs(residual) < billed / 100, (provider, residual, billed)
        if provider != "aws.bedrock":  # the API providers' usage reports show what telemetry missed
            assert errors > 0 and cache < 0 and unmonitored > 0, provider
            assert abs(gap - residual) > abs(residual), provider  # the causes explain most of the gap
    assert by_provider["openai"][4] < 0  # the promotional credit


def test_demo_cloud_bill_is_the_focus_export_to_the_cent(demo_mart):
    """The demo writes AWS's month-to-date deliveries; the latest per month is the bill."""
    focus = demo_mart["input_dir"] / "billing" / "focus"
    deliveries = sorted(focus.iterdir())
    assert len(deliveries) >= 29  # one a day
    with duckdb.connect() as con:
        latest = {}
        for folder in deliveries:
            for (month,) in con.execute(
                "select distinct strftime(BillingPeriodStart, '%Y-%m') from read_parquet(?)",
                [str(folder / "*.parquet")],
            ).fetchall():
                latest[month] = folder
        billed = {}
        for month, folder in latest.items():
            billed.update(
                con.execute(
                    "select cast(ChargePeriodStart as date), sum(cast(BilledCost as decimal(18, 6))) "
                    "from read_parquet(?) where strftime(BillingPeriodStart, '%Y-%m') = ? group by 1",
                    [str(folder / "*.parquet"), month],
                ).fetchall()
            )
    with duckdb.connect(str(demo_mart["mart_db"]), read_only=True) as con:
        mart = dict(
            con.execute(
                "select day, sum(cost_usd) from daily_spend where provider = 'aws.bedrock' group by 1"
            ).fetchall()
        )
        research = con.execute(
            "select sum(cost_usd) from daily_spend where provider = 'aws.bedrock' and workspace <> 'research'"
        ).fetchone()[0]
    assert mart and mart == billed
    assert not research  # the account and the tag both say research


def test_prompt_text_never_reaches_the_warehouse(demo_mart):
    raw_inputs = b"".join(p.read_bytes() for p in demo_mart["input_dir"].rglob("*.jsonl"))
    assert CANARY_PREFIX.encode() in raw_inputs, "the demo must carry canary prompts for this test to mean anything"
    hits = [
        str(p)
        for p in demo_mart["warehouse_dir"].rglob("*")
        if p.is_file() and not p.is_symlink() and CANARY_PREFIX.encode() in p.read_bytes()
    ]
    assert hits == []


def test_backfill_ran_as_one_run(demo_mart):
    status = run_costline(
        "status", input_dir=demo_mart["input_dir"], warehouse_dir=demo_mart["warehouse_dir"], check=True
    )
    assert "2026-10-01 .. 2026-10-30" in status.stdout
    assert status.stdout.count("SUCCESS") == 1
    assert "FAIL" not in status.stdout


def test_rerunning_a_day_gives_the_same_mart(demo_copy):
    before = mart_snapshot(demo_copy["mart_db"])
    run_costline(
        "run",
        "--date",
        "2026-10-14",
        input_dir=demo_copy["input_dir"],
        warehouse_dir=demo_copy["warehouse_dir"],
        check=True,
    )
    assert mart_snapshot(demo_copy["mart_db"]) == before


def test_late_records_count_on_their_own_day(demo_copy):
    late_folder = demo_copy["input_dir"] / "telemetry" / "2026-10-31"
    late_folder.mkdir(parents=True)
    records = [late_call(f"late-{n}", f"late-req-{n}", "2026-10-30T23:59:00Z") for n in range(5)]
    (late_folder / "late.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    run_costline(
        "run",
        "--date",
        "2026-10-31",
        input_dir=demo_copy["input_dir"],
        warehouse_dir=demo_copy["warehouse_dir"],
        check=True,
    )
    with duckdb.connect(str(demo_copy["mart_db"]), read_only=True) as con:
        day, calls, requests, estimated = con.execute(
            "select day, api_calls, requests, estimated_cost_usd from daily_spend where feature = 'late-feature'"
        ).fetchone()
    # gpt-4o-mini: $0.15 / M input, $0.60 / M output => 1000 * 0.15e-6 + 100 * 0.6e-6 per call
    assert (str(day), calls, requests) == ("2026-10-30", 5, 5)
    assert estimated == Decimal("0.001050")


def _credit_page(day: datetime, amount: float, line_item: str, project_id: str | None) -> dict:
    day_start = int(day.timestamp())
    return {
        "object": "page",
        "has_more": False,
        "next_page": None,
        "data": [
            {
                "object": "bucket",
                "start_time": day_start,
                "end_time": day_start + 86400,
                "results": [
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": amount, "currency": "usd"},
                        "line_item": line_item,
                        "project_id": project_id,
                    }
                ],
            }
        ],
    }


def test_a_credit_larger_than_the_day_publishes_and_reconciles_to_the_cent(demo_copy):
    """A $500 credit on a day of far less usage: published, usage + credits = the bill, nothing lost.

    (Before credits were their own line, this credit made cost negative and blocked the mart.)
    """
    with duckdb.connect(str(demo_copy["mart_db"]), read_only=True) as con:
        usage_before, credits_before = con.execute(
            "select billed_cost_usd, credits_usd from billing_reconciliation "
            "where day = '2026-10-20' and provider = 'openai'"
        ).fetchone()
    assert usage_before < 500
    folder = demo_copy["input_dir"] / "billing" / "openai" / "2026-10-21"
    page = _credit_page(
        datetime(2026, 10, 20, tzinfo=UTC), -500.0, "credit adjustment", "proj_Kx3mP9qRt2VbN7wLs4Hd8FjA"
    )
    (folder / "costs-zz-credit.json").write_text(json.dumps(page))

    run_costline(
        "run",
        "--date",
        "2026-10-20",
        input_dir=demo_copy["input_dir"],
        warehouse_dir=demo_copy["warehouse_dir"],
        check=True,
    )
    with duckdb.connect(str(demo_copy["warehouse_dir"] / "warehouse.duckdb"), read_only=True) as con:
        (bill_lines_total,) = con.execute(
            "select sum(amount_usd) from raw.billing_costs where provider = 'openai' and bucket_day = '2026-10-20'"
        ).fetchone()
    with duckdb.connect(str(demo_copy["mart_db"]), read_only=True) as con:
        rec = con.execute(
            "select billed_cost_usd, credits_usd, net_billed_cost_usd, credit_lines from billing_reconciliation "
            "where day = '2026-10-20' and provider = 'openai'"
        ).fetchone()
        spend = con.execute(
            "select sum(cost_usd), sum(credits_usd), sum(net_cost_usd), min(cost_usd) from daily_spend "
            "where day = '2026-10-20' and provider = 'openai'"
        ).fetchone()
        summary = con.execute(
            "select credits_usd, net_spend_usd, spend_usd from executive_summary where month = '2026-10'"
        ).fetchone()
    billed, credits, net_billed, credit_lines = rec
    assert billed == usage_before  # the usage bill did not move
    assert credits == credits_before - Decimal("500") and credit_lines >= 1
    assert billed + credits == net_billed == bill_lines_total  # the invoice, to the cent
    assert spend[:3] == (billed, credits, net_billed)  # every cent carried by the mart
    assert spend[3] >= 0 and net_billed < 0  # usage never negative; the net may be
    assert summary[0] <= credits and summary[1] == summary[2] + summary[0]


def test_failing_blocking_check_keeps_the_previous_mart(demo_copy):
    """Genuinely bad money stops the publish: a call with a negative caller cost that reached
    raw.telemetry_calls past ingestion's checks (as a source plugin that skipped them would
    write it). A credit no longer does (the test above): it is its own line."""
    before = mart_snapshot(demo_copy["mart_db"])
    with duckdb.connect(str(demo_copy["mart_db"]), read_only=True) as con:
        published_before = con.execute("select run_id from mart_publication").fetchone()
    with duckdb.connect(str(demo_copy["warehouse_dir"] / "warehouse.duckdb")) as con:
        con.execute(
            """insert into raw.telemetry_calls
               select * replace ('bad-negative-cost' as call_id, cast(-5 as decimal(18, 6)) as cost_usd)
               from raw.telemetry_calls where cast(started_at as date) = '2026-10-20' limit 1"""
        )

    result = run_costline(
        "run",
        "--date",
        "2026-10-20",
        "--force",
        input_dir=demo_copy["input_dir"],
        warehouse_dir=demo_copy["warehouse_dir"],
    )
    assert result.returncode == 1
    error_line = [line for line in result.stderr.splitlines() if line.startswith("costline: error:")]
    assert len(error_line) == 1 and "non_negative" in error_line[0], result.stderr[-3000:]
    assert "previous mart is still published" in error_line[0]
    with duckdb.connect(str(demo_copy["mart_db"]), read_only=True) as con:
        assert con.execute("select run_id from mart_publication").fetchone() == published_before
    assert mart_snapshot(demo_copy["mart_db"]) == before


def test_cli_errors_are_one_actionable_line(tmp_path):
    missing = run_costline("run", "--date", "2026-10-01", input_dir=tmp_path / "nope", warehouse_dir=tmp_path / "wh")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "COSTLINE_INPUT_DIR" in missing.stderr
    (tmp_path / "in" / "telemetry").mkdir(parents=True)
    nothing = run_costline("run", "--date", "2026-10-01", input_dir=tmp_path / "in", warehouse_dir=tmp_path / "wh")
    assert nothing.returncode == 2 and "nothing to load for 2026-10-01" in nothing.stderr
    bad = run_costline("run", "--date", "yesterday", input_dir=tmp_path / "in", warehouse_dir=tmp_path / "wh")
    assert bad.returncode == 2 and "--date must be a date" in bad.stderr
    # Today is a partition (here with nothing to load yet); a later day is one line, never a traceback.
    today = datetime.now(UTC).date().isoformat()
    for day, says in ((today, f"nothing to load for {today}"), ("2099-01-01", "2099-01-01 is in the future")):
        early = run_costline("run", "--date", day, input_dir=tmp_path / "in", warehouse_dir=tmp_path / "wh")
        assert early.returncode == 2 and early.stderr.strip().count("\n") == 0, early.stderr
        assert says in early.stderr


def test_second_run_refuses_while_the_warehouse_is_busy(tmp_path):
    input_dir, warehouse_dir = tmp_path / "in", tmp_path / "wh"
    (input_dir / "telemetry" / "2026-10-01").mkdir(parents=True)
    warehouse_dir.mkdir()
    with FileLock(str(warehouse_dir / ".costline.lock")):
        busy = run_costline("run", "--date", "2026-10-01", input_dir=input_dir, warehouse_dir=warehouse_dir)
    assert busy.returncode == 1
    assert "another costline process is using the warehouse" in busy.stderr

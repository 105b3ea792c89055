"""FOCUS cost exports in: each cloud's files as it writes them, through the loader and real dbt.

Loader tests read real CSV, CSV.gz and Parquet files with the real DuckDB loader; the dbt tests
build the real project on the loaded warehouse and check the bill to the cent per day and
provider, restatements, exchange rates, tags and unattributed cloud spend.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import run_costline
from dbt_fixtures import call, insert_rows, run_dbt
from focus_files import (
    AWS_ACCOUNT,
    AWS_COLUMNS,
    AZURE_COLUMNS,
    AZURE_SUBSCRIPTION,
    FOCUS_10_COLUMNS,
    FOCUS_12_COLUMNS,
    FOCUS_13_COLUMNS,
    GCP_PROJECT,
    aws_row,
    azure_row,
    gcp_row,
    write_csv,
    write_parquet,
)
from ingestion_helpers import assert_ledger_reconciles, make_paths, rows

from ingestion.focus.load import load_focus_folder
from ingestion.sources.focus_exports import FocusExports
from ingestion.sources.reference_files import load_reference_inputs
from ingestion.warehouse import connect

CLAUDE = "Claude Sonnet 4.5 (Amazon Bedrock Edition)"
CLAUDE_IN = "USE1-MP:USE1_InputTokenCount-Units"
CLAUDE_OUT = "USE1-MP:USE1_OutputTokenCount-Units"
CLAUDE_CACHE = "USE1-MP:USE1_CacheReadInputTokenCount-Units"
NOVA_IN = "USE1-Nova-Lite-input-tokens"
AWS_ALL = FOCUS_12_COLUMNS + AWS_COLUMNS
AZURE_ALL = FOCUS_10_COLUMNS + AZURE_COLUMNS
NOT_AI = {"ServiceCategory": "Compute"}


@pytest.fixture
def paths(tmp_path):
    return make_paths(tmp_path)


def focus_dir(paths, delivered: str) -> Path:
    folder = paths.billing_dir / "focus" / delivered
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_all(paths, load_id: str = "load-1"):
    with connect(paths.warehouse_db) as con:
        return FocusExports().load(con, paths, [date(2026, 11, 5)], load_id)


def test_each_clouds_export_keeps_its_model_service_rows(paths):
    folder = focus_dir(paths, "2026-11-04")
    # AWS: one export in two Parquet parts; Claude (Marketplace) and Nova (first party), EC2 not.
    write_parquet(
        folder / "acme-focus-00001.snappy.parquet",
        [
            aws_row("2026-11-03", "1.2345678901", service=CLAUDE, usage_type=CLAUDE_IN, Tags={"user:team": "ml"}),
            aws_row("2026-11-03", "0.0000004", service=CLAUDE, usage_type=CLAUDE_CACHE),
            aws_row(
                "2026-11-03",
                "9.99",
                service="Amazon Elastic Compute Cloud",
                usage_type="BoxUsage",
                x_ServiceCode="AmazonEC2",
                **NOT_AI,
            ),
        ],
        AWS_ALL,
    )
    write_parquet(
        folder / "acme-focus-00002.snappy.parquet",
        [aws_row("2026-11-03", "0.25", service="Amazon Bedrock", usage_type=NOVA_IN)],
        AWS_ALL,
    )
    # Azure: FOCUS 1.0 CSV in EUR; a storage row that is not model spend.
    write_csv(
        folder / "focuscost_part0.csv",
        [
            azure_row("2026-11-03", "0.42", meter="gpt-4o-mini-0718-Inp-glbl Tokens"),
            azure_row(
                "2026-11-03",
                "3.00",
                meter="Hot LRS Data Stored",
                ServiceName="Storage",
                x_SkuMeterSubcategory="Blob Storage",
                **NOT_AI,
            ),
        ],
        AZURE_ALL,
    )
    # Google: FOCUS 1.3 column set, CSV.gz; BigQuery is not model spend.
    write_csv(
        folder / "gcp-focus.csv.gz",
        [
            gcp_row("2026-11-03", "0.80", meter="Gemini 2.5 Flash Input Text Tokens"),
            gcp_row("2026-11-03", "5.00", meter="Analysis", ServiceName="BigQuery", ServiceCategory="Analytics"),
        ],
        FOCUS_13_COLUMNS,
        gz=True,
    )
    loaded = load_all(paths)
    assert loaded.rows == 5 and loaded.quarantined == 0

    with connect(paths.warehouse_db) as con:
        by_provider = rows(
            con,
            "select provider, count(*), sum(billed_cost), min(billing_currency) from raw.focus_costs group by 1 order by 1",
        )
        # Kept at the export's precision: 1.2345678901 + 0.0000004 + 0.25, exactly.
        assert by_provider == [
            ("aws.bedrock", 3, Decimal("1.4845682901"), "USD"),
            ("azure.ai.openai", 1, Decimal("0.42"), "EUR"),
            ("gcp.vertex_ai", 1, Decimal("0.80"), "USD"),
        ]
        scopes = dict(rows(con, "select provider, min(sub_account_id) from raw.focus_costs group by 1"))
        assert scopes == {
            "aws.bedrock": AWS_ACCOUNT,
            "azure.ai.openai": AZURE_SUBSCRIPTION,
            "gcp.vertex_ai": GCP_PROJECT,
        }
        # Tags arrive as a map (Parquet) or JSON text (CSV); the costline tags are read from both.
        tagged = dict(
            rows(con, "select provider, max(coalesce(workspace_tag, feature_tag)) from raw.focus_costs group by 1")
        )
        assert tagged == {"aws.bedrock": None, "azure.ai.openai": "triage", "gcp.vertex_ai": "search"}
        formats = dict(
            rows(con, "select source_file, file_format from raw.source_files where source_folder is not null")
        )
        assert formats == {
            "billing/focus/2026-11-04/acme-focus-00001.snappy.parquet": "focus-1.2-parquet",
            "billing/focus/2026-11-04/acme-focus-00002.snappy.parquet": "focus-1.2-parquet",
            "billing/focus/2026-11-04/focuscost_part0.csv": "focus-1.0-csv",
            "billing/focus/2026-11-04/gcp-focus.csv.gz": "focus-1.3-csv.gz",
        }
        assert_ledger_reconciles(con, "focus", "raw.focus_costs")


def test_bad_rows_and_files_are_quarantined_with_a_reason(paths):
    folder = focus_dir(paths, "2026-11-04")
    write_csv(
        folder / "part-0.csv",
        [
            aws_row("2026-11-03", "0.10", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-03", "0.10", service=CLAUDE, usage_type=CLAUDE_OUT, BilledCost="12,5"),
            aws_row("2026-11-03", "0.10", service=CLAUDE, usage_type=CLAUDE_OUT, ChargePeriodStart="yesterday"),
            aws_row("2026-11-03", "0.10", service=CLAUDE, usage_type=CLAUDE_OUT, BillingCurrency="dollars"),
            aws_row("2026-11-03", "0.10", service=CLAUDE, usage_type=CLAUDE_OUT, BillingAccountId=None),
            aws_row("2026-11-03", "0.10", service=CLAUDE, usage_type=CLAUDE_OUT, Tags="{not json"),
        ],
        AWS_ALL,
    )
    write_csv(folder / "not-focus.csv", [{"cost": "1"}], ("cost", "ServiceName"))
    (folder / "broken.parquet").write_bytes(b"PAR1 this is not a parquet file")
    loaded = load_all(paths)
    assert loaded.rows == 2 and loaded.quarantined == 6
    assert any("Tags that are not a JSON object" in w for w in loaded.warnings)

    with connect(paths.warehouse_db) as con:
        reasons = rows(
            con, "select source_file, source_line, reason from raw.quarantine order by source_file, source_line"
        )
        by_line = {(Path(f).name, line): reason.split(":")[0] for f, line, reason in reasons}
        assert by_line == {
            ("part-0.csv", 2): "invalid_money",
            ("part-0.csv", 3): "invalid_timestamp",
            ("part-0.csv", 4): "invalid_currency",
            ("part-0.csv", 5): "missing_field",
            ("not-focus.csv", None): "not_focus",
            ("broken.parquet", None): "unreadable_file",
        }
        assert any('got "12,5"' in reason for _, _, reason in reasons)
        assert_ledger_reconciles(con, "focus", "raw.focus_costs")


def test_an_unchanged_delivery_is_not_read_again_and_a_changed_one_is_replaced(paths):
    folder = focus_dir(paths, "2026-11-04")
    part = write_csv(
        folder / "part-0.csv", [aws_row("2026-11-03", "0.10", service=CLAUDE, usage_type=CLAUDE_IN)], AWS_ALL
    )
    assert load_all(paths, "l1").rows == 1
    again = load_all(paths, "l2")
    assert again.rows == 0 and again.metadata["source"] == "unchanged"
    write_csv(part, [aws_row("2026-11-03", "0.30", service=CLAUDE, usage_type=CLAUDE_IN)] * 2, AWS_ALL)
    assert load_all(paths, "l3").rows == 2
    with connect(paths.warehouse_db) as con:
        assert rows(con, "select count(*), sum(billed_cost), min(load_id) from raw.focus_costs") == [
            (2, Decimal("0.6"), "l3")
        ]
        assert_ledger_reconciles(con, "focus", "raw.focus_costs")


# --------------------------------------------------------------------------------------------
# Through dbt: attribution, restatements, exchange rates, unattributed cloud spend
# --------------------------------------------------------------------------------------------


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def test_cloud_bills_are_attributed_to_the_cent_through_dbt(paths, tmp_path):
    paths.input_dir.mkdir(parents=True, exist_ok=True)
    (paths.input_dir / "workspaces.csv").write_text(
        f"provider,project_id,workspace\naws.bedrock,{AWS_ACCOUNT},support\ngcp.vertex_ai,{GCP_PROJECT},search\n"
    )
    (paths.input_dir / "fx_rates.csv").write_text(
        "currency,date,usd_per_unit\nEUR,2026-10-01,1.05\nEUR,2026-11-02,1.10\n"
    )
    # First delivery of November (AWS), then a re-delivery that restates the 2nd and drops a row.
    first = focus_dir(paths, "2026-11-03")
    write_parquet(
        first / "part-0.parquet",
        [
            aws_row("2026-11-01", "2.00", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-02", "5.00", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-02", "7.00", service="Amazon Bedrock", usage_type=NOVA_IN),
        ],
        AWS_ALL,
    )
    second = focus_dir(paths, "2026-11-05")
    write_parquet(
        second / "part-0.parquet",
        [
            aws_row("2026-11-01", "2.00", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-02", "4.1234567", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-02", "0.0000004", service=CLAUDE, usage_type=CLAUDE_CACHE),
            # Tagged for a workspace that made no call in the account: it lands there.
            aws_row(
                "2026-11-02", "0.50", service=CLAUDE, usage_type=CLAUDE_OUT, Tags={"user:costline-workspace": "legal"}
            ),
        ],
        AWS_ALL,
    )
    write_csv(
        second / "azure.csv",
        [
            azure_row("2026-11-01", "1.00", meter="gpt-4o-mini-0718-Inp-glbl Tokens"),
            azure_row("2026-11-02", "2.00", meter="gpt-4o-mini-0718-Inp-glbl Tokens"),
        ],
        AZURE_ALL,
    )
    # No telemetry at all for Vertex: its bill goes to the mapped workspace, with the tag's.
    write_csv(
        second / "gcp.csv",
        [gcp_row("2026-11-02", "0.80", meter="Gemini 2.5 Flash Input Text Tokens")],
        FOCUS_13_COLUMNS,
    )

    calls = [
        call("b1", "r1", "2026-11-01T10:00:00", provider="aws.bedrock", model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
             workspace="support", feature="triage", project_id=AWS_ACCOUNT, cost_usd=Decimal("0.010000")),
        call("b2", "r2", "2026-11-02T10:00:00", provider="aws.bedrock", model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
             workspace="support", feature="triage", project_id=AWS_ACCOUNT, cost_usd=Decimal("0.030000")),
        call("b3", "r3", "2026-11-02T11:00:00", provider="aws.bedrock", model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
             workspace="support", feature="summaries", project_id=AWS_ACCOUNT, cost_usd=Decimal("0.010000")),
        call("a1", "r4", "2026-11-01T10:00:00", provider="azure.ai.openai", model="gpt-4o-mini-2024-07-18",
             workspace="ops", feature="triage", project_id=AZURE_SUBSCRIPTION, cost_usd=Decimal("0.001000")),
        call("a2", "r5", "2026-11-02T10:00:00", provider="azure.ai.openai", model="gpt-4o-mini-2024-07-18",
             workspace="ops", feature="triage", project_id=AZURE_SUBSCRIPTION, cost_usd=Decimal("0.001000")),
        call("a3", "r6", "2026-11-02T12:00:00", provider="azure.ai.openai", model="gpt-4o-mini-2024-07-18",
             workspace="ops", feature="search", project_id=AZURE_SUBSCRIPTION, cost_usd=Decimal("0.003000")),
    ]  # fmt: skip
    with connect(paths.warehouse_db) as con:
        load_reference_inputs(con, paths, "ref")
        assert FocusExports().load(con, paths, [date(2026, 11, 5)], "focus").quarantined == 0
        insert_rows(con, "telemetry_calls", calls)
    run_dbt(["build"], paths.warehouse_dir, tmp_path)

    # The bill, computed here from the files: the latest delivery of each period, EUR at the
    # rate in force on the day, each bill line rounded to the micro-dollar once.
    expected = {
        (date(2026, 11, 1), "aws.bedrock"): Decimal("2.00"),
        (date(2026, 11, 2), "aws.bedrock"): Decimal("4.1234567") + Decimal("0.0000004") + Decimal("0.50"),
        (date(2026, 11, 1), "azure.ai.openai"): Decimal("1.00") * Decimal("1.05"),
        (date(2026, 11, 2), "azure.ai.openai"): Decimal("2.00") * Decimal("1.10"),
        (date(2026, 11, 2), "gcp.vertex_ai"): Decimal("0.80"),
    }
    with duckdb.connect(str(paths.warehouse_db), read_only=True) as con:
        spend = dict(
            ((d, p), c)
            for d, p, c in con.execute(
                "select day, provider, sum(cost_usd) from marts.daily_spend group by 1, 2"
            ).fetchall()
        )
        assert {k: _cents(v) for k, v in spend.items()} == {k: _cents(v) for k, v in expected.items()}
        reconciliation = {
            (d, p): (billed, mart)
            for d, p, billed, mart in con.execute(
                "select day, provider, billed_cost_usd, mart_cost_usd from marts.billing_reconciliation"
            ).fetchall()
        }
        for key, total in spend.items():
            assert reconciliation[key] == (total, total), key  # exact, to the micro-dollar
        # Nov 2 Bedrock: Claude 4.123457 (4.1234567 + 0.0000004 is one line) spread 3:1 over
        # b2, b3; the 'legal' line has no call of legal, so it is legal's, unattributed.
        per_call = dict(con.execute("select call_id, cost_usd from intermediate.int_calls_attributed").fetchall())
        assert per_call["b2"] + per_call["b3"] == Decimal("4.123457")
        assert per_call["b2"] == Decimal("3.092593")
        # Azure's rows are tagged feature triage: Nov 2's bill is a2's, not a3's (search).
        assert (per_call["a2"], per_call["a3"]) == (Decimal("2.200000"), Decimal("0.000000"))
        unattributed = sorted(
            con.execute(
                "select day, provider, workspace, feature, model, cost_usd from intermediate.int_billing_costs_unattributed"
            ).fetchall()
        )
        assert unattributed == [
            (date(2026, 11, 2), "aws.bedrock", "legal", "(unattributed)", "claude-sonnet-4-5", Decimal("0.500000")),
            (date(2026, 11, 2), "gcp.vertex_ai", "search", "(unattributed)", "gemini-2.5-flash", Decimal("0.800000")),
        ]
        # The restated Nova row of the first delivery is gone with it.
        assert con.execute(
            "select count(*) from staging.stg_billing__focus_costs where service_name = 'Amazon Bedrock'"
        ).fetchone() == (0,)


def test_an_export_in_a_currency_without_a_rate_is_held_back_with_a_warning(paths, tmp_path):
    folder = focus_dir(paths, "2026-11-05")
    write_csv(folder / "azure.csv", [azure_row("2026-11-02", "2.00", meter="gpt-4o-mini", currency="SEK")], AZURE_ALL)
    with connect(paths.warehouse_db) as con:
        load_reference_inputs(con, paths, "ref")
        FocusExports().load(con, paths, [date(2026, 11, 5)], "focus")
    result = run_dbt(["build"], paths.warehouse_dir, tmp_path)
    assert "focus_rows_without_fx_rate" in result.stdout and "WARN" in result.stdout
    with duckdb.connect(str(paths.warehouse_db), read_only=True) as con:
        assert con.execute("select count(*) from intermediate.int_billing_lines").fetchone() == (0,)


def test_a_folder_reload_names_every_day_of_the_restated_period(paths):
    """The dbt window of the run must reach the days a re-delivered month restates."""
    first = focus_dir(paths, "2026-11-03")
    write_csv(first / "p.csv", [aws_row("2026-11-01", "1", service=CLAUDE, usage_type=CLAUDE_IN)], AWS_ALL)
    with connect(paths.warehouse_db) as con:
        load_focus_folder(con, paths.input_dir, first, date(2026, 11, 3), "l1")
        second = focus_dir(paths, "2026-11-09")
        write_csv(second / "p.csv", [aws_row("2026-11-08", "1", service=CLAUDE, usage_type=CLAUDE_IN)], AWS_ALL)
        load_focus_folder(con, paths.input_dir, second, date(2026, 11, 9), "l2")
        # The second delivery states November again: Nov 1 (only in the first) must be rebuilt.
        assert rows(
            con, "select min(min_event_day), max(max_event_day) from raw.source_files where load_id = 'l2'"
        ) == [(date(2026, 11, 1), date(2026, 11, 8))]


@pytest.mark.pipeline
def test_costline_run_bills_cloud_calls_and_takes_a_restated_month(paths):
    """The real CLI: the FOCUS source runs in the daily job, the gate passes, a re-delivery a few
    days later restates an earlier day of the month in the published mart."""
    telemetry = paths.telemetry_dir / "2026-11-02"
    telemetry.mkdir(parents=True)
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    records = [
        {"call_id": f"c{i}", "request_id": f"r{i}", "started_at": f"2026-11-02T1{i}:00:00Z", "provider": "aws.bedrock",
         "model": model, "input_tokens": 1000 * (i + 1), "output_tokens": 100, "workspace": "support",
         "feature": "triage", "project_id": AWS_ACCOUNT}
        for i in range(3)
    ]  # fmt: skip
    (telemetry / "calls.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (paths.input_dir / "workspaces.csv").write_text(
        f"provider,project_id,workspace\naws.bedrock,{AWS_ACCOUNT},support\n"
    )
    write_parquet(
        focus_dir(paths, "2026-11-03") / "part-00001.parquet",
        [
            aws_row("2026-11-01", "3.25", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-02", "1.50", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-02", "0.2500001", service=CLAUDE, usage_type=CLAUDE_OUT),
        ],
        AWS_ALL,
    )
    run_costline(
        "run", "--date", "2026-11-02", input_dir=paths.input_dir, warehouse_dir=paths.warehouse_dir, check=True
    )

    def mart_bedrock() -> dict:
        with duckdb.connect(str(paths.mart_db), read_only=True) as con:
            return dict(
                con.execute(
                    "select day, sum(cost_usd) from daily_spend where provider = 'aws.bedrock' group by 1"
                ).fetchall()
            )

    assert mart_bedrock() == {date(2026, 11, 1): Decimal("3.250000"), date(2026, 11, 2): Decimal("1.750000")}

    # AWS re-delivers November: Nov 2 restated. The run of Nov 6 rebuilds Nov 1-6.
    (paths.telemetry_dir / "2026-11-06").mkdir()
    write_parquet(
        focus_dir(paths, "2026-11-06") / "part-00001.parquet",
        [
            aws_row("2026-11-01", "3.25", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-02", "1.10", service=CLAUDE, usage_type=CLAUDE_IN),
            aws_row("2026-11-05", "0.40", service=CLAUDE, usage_type=CLAUDE_IN),
        ],
        AWS_ALL,
    )
    run_costline(
        "run", "--date", "2026-11-06", input_dir=paths.input_dir, warehouse_dir=paths.warehouse_dir, check=True
    )
    assert mart_bedrock() == {
        date(2026, 11, 1): Decimal("3.250000"),
        date(2026, 11, 2): Decimal("1.100000"),
        date(2026, 11, 5): Decimal("0.400000"),
    }
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        calls_cost = con.execute(
            "select sum(cost_usd) from daily_spend where day = '2026-11-02' and feature = 'triage'"
        ).fetchone()[0]
        billed = con.execute(
            "select billed_cost_usd, mart_cost_usd from billing_reconciliation where day = '2026-11-02'"
        ).fetchone()
    assert calls_cost == Decimal("1.100000")  # all of Nov 2 went to the three calls
    assert billed == (Decimal("1.100000"), Decimal("1.100000"))
    status = run_costline("status", input_dir=paths.input_dir, warehouse_dir=paths.warehouse_dir, check=True)
    assert "6 from FOCUS exports" in status.stdout  # 3 rows in each of the two deliveries

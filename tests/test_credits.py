"""Credits built for real: a $500 credit on a $40 day, on a hand-made warehouse (dbt build).

Figures are worked out by hand from the rows below. The end-to-end run through the CLI and
the quality gate is tests/test_pipeline.py::test_a_credit_larger_than_the_day_publishes.
"""

from decimal import Decimal

import pytest
from dbt_fixtures import bill, call, create_warehouse, insert_rows, query, run_dbt

from ingestion.warehouse import connect

pytestmark = pytest.mark.pipeline

DAY = "2025-03-01"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    warehouse_dir = tmp_path_factory.mktemp("warehouse")
    db_path = create_warehouse(warehouse_dir)
    with connect(db_path) as con:
        insert_rows(
            con,
            "workspaces",
            [{"provider": "openai", "project_id": "proj_q", "workspace": "research", "source_line": 1}],
        )
        # $40 of usage: the callers' own costs, billed as they were.
        insert_rows(
            con,
            "telemetry_calls",
            [
                call("c1", "r1", f"{DAY}T10:00:00", project_id="proj_a", feature="chat", cost_usd="10.00"),
                call("c2", "r2", f"{DAY}T11:00:00", project_id="proj_a", feature="search", cost_usd="10.00"),
                call("c3", "r3", f"{DAY}T12:00:00", project_id="proj_b", workspace="team-b", cost_usd="20.00"),
            ],
        )
        insert_rows(
            con,
            "billing_costs",
            [
                bill("openai", DAY, "proj_a", "20.000000", line_item="gpt-4o, input"),
                bill("openai", DAY, "proj_b", "20.000000", line_item="gpt-4o, input"),
                # an org-level promotional credit, larger than the whole day
                bill("openai", DAY, None, "-500.000000", line_item="Promotional credit"),
                # a credit of a mapped scope with no usage that day
                bill("openai", DAY, "proj_q", "-2.000000", line_item="credit adjustment"),
            ],
        )
    run_dbt(["build", "--exclude", "test_type:unit"], warehouse_dir, tmp_path_factory.mktemp("dbt"))
    return db_path


def test_usage_cost_stays_the_usage_bill_and_credits_follow_it_pro_rata(built):
    rows = query(
        built,
        """select workspace, feature, cost_usd, credits_usd, net_cost_usd from marts.daily_spend
           order by workspace, feature""",
    )
    # -500 over usage 10 : 10 : 20 -> -125 / -125 / -250; proj_q's -2 to research, mapped.
    assert rows == [
        ("research", "(unattributed)", Decimal("0"), Decimal("-2.000000"), Decimal("-2.000000")),
        ("team-a", "chat", Decimal("10.000000"), Decimal("-125.000000"), Decimal("-115.000000")),
        ("team-a", "search", Decimal("10.000000"), Decimal("-125.000000"), Decimal("-115.000000")),
        ("team-b", "chat", Decimal("20.000000"), Decimal("-250.000000"), Decimal("-230.000000")),
    ]
    hourly = query(built, "select sum(credits_usd), sum(net_cost_usd) from marts.hourly_spend")
    assert hourly == [(Decimal("-502.000000"), Decimal("-462.000000"))]


def test_usage_plus_credits_is_the_bill_nothing_lost(built):
    bill_total = query(built, "select sum(amount_usd) from raw.billing_costs")[0][0]
    net = query(built, "select sum(net_cost_usd) from marts.daily_spend")[0][0]
    assert bill_total == net == Decimal("-462.000000")
    rec = query(
        built,
        """select billed_cost_usd, credits_usd, net_billed_cost_usd, mart_cost_usd, difference_usd,
                  bill_lines, credit_lines, estimate_within_tolerance
           from marts.billing_reconciliation""",
    )
    # The estimate is the callers' $40: the usage bill matches it; the credit is no estimate error.
    assert rec == [
        (
            Decimal("40.000000"),
            Decimal("-502.000000"),
            Decimal("-462.000000"),
            Decimal("40.000000"),
            Decimal("0"),
            4,
            2,
            True,
        )
    ]


def test_summary_and_attribution_show_credits_and_net(built):
    summary = query(built, "select spend_usd, credits_usd, net_spend_usd from marts.executive_summary")
    assert summary == [(Decimal("40.000000"), Decimal("-502.000000"), Decimal("-462.000000"))]
    attribution = query(
        built,
        "select workspace, cost_usd, credits_usd, net_cost_usd from marts.workspace_attribution order by workspace",
    )
    assert attribution == [
        ("research", Decimal("0"), Decimal("-2.000000"), Decimal("-2.000000")),
        ("team-a", Decimal("20.000000"), Decimal("-250.000000"), Decimal("-230.000000")),
        ("team-b", Decimal("20.000000"), Decimal("-250.000000"), Decimal("-230.000000")),
    ]


def test_rows_built_before_credits_existed_get_zero_credits_not_null(tmp_path_factory):
    """An upgraded warehouse: daily_spend and hourly_spend gain the columns, the days the run does
    not rebuild get credits 0 and their cost as net (a backfill restates them)."""
    warehouse_dir = tmp_path_factory.mktemp("upgraded")
    db_path = create_warehouse(warehouse_dir)
    with connect(db_path) as con:
        insert_rows(con, "telemetry_calls", [call("u1", "ru1", f"{DAY}T10:00:00", cost_usd="1.50")])
    work = tmp_path_factory.mktemp("dbt-upgraded")
    run_dbt(["build", "--exclude", "test_type:unit"], warehouse_dir, work)
    with connect(db_path) as con:
        for table in ("marts.daily_spend", "marts.hourly_spend"):
            con.execute(f"alter table {table} drop column net_cost_usd")
            con.execute(f"alter table {table} drop column credits_usd")
    window = {"costline_start_day": "2025-03-05", "costline_end_day": "2025-03-05"}
    run_dbt(["build", "--exclude", "test_type:unit"], warehouse_dir, work, dbt_vars=window)
    for table in ("marts.daily_spend", "marts.hourly_spend"):
        assert query(db_path, f"select cost_usd, credits_usd, net_cost_usd from {table}") == [
            (Decimal("1.500000"), Decimal("0"), Decimal("1.500000"))
        ], table

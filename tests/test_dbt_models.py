"""The dbt project built for real on a small hand-made warehouse.

Every expected figure below was worked out by hand from the fixture rows (the arithmetic is
in the comments), never by re-running the models' SQL.
"""

import re
import shutil
from datetime import datetime
from decimal import Decimal

import pytest
from dbt_fixtures import bill, call, create_warehouse, insert_rows, outcome, price, query, run_dbt, snapshot

from ingestion.warehouse import connect

pytestmark = pytest.mark.pipeline

D1, D2, D3 = "2025-03-01", "2025-03-02", "2025-03-03"
MARTS = [
    "marts.daily_spend",
    "marts.hourly_spend",
    "marts.workspace_kpis_daily",
    "marts.budget_burn",
    "marts.workspace_attribution",
    "marts.cost_anomalies",
    "marts.billing_reconciliation",
    "marts.model_comparison",
    "marts.prompt_versions",
    "marts.deployment_impact",
    "marts.executive_summary",
    "marts.focus_costs",
]


def usd(value: str) -> Decimal:
    return Decimal(value)


def load_scenario(db_path, with_billing: bool = True) -> None:
    with connect(db_path) as con:
        insert_rows(
            con,
            "model_prices",
            [
                # gpt-4o doubles its price at 2025-03-02 12:00 (effective-dated lookup).
                price(
                    "openai",
                    "gpt-4o",
                    "2024-01-01",
                    "2025-03-02 12:00:00",
                    input_mtok="2.50",
                    output_mtok="10.00",
                    cache_read_mtok="1.25",
                ),
                price(
                    "openai",
                    "gpt-4o",
                    "2025-03-02 12:00:00",
                    "2100-01-01",
                    input_mtok="5.00",
                    output_mtok="20.00",
                    cache_read_mtok="2.50",
                ),
                price("openai", "gpt-4o-mini", "2024-01-01", "2100-01-01", input_mtok="0.15", output_mtok="0.60"),
                price(
                    "openai",
                    "o3",
                    "2024-01-01",
                    "2100-01-01",
                    input_mtok="2.00",
                    output_mtok="8.00",
                    reasoning_mtok="12.00",
                ),
                price(
                    "anthropic",
                    "claude-sonnet-4",
                    "2024-01-01",
                    "2100-01-01",
                    input_mtok="3.00",
                    output_mtok="15.00",
                    cache_read_mtok="0.30",
                    cache_write_mtok="3.75",
                    long_context_threshold=200000,
                    input_mtok_long="6.00",
                    output_mtok_long="22.50",
                    cache_read_mtok_long="0.60",
                    cache_write_mtok_long="7.50",
                ),
            ],
        )
        insert_rows(
            con,
            "workspaces",
            [
                {"provider": "openai", "project_id": "proj_a", "workspace": "team-a", "source_line": 1},
                {"provider": "openai", "project_id": "proj_a2", "workspace": "team-a", "source_line": 2},
                {"provider": "openai", "project_id": "proj_x", "workspace": "research", "source_line": 3},
            ],
        )
        insert_rows(
            con,
            "budgets",
            [
                {
                    "workspace": "team-a",
                    "month": "*",
                    "monthly_budget_usd": Decimal("100"),
                    "hard_limit": False,
                    "source_line": 1,
                },
                {
                    "workspace": "team-a",
                    "month": "2025-03",
                    "monthly_budget_usd": Decimal("10"),
                    "hard_limit": True,
                    "source_line": 2,
                },
                {
                    "workspace": "team-b",
                    "month": "*",
                    "monthly_budget_usd": Decimal("50"),
                    "hard_limit": False,
                    "source_line": 3,
                },
            ],
        )
        insert_rows(
            con,
            "telemetry_calls",
            [
                # team-a chat gpt-4o, request ra1: (800 x 2.50 + 200 x 1.25 + 500 x 10) / 1e6 = 0.007250
                call(
                    "a1",
                    "ra1",
                    f"{D1} 10:00:00",
                    project_id="proj_a",
                    input_tokens=1000,
                    cache_read_input_tokens=200,
                    output_tokens=500,
                    prompt_version="v1",
                ),
                # its retry on the batch tier: (1000 x 2.50 + 500 x 10) x 0.5 / 1e6 = 0.003750
                call(
                    "a2",
                    "ra1",
                    f"{D1} 10:01:00",
                    attempt=2,
                    service_tier="batch",
                    project_id="proj_a",
                    input_tokens=1000,
                    output_tokens=500,
                    prompt_version="v1",
                ),
                # failed gpt-4o-mini call: (10000 x 0.15 + 1000 x 0.60) / 1e6 = 0.002100
                call(
                    "a3",
                    "ra2",
                    f"{D1} 11:00:00",
                    model="gpt-4o-mini",
                    status="error",
                    error_type="timeout",
                    project_id="proj_a",
                    input_tokens=10000,
                    output_tokens=1000,
                ),
                # no project_id: scope from workspaces.csv (min of proj_a, proj_a2): 2000 x 2.50 = 0.005000
                call("a4", "ra3", f"{D1} 12:00:00", feature="search", input_tokens=2000),
                # caller-reported cost for a model with no price: 0.040000
                call(
                    "d1",
                    "rd1",
                    f"{D1} 14:00:00",
                    model="custom-llm",
                    project_id="proj_a",
                    input_tokens=10,
                    output_tokens=10,
                    cost_usd="0.040000",
                ),
                # no price, no caller cost: estimated 0, unpriced
                call("e1", "re1", f"{D1} 15:00:00", model="mystery-model", project_id="proj_a", input_tokens=10),
                # o3 with a reasoning price: 1000 x 2 + (2000 - 1500) x 8 + 1500 x 12 = 24000 -> 0.024000
                call(
                    "b1",
                    "rb1",
                    f"{D1} 13:00:00",
                    workspace="team-b",
                    model="o3",
                    project_id="proj_b",
                    input_tokens=1000,
                    output_tokens=2000,
                    reasoning_output_tokens=1500,
                ),
                # proj_c has no bill line on a billed day: cost 0 (estimate 1000 x 2.5 + 100 x 10 = 0.003500)
                call(
                    "c1",
                    "rc1",
                    f"{D1} 23:59:30",
                    workspace="team-c",
                    project_id="proj_c",
                    input_tokens=1000,
                    output_tokens=100,
                ),
                # ...retried after midnight: a call of day 2, at the old price, unbilled day: 0.003500
                call(
                    "c2",
                    "rc1",
                    f"{D2} 00:00:20",
                    attempt=2,
                    workspace="team-c",
                    project_id="proj_c",
                    input_tokens=1000,
                    output_tokens=100,
                ),
                # anthropic, long context (250000 > 200000): all _long prices:
                # 200000 x 6 + 50000 x 0.60 + 1000 x 22.50 = 1252500 -> 1.252500
                call(
                    "s1",
                    "rs1",
                    f"{D1} 09:00:00",
                    provider="anthropic",
                    model="claude-sonnet-4",
                    workspace="team-b",
                    feature="summarize",
                    input_tokens=250000,
                    cache_read_input_tokens=50000,
                    output_tokens=1000,
                ),
                # short: 600 x 3 + 400 x 3.75 + 100 x 15 = 4800 -> 0.004800
                call(
                    "s2",
                    "rs2",
                    f"{D1} 09:30:00",
                    provider="anthropic",
                    model="claude-sonnet-4",
                    workspace="team-b",
                    feature="summarize",
                    input_tokens=1000,
                    cache_creation_input_tokens=400,
                    output_tokens=100,
                ),
                # day 2, gpt-4o either side of the price change:
                # 11:59:59 old: 1000 x 2.5 + 500 x 10 = 0.007500; 13:00 new: 1000 x 5 + 500 x 20 = 0.015000
                call("f2", "rf2", f"{D2} 11:59:59", input_tokens=1000, output_tokens=500, prompt_version="v1"),
                call("f1", "rf1", f"{D2} 13:00:00", input_tokens=1000, output_tokens=500, prompt_version="v1"),
                # day 3, one team-b call: 1000 x 0.15 = 0.000150
                call("h1", "rh1", f"{D3} 08:00:00", workspace="team-b", model="gpt-4o-mini", input_tokens=1000),
            ],
        )
        insert_rows(
            con,
            "outcomes",
            [
                outcome("ra1", f"{D1} 10:05:00", "thumbs", "up"),
                outcome("ra2", f"{D1} 11:05:00", "resolution", "unresolved"),
                outcome("rb1", f"{D1} 13:05:00", "eval", "0.8"),
                outcome("rc1", f"{D2} 00:05:00", "eval", "0.5"),
                outcome("rd1", f"{D1} 14:05:00", "resolution", "resolved"),
                outcome("rd1", f"{D1} 14:06:00", "thumbs", "down", source_line=2),
                outcome("rs1", f"{D1} 09:05:00", "thumbs", "down"),
                outcome("rf1", f"{D2} 13:05:00", "thumbs", "up"),
                # not a thumbs value: ignored, and listed as an input issue
                outcome("re1", f"{D1} 15:05:00", "thumbs", "maybe"),
            ],
        )
        insert_rows(
            con,
            "deployments",
            [
                {
                    "deployed_at": datetime(2025, 3, 2, 12, 0),
                    "scope": "team-a",
                    "version": "2.0",
                    "description": "bigger prompt",
                    "source_file": "deployments.csv",
                    "source_line": 1,
                },
                {
                    "deployed_at": datetime(2025, 3, 2, 12, 0),
                    "scope": "no-such-feature",
                    "version": "1.1",
                    "description": None,
                    "source_file": "deployments.csv",
                    "source_line": 2,
                },
            ],
        )
        if with_billing:
            insert_rows(
                con,
                "billing_costs",
                [
                    bill("openai", D1, "proj_a", "0.050000"),
                    # a dated snapshot of o3: goes to proj_b's o3 calls
                    bill("openai", D1, "proj_b", "0.030000", model="o3-2025-04-16"),
                    # billed scopes without calls: mapped (research) and unmapped
                    bill("openai", D1, "proj_x", "1.250000"),
                    bill("openai", D1, "proj_y", "0.750000", model="gpt-4o-2024-08-06"),
                ],
            )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The scenario built once with a plain `dbt build` (no window: every day)."""
    warehouse_dir = tmp_path_factory.mktemp("warehouse")
    db_path = create_warehouse(warehouse_dir)
    load_scenario(db_path)
    run_dbt(["build"], warehouse_dir, tmp_path_factory.mktemp("dbt"))
    return db_path


def daily(db_path, day, workspace, feature, model, columns):
    rows = query(
        db_path,
        f"select {columns} from marts.daily_spend where day = ? and workspace = ? and feature = ? and model = ?",
        [day, workspace, feature, model],
    )
    assert len(rows) == 1, (day, workspace, feature, model, rows)
    return rows[0]


def test_estimates_price_each_tier_and_rule(built):
    rows = dict(query(built, "select call_id, estimated_cost_usd from intermediate.int_calls_priced"))
    assert rows == {
        "a1": usd("0.007250"),
        "a2": usd("0.003750"),
        "a3": usd("0.002100"),
        "a4": usd("0.005000"),
        "d1": usd("0.040000"),
        "e1": usd("0.000000"),
        "b1": usd("0.024000"),
        "c1": usd("0.003500"),
        "c2": usd("0.003500"),
        "s1": usd("1.252500"),
        "s2": usd("0.004800"),
        "f2": usd("0.007500"),
        "f1": usd("0.015000"),
        "h1": usd("0.000150"),
    }
    unpriced = query(built, "select call_id from intermediate.int_calls_priced where not is_priced")
    assert unpriced == [("e1",)]


def test_bill_is_spread_exactly_over_its_scope(built):
    costs = dict(query(built, "select call_id, cost_usd from intermediate.int_calls_attributed where day = ?", [D1]))
    # proj_a bills $0.05 over a1..e1 with weights 7250, 3750, 2100, 5000, 40000, 0 (= 58100):
    # floors 6239, 3227, 1807, 4302, 34423, 0 (= 49998 micro); the 2 left go to the largest
    # remainders (a4: 53800 / 58100, d1: 23700 / 58100).
    assert costs["a1"] == usd("0.006239")
    assert costs["a2"] == usd("0.003227")
    assert costs["a3"] == usd("0.001807")
    assert costs["a4"] == usd("0.004303")
    assert costs["d1"] == usd("0.034424")
    assert costs["e1"] == usd("0")
    assert costs["b1"] == usd("0.030000")  # the o3 snapshot line, all of it
    assert costs["c1"] == usd("0")  # billed day, no line for proj_c
    assert costs["s1"] == usd("1.252500")  # anthropic has no bill: the estimate
    billed = query(built, "select sum(cost_usd) from marts.daily_spend where day = ? and provider = 'openai'", [D1])
    assert billed == [(usd("2.080000"),)]  # 0.05 + 0.03 + 1.25 + 0.75


def test_unattributed_scopes_go_to_mapped_or_unattributed_workspace(built):
    rows = query(
        built,
        """select workspace, feature, model, cost_usd, api_calls, hour
                           from marts.hourly_spend where feature = '(unattributed)' order by workspace""",
    )
    assert [(w, f, m, c, n, str(h)) for w, f, m, c, n, h in rows] == [
        ("research", "(unattributed)", "(unattributed)", usd("1.250000"), 0, f"{D1} 00:00:00"),
        ("unattributed", "(unattributed)", "gpt-4o-2024-08-06", usd("0.750000"), 0, f"{D1} 00:00:00"),
    ]


def test_daily_spend_counts_calls_requests_and_outcomes(built):
    # ra1: a1 + a2 (retry), thumbs up. cost 0.006239 + 0.003227; retry cost = a2.
    assert daily(
        built,
        D1,
        "team-a",
        "chat",
        "gpt-4o",
        "api_calls, requests, retry_calls, successful_requests, labelled_requests, "
        "estimated_cost_usd, cost_usd, retry_cost_usd, avg_cost_per_request_usd, cost_per_success_usd",
    ) == (2, 1, 1, 1, 1, usd("0.011000"), usd("0.009466"), usd("0.003227"), usd("0.009466"), usd("0.009466"))
    # a3 failed: its whole cost is retry cost; the request failed (resolution unresolved).
    assert daily(
        built,
        D1,
        "team-a",
        "chat",
        "gpt-4o-mini",
        "api_calls, error_calls, failed_requests, cost_usd, retry_cost_usd, cost_per_success_usd",
    ) == (1, 1, 1, usd("0.001807"), usd("0.001807"), None)
    # ra3 has no outcome: counted in cost, not as success.
    assert daily(
        built,
        D1,
        "team-a",
        "search",
        "gpt-4o",
        "requests, successful_requests, labelled_requests, cost_usd, cost_per_success_usd",
    ) == (1, 0, 0, usd("0.004303"), None)
    # rc1 starts 23:59:30 on day 1 and retries after midnight: the request is day 1's,
    # the retry call and its cost are day 2's (day 2 unbilled: the estimate).
    assert daily(built, D1, "team-c", "chat", "gpt-4o", "api_calls, requests, cost_usd, estimated_cost_usd") == (
        1,
        1,
        usd("0"),
        usd("0.003500"),
    )
    assert daily(built, D2, "team-c", "chat", "gpt-4o", "api_calls, requests, retry_calls, cost_usd") == (
        1,
        0,
        1,
        usd("0.003500"),
    )
    attempts = query(
        built, "select day, attempts, outcome from intermediate.int_requests_resolved where request_id = 'rc1'"
    )
    assert [(str(d), a, o) for d, a, o in attempts] == [(D1, 2, "failure")]
    # rd1: resolved, then a later thumbs down: the resolution wins.
    assert daily(built, D1, "team-a", "chat", "custom-llm", "successful_requests, cost_usd") == (1, usd("0.034424"))


def test_workspace_kpis_budget_and_summary(built):
    kpis = query(
        built,
        """select cost_usd, api_calls, requests, successful_requests, labelled_requests,
                                  cost_per_success_usd, retry_rate, retry_cost_share
                           from marts.workspace_kpis_daily where day = ? and workspace = 'team-a'""",
        [D1],
    )
    # team-a day 1 carries proj_a's whole bill: 0.050000 over 6 calls and 5 requests;
    # successes ra1, rd1; labelled ra1, ra2, rd1; retry calls a2 (1 of 6);
    # retry cost a2 + a3 = 0.003227 + 0.001807 = 0.005034.
    cost, calls, requests, successes, labelled, per_success, retry_rate, retry_share = kpis[0]
    assert (cost, calls, requests, successes, labelled, per_success) == (usd("0.050000"), 6, 5, 2, 3, usd("0.025000"))
    assert retry_rate == pytest.approx(1 / 6)
    assert retry_share == pytest.approx(0.005034 / 0.05)

    burn = query(
        built,
        """select day, monthly_budget_usd, spend_to_date_usd, projected_month_end_usd, status
                           from marts.budget_burn where workspace = 'team-a' order by day""",
    )
    # The 2025-03 row ($10) beats '*' ($100). Last loaded day is the 3rd: rows for days 1-3.
    # Day 2: 0.05 + 0.0075 + 0.015 = 0.0725; projected 0.0725 / 2 x 31 = 1.12375 -> 1.123750.
    assert [(str(d), b, s, p, st) for d, b, s, p, st in burn] == [
        (D1, usd("10"), usd("0.050000"), usd("1.550000"), "ok"),
        (D2, usd("10"), usd("0.072500"), usd("1.123750"), "ok"),
        (D3, usd("10"), usd("0.072500"), usd("0.749167"), "ok"),
    ]
    summary = query(
        built,
        """select spend_usd, budget_usd, projected_month_end_usd, requests, successful_requests
                              from marts.executive_summary where month = '2025-03'""",
    )
    # openai day 1 bill 2.08 + anthropic 1.2525 + 0.0048 + day 2 (0.0035 + 0.0075 + 0.015)
    # + day 3 0.00015 = 3.36345; budgets 10 (team-a, month row) + 50 (team-b) = 60;
    # projected 3.36345 / 3 x 31 = 34.75565; requests ra1-3, rb1, rc1, rd1, re1, rs1-2, rf1-2,
    # rh1; successes ra1 (thumbs up), rb1 (eval 0.8), rd1 (resolved), rf1 (thumbs up).
    assert summary == [(usd("3.363450"), usd("60.000000"), usd("34.755650"), 12, 4)]


def test_billing_reconciliation(built):
    rows = query(
        built,
        """select day, provider, billed_cost_usd, estimated_cost_usd, difference_usd,
                                  unattributed_cost_usd, mart_cost_usd
                           from marts.billing_reconciliation""",
    )
    # estimated: a1..e1 0.0581 + b1 0.024 + c1 0.0035 = 0.0856
    assert [(str(r[0]), *r[1:]) for r in rows] == [
        (D1, "openai", usd("2.080000"), usd("0.085600"), usd("1.994400"), usd("2.000000"), usd("2.080000"))
    ]


def test_deployment_impact_and_token_inflation(built):
    impact = query(
        built,
        """select scope_kind, requests_before, requests_after, cost_per_request_before_usd,
                                    cost_per_request_after_usd, success_rate_before, success_rate_after, flagged
                             from marts.deployment_impact where scope = 'team-a'""",
    )
    # 24 h before 2025-03-02 12:00 in team-a: a4 0.004303 (12:00), d1 0.034424, e1 0, f2 0.0075
    # = 0.046227 over ra3, rd1, re1, rf2 -> 0.01155675 -> 0.011557; after: f1 0.015 over rf1.
    # Labelled before: rd1 (success); after: rf1 (success). +29.8 % > 25 %: flagged.
    assert impact == [("workspace", 4, 1, usd("0.011557"), usd("0.015000"), 1.0, 1.0, True)]
    unmatched = query(built, "select scope_kind, flagged from marts.deployment_impact where scope = 'no-such-feature'")
    assert unmatched == [("unmatched", False)]
    # chat in team-a: (20 + 10 + 1500) tokens / 3 requests = 510 before, 1500 / 1 after, success
    # rate 100 % both sides: token inflation without a success gain.
    inflation = query(
        built,
        """select detected_at, workspace, feature, subject, observed, baseline
                                from marts.cost_anomalies where kind = 'token_inflation'""",
    )
    assert [(str(r[0]), *r[1:]) for r in inflation] == [
        (f"{D2} 00:00:00", "team-a", "chat", "deployment 2.0 (team-a)", usd("1500"), usd("510"))
    ]


def test_input_issues_are_listed_not_dropped(built):
    issues = query(built, "select input, issue, record_key from intermediate.int_input_issues_collected order by all")
    assert issues == [
        ("deployments", "deployment_scope_unmatched", "no-such-feature@2025-03-02 12:00:00"),
        ("outcomes", "invalid_outcome_value", "thumbs:maybe"),
        ("telemetry", "no_list_price", "openai/mystery-model"),
    ]


def test_windowed_rerun_replaces_only_its_days_and_is_idempotent(built, tmp_path):
    warehouse_dir = tmp_path / "warehouse"
    warehouse_dir.mkdir()
    db_path = warehouse_dir / "warehouse.duckdb"
    shutil.copy(built, db_path)
    day1_before = query(db_path, "select * from marts.daily_spend where day = ? order by all", [D1])

    with connect(db_path) as con:
        # Day 1 changes in raw but is outside the window: its marts must not move.
        con.execute("update raw.telemetry_calls set input_tokens = 999999 where call_id = 'a1'")
        # Day 2: f2 disappears, g1 arrives (gpt-4o-mini 2000 x 0.15 + 1000 x 0.60 = 0.000900).
        con.execute("delete from raw.telemetry_calls where call_id = 'f2'")
        insert_rows(
            con,
            "telemetry_calls",
            [
                call("g1", "rg1", f"{D2} 16:00:00", model="gpt-4o-mini", input_tokens=2000, output_tokens=1000),
                # A late retry of day 1's rb1 and a late outcome for day 1's ra3, loaded on day 2.
                call(
                    "b2",
                    "rb1",
                    f"{D2} 09:00:00",
                    attempt=2,
                    workspace="team-b",
                    model="o3",
                    project_id="proj_b",
                    input_tokens=1000,
                ),
            ],
        )
        insert_rows(con, "outcomes", [outcome("ra3", f"{D2} 08:00:00", "resolution", "resolved", source_folder=D2)])
        # Day 3: every call vanished; the window must empty it.
        con.execute("delete from raw.telemetry_calls where call_id = 'h1'")

    window = {"costline_start_day": D2, "costline_end_day": D3}
    run_dbt(["build"], warehouse_dir, tmp_path / "dbt", dbt_vars=window)

    day1_after = query(
        db_path,
        "select * from marts.daily_spend where day = ? and not (workspace = 'team-a' and feature = 'search') order by all",
        [D1],
    )
    assert day1_after == [row for row in day1_before if not (row[2] == "team-a" and row[3] == "search")]
    # The late resolution re-opened ra3: day 1 now counts it as a success.
    assert daily(db_path, D1, "team-a", "search", "gpt-4o", "successful_requests, cost_usd") == (1, usd("0.004303"))
    assert query(db_path, "select attempts from intermediate.int_requests_resolved where request_id = 'rb1'") == [(2,)]
    # Day 2: c2 0.0035 + f1 0.015 + g1 0.0009 + b2 1000 x 2 = 0.002 -> 0.0214.
    assert query(
        db_path, "select sum(cost_usd), sum(api_calls), sum(requests) from marts.daily_spend where day = ?", [D2]
    ) == [(usd("0.021400"), 4, 2)]
    assert query(db_path, "select sum(cost_usd) from marts.hourly_spend where day = ?", [D2]) == [(usd("0.021400"),)]
    for table in [
        "marts.daily_spend",
        "marts.hourly_spend",
        "intermediate.int_calls_attributed",
        "intermediate.int_requests_resolved",
        "intermediate.int_spend_hourly",
    ]:
        assert query(db_path, f"select count(*) from {table} where day = ?", [D3]) == [(0,)], table
    # focus_costs follows the window too: day 3 emptied, day 2 re-summed, day 1 untouched.
    assert query(
        db_path,
        'select cast("ChargePeriodStart" as date), sum("BilledCost") from marts.focus_costs group by 1 order by 1',
    ) == query(db_path, "select day, sum(cost_usd) from marts.daily_spend group by 1 order by 1")
    assert query(db_path, 'select count(*) from marts.focus_costs where "ChargePeriodStart" = ?', [D3]) == [(0,)]

    before = snapshot(db_path, MARTS)
    run_dbt(["build"], warehouse_dir, tmp_path / "dbt", dbt_vars=window)
    assert snapshot(db_path, MARTS) == before


def test_without_billing_cost_is_the_estimate(tmp_path):
    warehouse_dir = tmp_path / "warehouse"
    warehouse_dir.mkdir()
    db_path = create_warehouse(warehouse_dir)
    load_scenario(db_path, with_billing=False)
    run_dbt(["build", "--exclude", "test_type:unit"], warehouse_dir, tmp_path / "dbt")
    totals = query(
        db_path,
        """select sum(cost_usd), sum(estimated_cost_usd), sum(unattributed_cost_usd)
                               from marts.daily_spend""",
    )
    # Sum of every estimate in the scenario (see test_estimates_price_each_tier_and_rule).
    assert totals == [(usd("1.369050"), usd("1.369050"), usd("0"))]
    assert query(db_path, "select count(*) from marts.billing_reconciliation") == [(0,)]


def test_dbt_unit_tests_pass(built, tmp_path):
    # A failing unit test makes dbt exit non-zero, which run_dbt turns into a test failure.
    result = run_dbt(["test", "--select", "test_type:unit"], built.parent, tmp_path / "dbt")
    passed = re.findall(r"\d+ of \d+ PASS \S+::\S+", result.stdout)
    assert len(passed) >= 8, result.stdout[-3000:]

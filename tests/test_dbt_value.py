"""Value per AI dollar and realised savings, built for real by dbt on a hand-made warehouse.

The expected figures are worked out by hand in the comments. Calls carry the caller's cost and
no bill is loaded, so each call costs exactly what it says.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from dbt_fixtures import call, create_warehouse, insert_rows, outcome, query, run_dbt

from ingestion.warehouse import connect

pytestmark = pytest.mark.pipeline

START = date(2025, 3, 1)
DAYS = 14


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    warehouse_dir = tmp_path_factory.mktemp("warehouse")
    db_path = create_warehouse(warehouse_dir)
    calls, outcomes = [], []
    # support/triage: 3 requests a day, every one a resolved ticket worth $2; gpt-4o at $0.10 a
    # request for the first 7 days, gpt-4o-mini at $0.04 from the 8th.
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        model, cost = ("gpt-4o", "0.100000") if offset < 7 else ("gpt-4o-mini", "0.040000")
        for n in range(3):
            rid = f"t{offset}-{n}"
            calls.append(
                call(
                    f"c-{rid}",
                    rid,
                    f"{day} 10:0{n}:00",
                    model=model,
                    cost_usd=cost,
                    workspace="support",
                    feature="triage",
                )
            )
            outcomes.append(outcome(rid, f"{day} 11:0{n}:00", "resolution", "resolved", value_usd="2"))
    # ...one of them also brought $5 of revenue.
    outcomes.append(outcome("t9-0", f"{START + timedelta(days=9)} 12:00:00", "revenue", "5.000000", value_usd="5"))
    # growth/search: one unresolved request sent with a value: it produced nothing.
    calls.append(call("c-s1", "s1", f"{START} 09:00:00", cost_usd="0.500000", workspace="growth", feature="search"))
    outcomes.append(outcome("s1", f"{START} 09:30:00", "resolution", "unresolved", value_usd="100"))
    with connect(db_path) as con:
        insert_rows(con, "telemetry_calls", calls)
        insert_rows(con, "outcomes", outcomes)
    run_dbt(["build"], warehouse_dir, tmp_path_factory.mktemp("dbt"))
    return db_path


def test_value_per_dollar_and_cost_per_resolved_ticket(built):
    rows = query(
        built,
        "select workspace, feature, cost_usd, successful_requests, resolved_requests, valued_requests, value_usd,"
        " cost_per_success_usd, cost_per_resolved_usd, value_per_dollar from marts.value_monthly order by workspace",
    )
    # triage: 21 x 0.10 + 21 x 0.04 = 2.94 for 42 resolved tickets (0.07 each); value 42 x 2 + 5 = 89.
    assert rows == [
        ("growth", "search", Decimal("0.5"), 0, 0, 0, Decimal("0"), None, None, None),
        (
            "support",
            "triage",
            Decimal("2.94"),
            42,
            42,
            42,
            Decimal("89"),
            Decimal("0.07"),
            Decimal("0.07"),
            pytest.approx(89 / 2.94),
        ),
    ]


def test_realised_saving_of_the_model_switch(built):
    rows = query(
        built,
        "select month, feature, change_kind, changed_from, changed_to, changed_at, window_days,"
        " cost_per_success_before_usd, cost_per_success_after_usd, successful_requests, saving_usd"
        " from marts.realised_savings",
    )
    # 7 days either side of the 8th: $0.10 then $0.04 a success; 21 successes since: 0.06 x 21.
    assert rows == [
        (
            "2025-03",
            "triage",
            "model",
            "gpt-4o",
            "gpt-4o-mini",
            date(2025, 3, 8),
            7,
            Decimal("0.1"),
            Decimal("0.04"),
            21,
            Decimal("1.26"),
        ),
    ]
    [summary] = query(
        built,
        "select month, spend_usd, value_usd, value_per_dollar, realised_savings_usd, potential_savings_usd"
        " from marts.value_summary",
    )
    # Every dollar of the month counts: 89 / (2.94 + 0.50). model_comparison sees both models in
    # March and prices the switch not yet made for gpt-4o's 21 successes: the same 0.06 x 21.
    assert summary == (
        "2025-03",
        Decimal("3.44"),
        Decimal("89"),
        pytest.approx(89 / 3.44),
        Decimal("1.26"),
        Decimal("1.26"),
    )


def test_value_unit_tests_pass(built, tmp_path):
    result = run_dbt(
        [
            "test",
            "--select",
            "realised_savings value_monthly int_request_values int_feature_changes_measured",
            "--resource-type",
            "unit_test",
        ],
        built.parent,
        tmp_path / "dbt",
    )
    assert result.stdout.count(" PASS ") >= 4, result.stdout[-3000:]

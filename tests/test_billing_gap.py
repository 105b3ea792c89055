"""billing_gap_explained built for real: one provider-day with every cause, worked by hand.

gpt-4o at $2.50 / $10.00 / $1.25 (input / output / cache read) per million tokens.

- proj_a: one call of 1M input (telemetry dropped the cache breakdown) and 100k output, estimated
  $3.50; the usage report says 400k of the input were cache reads: -400k x (1.25 - 2.50) / 1M =
  -$0.50 of cache tokens billed but not reported. Billed $3.01 (a cent no cause explains).
- proj_b: an ok call (200k in, 20k out: $0.70) and a failed call that reported no tokens; the
  usage report bills 100k input and 10k output more: $0.25 + $0.10 = $0.35 of error calls billed.
- proj_c: a call of a model with no price (estimated $0), billed $0.40: unpriced calls.
- proj_x: billed $1.25 with no call at all: billed scopes without telemetry.
- an org-level promotional credit of -$2.00: credits and adjustments.

Billed 3.01 + 1.05 + 0.40 + 1.25 - 2.00 = 3.71; estimated 3.50 + 0.70 = 4.20; gap -0.49;
causes 1.25 + 0.40 + 0.35 - 2.00 - 0.50 = -0.50; residual +0.01.
"""

from datetime import datetime
from decimal import Decimal

import pytest
from dbt_fixtures import bill, call, create_warehouse, insert_rows, price, query, run_dbt

from ingestion.warehouse import connect

pytestmark = pytest.mark.pipeline

DAY = "2025-03-01"


def usage(scope_id: str, model: str, input_tokens: int, output_tokens: int, cache_read: int = 0) -> dict:
    return {
        "provider": "openai",
        "bucket_day": datetime.fromisoformat(DAY).date(),
        "scope_id": scope_id,
        "model": model,
        "api_key_id": None,
        "requests": 1,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": 0,
        "source_page": "test-page",
        "fetched_at": datetime(2025, 3, 2, 6, 0),
    }


@pytest.fixture(scope="module")
def gap(tmp_path_factory):
    warehouse_dir = tmp_path_factory.mktemp("warehouse")
    db_path = create_warehouse(warehouse_dir)
    with connect(db_path) as con:
        insert_rows(
            con,
            "model_prices",
            [
                price(
                    "openai",
                    "gpt-4o",
                    "2024-01-01",
                    "2100-01-01",
                    input_mtok="2.50",
                    output_mtok="10.00",
                    cache_read_mtok="1.25",
                )
            ],
        )
        at = f"{DAY}T10:00:00"
        insert_rows(
            con,
            "telemetry_calls",
            [
                call("a1", "ra1", at, project_id="proj_a", input_tokens=1_000_000, output_tokens=100_000),
                call("b1", "rb1", at, project_id="proj_b", input_tokens=200_000, output_tokens=20_000),
                call("b2", "rb2", at, project_id="proj_b", status="error", error_type="timeout"),
                call("c1", "rc1", at, project_id="proj_c", model="mystery-model", input_tokens=1000),
            ],
        )
        insert_rows(
            con,
            "billing_usage",
            [
                usage("proj_a", "gpt-4o-2024-08-06", 1_000_000, 100_000, cache_read=400_000),
                usage("proj_b", "gpt-4o-2024-08-06", 300_000, 30_000),
            ],
        )
        insert_rows(
            con,
            "billing_costs",
            [
                bill("openai", DAY, "proj_a", "3.010000", model="gpt-4o-2024-08-06"),
                bill("openai", DAY, "proj_b", "1.050000", model="gpt-4o-2024-08-06"),
                bill("openai", DAY, "proj_c", "0.400000", model="mystery-model"),
                bill("openai", DAY, "proj_x", "1.250000", model="gpt-4o-2024-08-06"),
                bill("openai", DAY, None, "-2.000000", line_item="Promotional credit"),
            ],
        )
    run_dbt(["build", "--exclude", "test_type:unit"], warehouse_dir, tmp_path_factory.mktemp("dbt"))
    return db_path


def test_each_cause_is_measured_and_the_residual_is_what_is_left(gap):
    (row,) = query(
        gap,
        """select billed_cost_usd, estimated_cost_usd, gap_usd, unmonitored_scopes_usd, unpriced_calls_usd,
                  error_calls_billed_usd, credits_adjustments_usd, cache_tokens_unreported_usd,
                  tier_unreported_usd, explained_usd, residual_usd
           from marts.billing_gap_explained""",
    )
    expected = ("3.71", "4.20", "-0.49", "1.25", "0.40", "0.35", "-2.00", "-0.50", "0", "-0.50", "0.01")
    assert row == tuple(Decimal(value) for value in expected)


def test_causes_and_residual_add_up_to_the_gap_to_the_micro_dollar(gap):
    rows = query(
        gap,
        """select g.gap_usd,
                  g.unmonitored_scopes_usd + g.unpriced_calls_usd + g.error_calls_billed_usd
                  + g.credits_adjustments_usd + g.cache_tokens_unreported_usd + g.tier_unreported_usd
                  + g.residual_usd,
                  r.net_billed_cost_usd - r.estimated_cost_usd
           from marts.billing_gap_explained g join marts.billing_reconciliation r using (day, provider)""",
    )
    assert rows and all(gap_usd == causes == reconciled for gap_usd, causes, reconciled in rows)

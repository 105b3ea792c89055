"""billing_gap_explained from provider-shaped pages: the real billing clients fetch OpenAI's and
Anthropic's cost and usage reports from a local fake of their admin APIs (tests/billing_server.py),
telemetry is loaded beside them, dbt builds the mart, and every cause is found where it was put.

List prices per million tokens: gpt-4o $2.50 input / $10.00 output / $1.25 cache read;
claude-sonnet-4 $3.00 / $15.00 / $0.30 cache read / $3.75 cache write.

OpenAI, one day:
- proj_a: a call of 1M input (the cache breakdown not reported) and 100k output, estimated $3.50;
  the usage report says 400k were cached: -400k x (1.25 - 2.50) / 1M = -$0.50 (cache tokens);
  billed $2.00 input + $1.00 output.
- proj_b: an ok call (200k in, 20k out: $0.70) and a timeout that reported no tokens; usage
  bills 100k input and 10k output more: +$0.35 (error calls billed); billed $1.05.
- proj_x: $1.25 billed, no telemetry (billed scopes without telemetry).
- an org-level "Promotional credit" of -$2.00 (credits and adjustments).
  Billed 3.30, estimated 4.20, gap -0.90 = -0.50 + 0.35 + 1.25 - 2.00: residual 0.
Anthropic, the same day, workspace wrk_a:
- a Sonnet call of 100k input (breakdown not reported) and 10k output, estimated $0.45; usage:
  40k uncached, 50k cache reads, 10k cache writes: 50k x (0.30 - 3.00) / 1M + 10k x (3.75 - 3.00)
  / 1M = -$0.1275 (cache tokens); billed 12 + 1.5 + 3.75 + 15 cents = $0.3225.
- a call of a model with no price, billed 10 cents: +$0.10 (unpriced calls).
  Billed 0.4225, estimated 0.45, gap -0.0275 = -0.1275 + 0.10: residual 0.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from billing_server import ANTHROPIC_KEY, OPENAI_KEY, billing_http_server, fake_api  # noqa: F401
from dbt_fixtures import call, insert_rows, price, query, run_dbt

from ingestion.billing import HttpSettings, load_billing
from ingestion.settings import Paths
from ingestion.warehouse import connect

pytestmark = pytest.mark.pipeline

D = date(2025, 6, 2)
NOW = datetime(2025, 6, 9, 6, 30, tzinfo=UTC)
FAST = HttpSettings(connect_timeout_s=2, read_timeout_s=2, max_attempts=4, backoff_initial_s=0.001, backoff_max_s=0.01)
AT = f"{D}T10:00:00"
SNAPSHOT = "gpt-4o-2024-08-06"
SONNET = "claude-sonnet-4-20250514"


def _serve(fake_api) -> None:
    fake_api.openai_cost(D, "proj_a", f"{SNAPSHOT}, input", "2.0")
    fake_api.openai_cost(D, "proj_a", f"{SNAPSHOT}, output", "1.0")
    fake_api.openai_cost(D, "proj_b", f"{SNAPSHOT}, input", "1.05")
    fake_api.openai_cost(D, "proj_x", f"{SNAPSHOT}, input", "1.25")
    fake_api.openai_cost(D, None, "Promotional credit", "-2.0")
    fake_api.openai_usage(D, "proj_a", SNAPSHOT, "key_a", input_tokens=1_000_000, output_tokens=100_000, cached=400_000)
    fake_api.openai_usage(D, "proj_b", SNAPSHOT, "key_b", input_tokens=300_000, output_tokens=30_000, requests=2)
    fake_api.anthropic_cost(D, "wrk_a", "Claude Sonnet 4 Usage - Input Tokens", "12", model=SONNET)
    fake_api.anthropic_cost(D, "wrk_a", "Claude Sonnet 4 Usage - Input Tokens, Cache Read", "1.5", model=SONNET)
    fake_api.anthropic_cost(D, "wrk_a", "Claude Sonnet 4 Usage - Input Tokens, Cache Write", "3.75", model=SONNET)
    fake_api.anthropic_cost(D, "wrk_a", "Claude Sonnet 4 Usage - Output Tokens", "15", model=SONNET)
    fake_api.anthropic_cost(D, "wrk_a", "Claude Mystery Usage - Input Tokens", "10", model="claude-mystery")
    fake_api.anthropic_usage(D, "wrk_a", SONNET, uncached=40_000, output=10_000, cache_read=50_000, cache_5m=10_000)


@pytest.fixture
def built(fake_api, tmp_path, monkeypatch):
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.setenv(name, "")
    paths = Paths.from_env(tmp_path / "input", tmp_path / "warehouse")
    paths.ensure_warehouse_dir()
    _serve(fake_api)
    with connect(paths.warehouse_db) as con:
        for provider, key, url in (
            ("openai", OPENAI_KEY, fake_api.openai_base_url),
            ("anthropic", ANTHROPIC_KEY, fake_api.anthropic_base_url),
        ):
            load_billing(
                con, paths, provider, D, D, api_key=key, base_url=url, now=NOW, load_id="t", http_settings=FAST
            )
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
                ),
            ],
        )
        insert_rows(
            con,
            "telemetry_calls",
            [
                call("a1", "ra1", AT, project_id="proj_a", input_tokens=1_000_000, output_tokens=100_000),
                call("b1", "rb1", AT, project_id="proj_b", input_tokens=200_000, output_tokens=20_000),
                call("b2", "rb2", AT, project_id="proj_b", status="error", error_type="timeout"),
                call(
                    "s1",
                    "rs1",
                    AT,
                    provider="anthropic",
                    model="claude-sonnet-4",
                    project_id="wrk_a",
                    input_tokens=100_000,
                    output_tokens=10_000,
                ),
                call("u1", "ru1", AT, provider="anthropic", model="claude-mystery", project_id="wrk_a", input_tokens=9),
            ],
        )
    run_dbt(["build", "--exclude", "test_type:unit"], paths.warehouse_dir, tmp_path / "dbt")
    return paths.warehouse_db


def test_each_cause_is_found_from_provider_pages_and_telemetry(built):
    rows = query(
        built,
        """select provider, billed_cost_usd, estimated_cost_usd, gap_usd, unmonitored_scopes_usd,
                  unpriced_calls_usd, error_calls_billed_usd, credits_adjustments_usd,
                  cache_tokens_unreported_usd, tier_unreported_usd, residual_usd
           from marts.billing_gap_explained order by provider""",
    )
    expected = {
        "anthropic": ("0.4225", "0.45", "-0.0275", "0", "0.10", "0", "0", "-0.1275", "0", "0"),
        "openai": ("3.30", "4.20", "-0.90", "1.25", "0", "0.35", "-2.00", "-0.50", "0", "0"),
    }
    assert {r[0]: r[1:] for r in rows} == {p: tuple(Decimal(v) for v in vs) for p, vs in expected.items()}
    # The credit is its own line in reconciliation too: usage billed, credits, the net bill.
    assert query(
        built,
        "select billed_cost_usd, credits_usd, net_billed_cost_usd from marts.billing_reconciliation "
        "where provider = 'openai'",
    ) == [(Decimal("5.300000"), Decimal("-2.000000"), Decimal("3.300000"))]

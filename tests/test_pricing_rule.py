"""The estimated-cost rule is written once, in dbt (`int_calls_priced.sql`): here it prices real
calls at the prices ingestion loaded from genai-prices, and must give genai-prices' own
`calc_price` for each call, to the published micro-dollar."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from dbt_fixtures import call, create_warehouse, insert_rows, query, run_dbt
from genai_prices import Usage, calc_price

from ingestion.sources.model_prices import refresh_model_prices
from ingestion.warehouse import connect

pytestmark = pytest.mark.pipeline

AT = "2026-11-20T12:00:00"
CASES = {
    "gpt-4o": ("openai", "gpt-4o", dict(input_tokens=12_345, cache_read_tokens=4_096, output_tokens=777)),
    "sonnet-4": (
        "anthropic",
        "claude-sonnet-4",
        dict(input_tokens=50_000, cache_read_tokens=30_000, cache_write_tokens=5_000, output_tokens=1_234),
    ),
    "sonnet-4-5-below-tier": (
        "anthropic",
        "claude-sonnet-4-5",
        dict(input_tokens=199_999, cache_read_tokens=150_000, cache_write_tokens=20_000, output_tokens=4_000),
    ),
    "sonnet-4-5-above-tier": (
        "anthropic",
        "claude-sonnet-4-5",
        dict(input_tokens=200_001, cache_read_tokens=150_000, cache_write_tokens=20_000, output_tokens=4_000),
    ),
    "gemini-long": (
        "gcp.vertex_ai",
        "gemini-2.5-pro",
        dict(input_tokens=300_000, cache_read_tokens=100_000, output_tokens=9_999),
    ),
    "embedding": ("openai", "text-embedding-3-small", dict(input_tokens=8_000)),
    # Bedrock: the geo (cross-region) profile and the bare id are regional rates, global is cheaper.
    "bedrock-us-profile": (
        "aws.bedrock",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        dict(input_tokens=40_000, cache_read_tokens=10_000, output_tokens=2_000),
    ),
    "bedrock-global-profile": (
        "aws.bedrock",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        dict(input_tokens=40_000, cache_read_tokens=10_000, output_tokens=2_000),
    ),
}
# Calls on a service tier, priced with genai-prices' own variant for it (`price_context`):
# (provider, model, telemetry's service_tier, genai-prices price context, usage).
TIER_CASES = {
    "gpt-5-flex": (
        "openai",
        "gpt-5",
        "flex",
        {"service_tier": "flex"},
        dict(input_tokens=20_000, cache_read_tokens=8_000, output_tokens=3_000),
    ),
    "gpt-4o-priority": (
        "openai",
        "gpt-4o",
        "priority",
        {"service_tier": "priority"},
        dict(input_tokens=20_000, cache_read_tokens=8_000, output_tokens=3_000),
    ),
    # Batch keeps cached input at the standard rate: a multiplier of 0.5 would halve it.
    "gpt-4o-batch": (
        "openai",
        "gpt-4o",
        "batch",
        {"processing": "batch"},
        dict(input_tokens=20_000, cache_read_tokens=8_000, output_tokens=3_000),
    ),
    "sonnet-4-5-batch-long": (
        "anthropic",
        "claude-sonnet-4-5",
        "batch",
        {"processing": "batch"},
        dict(input_tokens=210_000, cache_read_tokens=50_000, cache_write_tokens=10_000, output_tokens=5_000),
    ),
    "gemini-batch": (
        "gcp.vertex_ai",
        "gemini-2.5-pro",
        "batch",
        {"processing": "batch"},
        dict(input_tokens=30_000, cache_read_tokens=10_000, output_tokens=2_000),
    ),
}
# OpenAI's own name for the standard tier, as openai.response.service_tier reports it.
DEFAULT_TIER_CASE = ("openai", "gpt-5", "default", dict(input_tokens=20_000, output_tokens=3_000))


@pytest.fixture(scope="module")
def priced(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("pricing")
    db = create_warehouse(warehouse)
    with connect(db) as con:
        insert_rows(
            con,
            "telemetry_calls",
            [
                call(
                    name,
                    name,
                    AT,
                    provider=provider,
                    model=model,
                    input_tokens=u["input_tokens"],
                    output_tokens=u.get("output_tokens", 0),
                    cache_read_input_tokens=u.get("cache_read_tokens", 0),
                    cache_creation_input_tokens=u.get("cache_write_tokens", 0),
                )
                for name, (provider, model, u) in CASES.items()
            ]
            + [
                call(
                    name,
                    name,
                    AT,
                    provider=provider,
                    model=model,
                    service_tier=tier,
                    input_tokens=u["input_tokens"],
                    output_tokens=u.get("output_tokens", 0),
                    cache_read_input_tokens=u.get("cache_read_tokens", 0),
                    cache_creation_input_tokens=u.get("cache_write_tokens", 0),
                )
                for name, (provider, model, tier, _, u) in {
                    **TIER_CASES,
                    "gpt-5-default": (*DEFAULT_TIER_CASE[:3], None, DEFAULT_TIER_CASE[3]),
                }.items()
            ],
        )
        refresh = refresh_model_prices(con)
    assert refresh.unpriced == ()
    run_dbt(["build", "--select", "+int_calls_priced"], warehouse, tmp_path_factory.mktemp("dbt"))
    rows = query(db, "select call_id, estimated_cost_usd, tier_price_source from intermediate.int_calls_priced")
    return {call_id: (cost, source) for call_id, cost, source in rows}


@pytest.mark.parametrize("name", CASES)
def test_dbt_prices_each_call_as_genai_prices_does(priced, name):
    provider, model, usage = CASES[name]
    theirs = calc_price(
        Usage(**usage),
        model,
        provider_id=provider,
        genai_request_timestamp=datetime.fromisoformat(AT).replace(tzinfo=UTC),
    ).total_price
    assert priced[name] == (_micro(theirs), "standard")


@pytest.mark.parametrize("name", TIER_CASES)
def test_dbt_prices_a_tier_at_its_own_rate_as_genai_prices_does(priced, name):
    provider, model, _, context, usage = TIER_CASES[name]
    theirs = calc_price(
        Usage(**usage),
        model,
        provider_id=provider,
        genai_request_timestamp=datetime.fromisoformat(AT).replace(tzinfo=UTC),
        price_context=context,
    ).total_price
    standard = calc_price(
        Usage(**usage),
        model,
        provider_id=provider,
        genai_request_timestamp=datetime.fromisoformat(AT).replace(tzinfo=UTC),
    ).total_price
    assert theirs != standard  # the case prices a real tier
    assert priced[name] == (_micro(theirs), "tier_rate")


def test_openai_default_tier_is_the_standard_price(priced):
    provider, model, _, usage = DEFAULT_TIER_CASE
    theirs = calc_price(
        Usage(**usage),
        model,
        provider_id=provider,
        genai_request_timestamp=datetime.fromisoformat(AT).replace(tzinfo=UTC),
    ).total_price
    assert priced["gpt-5-default"] == (_micro(theirs), "standard")


def _micro(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.000001"), ROUND_HALF_UP)

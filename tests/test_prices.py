"""raw.model_prices from genai-prices: exact prices, tiers, effective dating, overrides, replace."""
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ModelPrice, StartDateConstraint, TieredPrices

from ingestion.prices import OPEN_END, OPEN_START, price_data_version, price_in_force, refresh_model_prices
from ingestion.warehouse import connect

os.environ.setdefault("DO_NOT_TRACK", "1")

PRICE_COLUMNS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "reasoning_mtok",
                 "long_context_threshold", "input_mtok_long", "output_mtok_long", "cache_read_mtok_long",
                 "cache_write_mtok_long")


def add_calls(con, calls: list[tuple[str, str, datetime]]) -> None:
    """Minimal accepted telemetry rows: only (provider, model, started_at) matter to pricing."""
    con.executemany(
        """insert into raw.telemetry_calls (call_id, request_id, attempt, started_at, provider, model, operation,
               input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens,
               reasoning_output_tokens, status, service_tier, workspace, feature, environment,
               source_folder, source_file, source_line, load_id, loaded_at)
           values (?, ?, 1, ?, ?, ?, 'chat', 1000, 100, 0, 0, 0, 'ok', 'standard', 'support', 'triage',
                   'production', ?, 'f.jsonl', ?, 'test', now())""",
        [(f"c{i}", f"r{i}", at, provider, model, at.date(), i) for i, (provider, model, at) in enumerate(calls)])


def price_rows(con, provider: str, model: str) -> list[dict]:
    cur = con.execute("select * from raw.model_prices where provider = ? and model = ? order by effective_from",
                      [provider, model])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def library_price(provider: str, model: str, at: datetime) -> tuple[str, ModelPrice]:
    prov, info = get_snapshot().find_provider_model(model, None, provider, None)
    return f"{prov.id}/{info.id}", info.get_prices(at)


def base(value):
    return value.base if isinstance(value, TieredPrices) else value


@pytest.fixture
def db(tmp_path: Path):
    with connect(tmp_path / "warehouse.duckdb") as con:
        yield con


NOW = datetime(2026, 11, 20, 12, 0)


def test_prices_equal_the_library_and_unknown_models_get_no_row(db):
    add_calls(db, [("openai", "gpt-4o", NOW), ("openai", "gpt-4o-mini-2024-07-18", NOW),
                   ("anthropic", "claude-sonnet-4-20250514", NOW), ("openai", "gpt-4o", NOW),
                   ("acme", "acme-llm-7b", NOW)])
    refresh = refresh_model_prices(db)

    assert refresh.models_seen == 4 and refresh.models_priced == 3
    assert refresh.unpriced == (("acme", "acme-llm-7b"),)
    assert refresh.price_data_version == price_data_version()
    assert refresh.price_data_version.startswith("genai-prices 0.2.3+")
    assert price_rows(db, "acme", "acme-llm-7b") == []
    for provider, model in [("openai", "gpt-4o"), ("openai", "gpt-4o-mini-2024-07-18"),
                            ("anthropic", "claude-sonnet-4-20250514")]:
        [row] = price_rows(db, provider, model)
        model_id, lib = library_price(provider, model, NOW.replace(tzinfo=UTC))
        assert row["price_model_id"] == model_id
        assert (row["effective_from"], row["effective_to"]) == (OPEN_START, OPEN_END)
        assert row["input_mtok"] == lib.input_mtok and isinstance(row["input_mtok"], Decimal)
        assert row["output_mtok"] == lib.output_mtok
        assert row["cache_read_mtok"] == lib.cache_read_mtok
        assert row["cache_write_mtok"] == lib.cache_write_mtok  # None for OpenAI: billed as input
        assert row["reasoning_mtok"] is None and row["long_context_threshold"] is None
        assert row["price_data_version"] == refresh.price_data_version
    [sonnet] = price_rows(db, "anthropic", "claude-sonnet-4-20250514")
    assert (sonnet["input_mtok"], sonnet["output_mtok"]) == (Decimal(3), Decimal(15))
    assert (sonnet["cache_read_mtok"], sonnet["cache_write_mtok"]) == (Decimal("0.3"), Decimal("3.75"))
    assert any("service_tier" in note for note in refresh.notes)  # variants are reported, not silently dropped


@pytest.mark.parametrize("provider, model, usage", [
    ("openai", "gpt-4o", dict(input_tokens=12_345, cache_read_tokens=4_096, output_tokens=777)),
    ("anthropic", "claude-sonnet-4", dict(input_tokens=50_000, cache_read_tokens=30_000, cache_write_tokens=5_000,
                                          output_tokens=1_234)),
    ("anthropic", "claude-sonnet-4-5", dict(input_tokens=199_999, cache_read_tokens=150_000,
                                            cache_write_tokens=20_000, output_tokens=4_000)),
    ("anthropic", "claude-sonnet-4-5", dict(input_tokens=200_001, cache_read_tokens=150_000,
                                            cache_write_tokens=20_000, output_tokens=4_000)),
    ("gcp.vertex_ai", "gemini-2.5-pro", dict(input_tokens=300_000, cache_read_tokens=100_000, output_tokens=9_999)),
    ("openai", "text-embedding-3-small", dict(input_tokens=8_000)),
])
def test_cost_rule_reproduces_genai_prices(provider, model, usage):
    """The rule dbt implements (and the demo uses) must give the library's price for one call."""
    period = price_in_force(provider, model, NOW)
    ours = period.estimate_cost_usd(usage["input_tokens"], usage.get("output_tokens", 0),
                                    usage.get("cache_read_tokens", 0), usage.get("cache_write_tokens", 0))
    theirs = calc_price(Usage(**usage), model, provider_id=provider,
                        genai_request_timestamp=NOW.replace(tzinfo=UTC)).total_price
    assert ours == theirs


def test_long_context_tier_is_a_cliff_on_total_input(db):
    add_calls(db, [("anthropic", "claude-sonnet-4-5", NOW)])
    refresh_model_prices(db)
    [row] = price_rows(db, "anthropic", "claude-sonnet-4-5")
    _, lib = library_price("anthropic", "claude-sonnet-4-5", NOW.replace(tzinfo=UTC))
    assert isinstance(lib.input_mtok, TieredPrices)
    assert row["long_context_threshold"] == lib.input_mtok.tiers[0].start == 200_000
    for column, key in [("input_mtok", "input_mtok"), ("output_mtok", "output_mtok"),
                        ("cache_read_mtok", "cache_read_mtok"), ("cache_write_mtok", "cache_write_mtok")]:
        value = getattr(lib, key)
        assert row[column] == value.base
        assert row[f"{column}_long"] == value.tiers[0].price
    assert row["input_mtok_long"] == 2 * row["input_mtok"]


def test_price_changes_become_effective_dated_rows(db):
    # o3's price dropped on 2025-06-10 in the snapshot: one row before, one from that day on.
_, info = None, None

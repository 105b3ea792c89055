"""raw.model_prices from genai-prices: exact prices, tiers, effective dating, overrides, replace."""

import importlib.metadata
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ModelPrice, StartDateConstraint, TieredPrices

from ingestion.sources.model_prices import OPEN_END, OPEN_START, price_data_version, refresh_model_prices
from ingestion.warehouse import connect

os.environ.setdefault("DO_NOT_TRACK", "1")


def add_calls(con, calls: list[tuple[str, str, datetime]]) -> None:
    """Minimal accepted telemetry rows: only (provider, model, started_at) matter to pricing."""
    con.executemany(
        """insert into raw.telemetry_calls (call_id, request_id, attempt, started_at, provider, model, operation,
               input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens,
               reasoning_output_tokens, status, service_tier, workspace, feature, environment,
               source_folder, source_file, source_line, load_id, loaded_at)
           values (?, ?, 1, ?, ?, ?, 'chat', 1000, 100, 0, 0, 0, 'ok', 'standard', 'support', 'triage',
                   'production', ?, 'f.jsonl', ?, 'test', now())""",
        [(f"c{i}", f"r{i}", at, provider, model, at.date(), i) for i, (provider, model, at) in enumerate(calls)],
    )


def price_rows(con, provider: str, model: str, tier: str = "standard") -> list[dict]:
    cur = con.execute(
        "select * from raw.model_prices where provider = ? and model = ? and service_tier = ? order by effective_from",
        [provider, model, tier],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


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
    add_calls(
        db,
        [
            ("openai", "gpt-4o", NOW),
            ("openai", "gpt-4o-mini-2024-07-18", NOW),
            ("anthropic", "claude-sonnet-4-20250514", NOW),
            ("openai", "gpt-4o", NOW),
            ("acme", "acme-llm-7b", NOW),
        ],
    )
    refresh = refresh_model_prices(db)

    assert refresh.models_seen == 4 and refresh.models_priced == 3
    assert refresh.unpriced == (("acme", "acme-llm-7b"),)
    assert refresh.price_data_version == price_data_version()
    # The installed release, whatever the index served: a new genai-prices must not fail CI.
    assert refresh.price_data_version.startswith(f"genai-prices {importlib.metadata.version('genai-prices')}+")
    assert price_rows(db, "acme", "acme-llm-7b") == []
    for provider, model in [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18"),
        ("anthropic", "claude-sonnet-4-20250514"),
    ]:
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
    # genai-prices' tier variants are rows of their own tier, whole prices as genai-prices resolves them.
    for tier, context in (("priority", {"service_tier": "priority"}), ("batch", {"processing": "batch"})):
        [row] = price_rows(db, "openai", "gpt-4o", tier)
        _, info = get_snapshot().find_provider_model("gpt-4o", None, "openai", None)
        lib = info.get_prices(NOW.replace(tzinfo=UTC), context)
        assert (row["input_mtok"], row["output_mtok"], row["cache_read_mtok"]) == (
            lib.input_mtok,
            lib.output_mtok,
            lib.cache_read_mtok,
        )
        # In force from the date genai-prices verified the tier's rates; before it the multiplier applies.
        [variant_start] = {
            v.constraint.start_date for v in info.price_variants if v.when == context and v.constraint is not None
        }
        assert row["effective_from"] == datetime.combine(variant_start, datetime.min.time())
    assert price_rows(db, "openai", "gpt-4o", "default") == []  # OpenAI's `default` is the standard tier


def test_long_context_tier_is_a_cliff_on_total_input(db):
    add_calls(db, [("anthropic", "claude-sonnet-4-5", NOW)])
    refresh_model_prices(db)
    [row] = price_rows(db, "anthropic", "claude-sonnet-4-5")
    _, lib = library_price("anthropic", "claude-sonnet-4-5", NOW.replace(tzinfo=UTC))
    assert isinstance(lib.input_mtok, TieredPrices)
    assert row["long_context_threshold"] == lib.input_mtok.tiers[0].start == 200_000
    for column, key in [
        ("input_mtok", "input_mtok"),
        ("output_mtok", "output_mtok"),
        ("cache_read_mtok", "cache_read_mtok"),
        ("cache_write_mtok", "cache_write_mtok"),
    ]:
        value = getattr(lib, key)
        assert row[column] == value.base
        assert row[f"{column}_long"] == value.tiers[0].price
    assert row["input_mtok_long"] == 2 * row["input_mtok"]


def test_price_changes_become_effective_dated_rows(db):
    # o3's price dropped on 2025-06-10 in the snapshot: one row before, one from that day on.
    _, info = get_snapshot().find_provider_model("o3", None, "openai", None)
    [change] = [c.constraint.start_date for c in info.prices if isinstance(c.constraint, StartDateConstraint)]
    boundary = datetime.combine(change, datetime.min.time())
    add_calls(db, [("openai", "o3", datetime(2025, 6, 9, 23, 59, 59)), ("openai", "o3", boundary)])
    refresh_model_prices(db)

    old, new = price_rows(db, "openai", "o3")
    assert (old["effective_from"], old["effective_to"]) == (OPEN_START, boundary)
    assert (new["effective_from"], new["effective_to"]) == (boundary, OPEN_END)
    for row, at in [(old, datetime(2025, 1, 1, tzinfo=UTC)), (new, datetime(2025, 7, 1, tzinfo=UTC))]:
        lib = info.get_prices(at)
        assert (row["input_mtok"], row["output_mtok"], row["cache_read_mtok"]) == (
            lib.input_mtok,
            lib.output_mtok,
            lib.cache_read_mtok,
        )
    assert old["input_mtok"] != new["input_mtok"]
    # Each call finds exactly one row with the half-open [from, to) join dbt uses.
    matched = db.execute("""
        select c.started_at, count(*), any_value(p.input_mtok) from raw.telemetry_calls c
        join raw.model_prices p on p.provider = c.provider and p.model = c.model
             and c.started_at >= p.effective_from and c.started_at < p.effective_to
        group by 1 order by 1""").fetchall()
    assert matched == [(datetime(2025, 6, 9, 23, 59, 59), 1, old["input_mtok"]), (boundary, 1, new["input_mtok"])]


def test_provider_aliases_and_conditions_it_cannot_represent(db):
    add_calls(
        db,
        [
            ("azure.ai.openai", "gpt-4o", NOW),
            ("aws.bedrock", "anthropic.claude-sonnet-4-20250514-v1:0", NOW),
            ("gcp.vertex_ai", "gemini-2.5-pro", NOW),
            ("deepseek", "deepseek-chat", NOW),
        ],
    )
    refresh = refresh_model_prices(db)
    assert refresh.unpriced == ()
    assert price_rows(db, "azure.ai.openai", "gpt-4o")[0]["price_model_id"] == "openai/gpt-4o"
    assert price_rows(db, "aws.bedrock", "anthropic.claude-sonnet-4-20250514-v1:0")[0]["price_model_id"].startswith(
        "aws/"
    )
    assert price_rows(db, "gcp.vertex_ai", "gemini-2.5-pro")[0]["price_model_id"] == "google/gemini-2.5-pro"
    # DeepSeek's time-of-day prices: the price outside every time window, and a note saying so.
    [deepseek] = price_rows(db, "deepseek", "deepseek-chat")
    _, info = get_snapshot().find_provider_model("deepseek-chat", None, "deepseek", None)
    assert deepseek["input_mtok"] == info.prices[0].prices.input_mtok
    assert any(n.startswith("deepseek/deepseek-chat: time-of-day") for n in refresh.notes)


def test_override_file_wins_and_bad_lines_are_quarantined(db, tmp_path):
    add_calls(db, [("openai", "gpt-4o-mini", NOW), ("openai", "gpt-4o", NOW), ("acme", "acme-llm-7b", NOW)])
    overrides = tmp_path / "prices.csv"
    overrides.write_text(
        "provider,model,effective_from,input_mtok,output_mtok,cache_read_mtok,cache_write_mtok\n"
        "openai,GPT-4o-mini,2026-06-01,0.12,0.48,0.06,\n"
        "openai,gpt-4o-mini,2026-09-01T00:00:00+00:00,0.1,0.4,,\n"
        "acme,acme-llm-7b,,0.000000001,2.5,,\n"
        "openai,gpt-4o,2026-01-01,-1,10,,\n"
        "openai,gpt-4o,yesterday,2,10,,\n"
        "openai,gpt-4o-mini,2026-06-01,9,9,,\n"
    )
    refresh = refresh_model_prices(db, overrides, load_id="run-1")

    assert refresh.unpriced == ()
    assert set(refresh.overridden) == {("openai", "gpt-4o-mini"), ("acme", "acme-llm-7b")}
    genai, first, second = price_rows(db, "openai", "gpt-4o-mini")
    _, lib = library_price("openai", "gpt-4o-mini", NOW.replace(tzinfo=UTC))
    assert (genai["effective_to"], genai["input_mtok"], genai["price_model_id"]) == (
        datetime(2026, 6, 1),
        lib.input_mtok,
        "openai/gpt-4o-mini",
    )
    assert (first["effective_from"], first["effective_to"]) == (datetime(2026, 6, 1), datetime(2026, 9, 1))
    assert (first["input_mtok"], first["output_mtok"], first["cache_read_mtok"], first["cache_write_mtok"]) == (
        Decimal("0.12"),
        Decimal("0.48"),
        Decimal("0.06"),
        None,
    )
    assert (second["effective_from"], second["effective_to"], second["input_mtok"]) == (
        datetime(2026, 9, 1),
        OPEN_END,
        Decimal("0.1"),
    )
    assert first["price_model_id"] == "prices.csv" and first["price_data_version"].startswith("prices.csv sha256:")
    [acme] = price_rows(db, "acme", "acme-llm-7b")
    assert (acme["effective_from"], acme["input_mtok"]) == (OPEN_START, Decimal("0.000000001"))
    # Bad lines change nothing: gpt-4o keeps its genai-prices row.
    assert [r["price_model_id"] for r in price_rows(db, "openai", "gpt-4o")] == ["openai/gpt-4o"]
    quarantine = db.execute(
        "select source_line, record_key, reason, load_id from raw.quarantine "
        "where input = 'prices' order by source_line"
    ).fetchall()
    assert [(line, key) for line, key, _, _ in quarantine] == [
        (5, "openai/gpt-4o"),
        (6, "openai/gpt-4o"),
        (7, "openai/gpt-4o-mini"),
    ]
    assert "input_mtok" in quarantine[0][2] and ">= 0" in quarantine[0][2]
    assert "effective_from 'yesterday'" in quarantine[1][2]
    assert "duplicate of line 2" in quarantine[2][2]
    assert {q[3] for q in quarantine} == {"run-1"}
    assert refresh.quarantined == 3


def test_override_file_with_a_wrong_header_is_quarantined_not_raised(db, tmp_path):
    add_calls(db, [("openai", "gpt-4o", NOW)])
    overrides = tmp_path / "prices.csv"
    overrides.write_text("model,price\ngpt-4o,1\n")
    refresh = refresh_model_prices(db, overrides)
    assert refresh.quarantined == 1 and refresh.overridden == ()
    [(reason,)] = db.execute("select reason from raw.quarantine where input = 'prices'").fetchall()
    assert "provider" in reason and "input_mtok" in reason
    assert price_rows(db, "openai", "gpt-4o")[0]["price_model_id"] == "openai/gpt-4o"


def test_refresh_replaces_everything_and_is_idempotent(db, tmp_path):
    add_calls(db, [("openai", "gpt-4o", NOW), ("openai", "o3", NOW), ("anthropic", "claude-3-5-haiku", NOW)])
    overrides = tmp_path / "prices.csv"
    overrides.write_text("provider,model,effective_from,input_mtok,output_mtok\nopenai,gpt-4o,2026-01-01,x,1\n")
    snapshot_sql = "select * exclude (loaded_at) from raw.model_prices where service_tier = 'standard' order by all"
    refresh_model_prices(db, overrides)
    first = db.execute(snapshot_sql).fetchall()
    refresh_model_prices(db, overrides)
    assert db.execute(snapshot_sql).fetchall() == first
    assert len(first) == 4  # gpt-4o, haiku, and o3's two periods
    assert db.execute("select count(*) from raw.quarantine where input = 'prices'").fetchone() == (1,)

    # A model that left telemetry loses its rows; the quarantine of a fixed file empties.
    db.execute("delete from raw.telemetry_calls where model = 'o3'")
    overrides.write_text("provider,model,effective_from,input_mtok,output_mtok\n")
    refresh = refresh_model_prices(db, overrides)
    assert refresh.models_seen == 2
    assert db.execute("select distinct model from raw.model_prices order by 1").fetchall() == [
        ("claude-3-5-haiku",),
        ("gpt-4o",),
    ]
    assert db.execute("select count(*) from raw.quarantine where input = 'prices'").fetchone() == (0,)


def test_refresh_is_atomic(db, monkeypatch):
    add_calls(db, [("openai", "gpt-4o", NOW)])
    refresh_model_prices(db)
    before = db.execute("select count(*) from raw.model_prices").fetchone()

    def broken(row, loaded_at):
        raise RuntimeError("boom")

    import ingestion.sources.model_prices as prices

    monkeypatch.setattr(prices, "_row_values", broken)
    with pytest.raises(RuntimeError):
        refresh_model_prices(db)
    assert db.execute("select count(*) from raw.model_prices").fetchone() == before


def test_a_warehouse_made_before_tiers_gains_the_new_columns(tmp_path):
    """raw tables of an older costline get the columns added since, at the end, and keep their rows."""
    from ingestion.warehouse import RAW_TABLES, ensure_raw_schema

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        for table in ("model_prices", "billing_usage"):
            old = RAW_TABLES[table].rsplit(",", 3 if table == "billing_usage" else 1)[0]
            con.execute(f"create table raw.{table} ({old})")
        con.execute(
            "insert into raw.billing_usage values ('openai', '2026-11-01', null, 'gpt-4o', null, 1, 10, 5, 0, 0, 'p', now())"
        )
        ensure_raw_schema(con)
        columns = {
            table: [
                name
                for (name,) in con.execute(
                    "select column_name from duckdb_columns() where schema_name = 'raw' and table_name = ? "
                    "order by column_index",
                    [table],
                ).fetchall()
            ]
            for table in ("model_prices", "billing_usage")
        }
        assert columns["model_prices"][-1] == "service_tier"
        assert columns["billing_usage"][-3:] == ["service_tier", "context_window", "inference_geo"]
        assert con.execute("select input_tokens, service_tier from raw.billing_usage").fetchall() == [(10, None)]
        ensure_raw_schema(con)  # and again: nothing to add

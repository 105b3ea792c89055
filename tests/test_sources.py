"""Sources as plugins: the registry is consistent, a source becomes a real Dagster asset, and
the billing source turns an outage into a warning instead of a failed run."""

import json
from datetime import date

import dagster as dg
import pytest

from ingestion.billing.openai import OPENAI
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad
from ingestion.sources.billing_api import BILLING_FETCHED, BillingApi
from ingestion.sources.registry import SOURCES, RegistryError, check_registry, source_named, writers_of
from ingestion.warehouse import RAW_TABLES, connect
from orchestration.resources import CostlinePaths, WarehouseLock
from orchestration.sources import source_asset, writers_by_table
from orchestration.transform import dbt_project, dbt_source_tables


class Toy(Source):
    """A source as a new module would write one: it writes raw.deployments."""

    name = "toy"
    kind = "reference"
    tables = ("deployments",)
    description = "A test source."
    warning_check = "toy_ok"

    def __init__(self, warn: bool = False):
        self.warn = warn

    def load(self, con, paths, days, load_id):
        con.executemany(
            "insert into raw.deployments values (?, 'toy', ?, null, 'toy.csv', 1)", [(day, f"v{day}") for day in days]
        )
        return SourceLoad(
            rows=len(days),
            metadata={"first_day": days[0].isoformat()},
            warnings=("toy is unhappy",) if self.warn else (),
        )


def test_the_registry_is_consistent_and_covers_every_raw_table_dbt_reads():
    check_registry()
    tables = writers_by_table()
    assert set(dbt_source_tables(dbt_project.manifest_path)) <= set(tables)
    assert {t for s in SOURCES for t in s.tables} <= set(RAW_TABLES)
    assert [s.name for s in writers_of("billing_costs")] == ["openai_billing", "anthropic_billing"]
    assert source_named("model_prices").after == ("telemetry_files",)
    with pytest.raises(KeyError, match="known: telemetry_files"):
        source_named("nope")


@pytest.mark.parametrize(
    "sources, message",
    [
        ((Toy(), Toy()), "unique"),
        ((type("Late", (Toy,), {"name": "late", "after": ("missing",)})(),), "unknown sources"),
        ((type("Odd", (Toy,), {"name": "odd", "tables": ("nowhere",)})(),), "not in ingestion.warehouse.RAW_TABLES"),
    ],
)
def test_a_contradictory_registry_fails_at_start_up_with_a_message(sources, message):
    with pytest.raises(RegistryError, match=message):
        check_registry(sources)


@pytest.mark.parametrize("warn", [False, True])
def test_a_source_is_one_partitioned_asset_with_its_warning_check(tmp_path, warn):
    paths = Paths(input_dir=tmp_path / "input", warehouse_dir=tmp_path / "warehouse")
    asset = source_asset(Toy(warn=warn))
    assert asset.key == dg.AssetKey(["raw", "toy"])
    costline = CostlinePaths(input_dir=str(paths.input_dir), warehouse_dir=str(paths.warehouse_dir))
    result = dg.materialize(
        [asset],
        partition_key="2026-11-02",
        resources={"costline": costline, "warehouse_lock": WarehouseLock(costline=costline)},
    )
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["rows"].value == 1
    assert event.materialization.metadata["first_day"].value == "2026-11-02"
    [check] = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed, check.severity) == ("toy_ok", not warn, dg.AssetCheckSeverity.WARN)
    with connect(paths.warehouse_db, read_only=True) as con:
        assert con.execute("select version from raw.deployments").fetchall() == [("v2026-11-02",)]


def test_billing_outage_is_a_warning_not_an_exception(tmp_path, monkeypatch):
    paths = Paths(input_dir=tmp_path / "input", warehouse_dir=tmp_path / "warehouse")
    source = BillingApi(OPENAI)
    assert source.name == "openai_billing" and source.warning_check == BILLING_FETCHED
    assert "OPENAI_ADMIN_KEY" in source.settings_env
    with connect(paths.warehouse_db) as con:
        # No key and no saved pages: nothing to load, nothing wrong.
        monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
        skipped = source.load(con, paths, [date(2026, 11, 2)], "run-1")
        assert (skipped.rows, skipped.warnings, skipped.metadata["source"]) == (0, (), "skipped")
        # A key but nothing listening: one warning naming the provider, never the key.
        monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-secret-value")
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        monkeypatch.setenv("COSTLINE_BILLING_MAX_ATTEMPTS", "1")
        monkeypatch.setenv("COSTLINE_BILLING_CONNECT_TIMEOUT_S", "1")
        failed = source.load(con, paths, [date(2026, 11, 2)], "run-2")
    assert failed.rows == 0 and len(failed.warnings) == 1
    assert failed.warnings[0].startswith("openai: ") and "sk-admin-secret-value" not in failed.warnings[0]


def test_a_file_of_spans_that_are_not_calls_raises_a_warning_naming_it(tmp_path):
    """Spans no dialect reads (a home-grown `myllm.*` vocabulary, a framework's chain span):
    the file must not vanish silently with 0 records."""
    from ingestion.sources.telemetry_files import SPANS_RECOGNISED, TelemetryFiles

    paths = Paths(input_dir=tmp_path / "input", warehouse_dir=tmp_path / "warehouse")
    folder = paths.telemetry_dir / "2026-11-02"
    folder.mkdir(parents=True)

    def span(span_id: str, attrs: dict) -> dict:
        values = [
            {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
            for k, v in attrs.items()
        ]
        return {
            "traceId": "t" * 32,
            "spanId": span_id,
            "startTimeUnixNano": "1793613600000000000",
            "endTimeUnixNano": "1793613601000000000",
            "attributes": values,
        }

    unknown = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            span("a1", {"myllm.kind": "completion", "myllm.model": "gpt-4o", "myllm.tokens": 12}),
                            span("a2", {"openinference.span.kind": "CHAIN"}),
                        ]
                    }
                ]
            }
        ]
    }
    known = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            span(
                                "b1",
                                {
                                    "gen_ai.operation.name": "chat",
                                    "gen_ai.provider.name": "openai",
                                    "gen_ai.response.model": "gpt-4o",
                                    "gen_ai.usage.input_tokens": 10,
                                    "gen_ai.usage.output_tokens": 2,
                                    "costline.workspace": "search",
                                    "costline.feature": "docs",
                                },
                            )
                        ]
                    }
                ]
            }
        ]
    }
    (folder / "homegrown.otlp.jsonl").write_text(json.dumps(unknown) + "\n")
    (folder / "genai.otlp.jsonl").write_text(json.dumps(known) + "\n")
    with connect(paths.warehouse_db) as con:
        loaded = TelemetryFiles().load(con, paths, [date(2026, 11, 2)], "run-1")
    assert TelemetryFiles.warning_check == SPANS_RECOGNISED
    assert loaded.rows == 1
    [warning] = loaded.warnings
    assert warning.startswith("telemetry/2026-11-02/homegrown.otlp.jsonl: 2 spans, none recognised")

"""Pure helpers that decide what a run does: fast, no warehouse needed."""

import os
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from orchestration.partitions import days_between, range_tags, window_days
from orchestration.run_window import rebuild_window
from orchestration.transform import (
    CostlineDbtTranslator,
    MissingWriter,
    dbt_build_args,
    environment,
    window_environment,
)


def test_window_days_of_a_range_excludes_the_end_instant():
    window = dg.TimeWindow(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))
    assert window_days(window) == [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]


def test_days_between_rejects_reversed_ranges():
    assert days_between(date(2026, 10, 30), date(2026, 11, 2))[-1] == date(2026, 11, 2)
    with pytest.raises(ValueError):
        days_between(date(2026, 10, 2), date(2026, 10, 1))


def test_rebuild_window_widens_to_late_records_days():
    partition = [date(2026, 10, 5)]
    assert rebuild_window(partition, []) == (date(2026, 10, 5), date(2026, 10, 5))
    assert rebuild_window(partition, [date(2026, 10, 3), date(2026, 10, 5)]) == (date(2026, 10, 3), date(2026, 10, 5))


def test_dbt_build_skips_unit_tests_and_gets_the_window_from_the_environment():
    args = dbt_build_args()
    assert args[0] == "build" and "--vars" not in args
    assert args[args.index("--exclude") + 1] == "test_type:unit"
    assert window_environment(date(2026, 10, 3), date(2026, 10, 5)) == {
        "COSTLINE_RUN_START_DAY": "2026-10-03",
        "COSTLINE_RUN_END_DAY": "2026-10-05",
    }


def test_environment_is_restored_after_the_dbt_call(monkeypatch):
    monkeypatch.setenv("COSTLINE_RUN_END_DAY", "2026-01-01")
    monkeypatch.delenv("COSTLINE_RUN_START_DAY", raising=False)
    with environment(window_environment(date(2026, 10, 3), date(2026, 10, 5))):
        assert os.environ["COSTLINE_RUN_START_DAY"] == "2026-10-03"
        assert os.environ["COSTLINE_RUN_END_DAY"] == "2026-10-05"
    assert "COSTLINE_RUN_START_DAY" not in os.environ
    assert os.environ["COSTLINE_RUN_END_DAY"] == "2026-01-01"


def test_range_tags_make_one_run_over_many_days():
    assert range_tags(date(2026, 10, 1), date(2026, 10, 30)) == {
        "dagster/asset_partition_range_start": "2026-10-01",
        "dagster/asset_partition_range_end": "2026-10-30",
    }


def test_translator_keys_mirror_where_tables_live():
    translator = CostlineDbtTranslator({"telemetry_calls": [dg.AssetKey(["raw", "telemetry_files"])]})
    # A dbt source is a placeholder for the raw table; models depend on the table's writers.
    assert translator.get_asset_key(
        {"resource_type": "source", "name": "calls", "identifier": "telemetry_calls", "schema": "raw"}
    ) == dg.AssetKey(["dbt_source", "telemetry_calls"])
    assert translator.writers_of("telemetry_calls") == [dg.AssetKey(["raw", "telemetry_files"])]
    with pytest.raises(MissingWriter, match="raw.budgets"):
        translator.writers_of("budgets")
    assert translator.get_asset_key(
        {"resource_type": "model", "name": "daily_spend", "config": {"schema": "marts"}}
    ) == dg.AssetKey(["marts", "daily_spend"])

"""The code location loads the way `dagster dev` loads it, with the wiring the runs rely on."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ingestion.sources.registry import SOURCES
from orchestration.automation import DAILY_JOB, HOURLY_JOB, costline_daily_schedule, costline_hourly_schedule
from orchestration.definitions import defs
from orchestration.quality import (
    BILL_EQUALS_COST,
    CALLS_PRICED,
    COST_TOTALS_RECONCILE,
    CREDITS_EQUAL_BILL,
    LEDGER_BALANCED,
)

REPO = Path(__file__).resolve().parents[1]


def test_workspace_yaml_opens_the_code_location(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_daily_job_covers_every_layer_and_is_scheduled():
    definitions = defs()
    job = definitions.resolve_job_def(DAILY_JOB)
    keys = {key.to_user_string() for key in job.asset_layer.asset_graph.get_all_asset_keys()}
    for expected in (
        "raw/telemetry_files",
        "raw/outcome_files",
        "raw/openai_billing",
        "raw/anthropic_billing",
        "raw/model_prices",
        "raw/reference_files",
        "intermediate/int_calls_attributed",
        "marts/daily_spend",
        "marts/executive_summary",
        "published_mart",
        "alerts_sent",
        "stakeholder_report",
    ):
        assert expected in keys, expected
    schedule = definitions.resolve_schedule_def("costline_daily_schedule")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.job_name == DAILY_JOB


def test_hourly_job_is_the_pipeline_without_the_report_five_past_each_hour():
    definitions = defs()
    daily = definitions.resolve_job_def(DAILY_JOB).asset_layer.asset_graph.get_all_asset_keys()
    hourly_job = definitions.resolve_job_def(HOURLY_JOB)
    selected = {key.to_user_string() for key in hourly_job.asset_layer.executable_asset_keys}
    assert "stakeholder_report" not in selected
    assert {"raw/telemetry_files", "marts/daily_spend", "published_mart", "alerts_sent"} <= selected
    assert selected == {k.to_user_string() for k in daily} - {"stakeholder_report"}
    schedule = definitions.resolve_schedule_def("costline_hourly_schedule")
    assert schedule.cron_schedule == "5 * * * *" and schedule.job_name == HOURLY_JOB
    # Today is a partition: the day still running can be run (and is, every hour).
    today = datetime.now(UTC).date().isoformat()
    assert today in hourly_job.partitions_def.get_partition_keys()


def _tick(schedule, at: datetime, instance) -> list:
    """The schedule's answer for a tick at `at`: a list of RunRequests, or a SkipReason."""
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at) as context:
        result = schedule(context)
    return [result] if isinstance(result, dg.RunRequest) else result


def test_schedules_ask_for_the_right_day_and_the_hourly_tick_stands_aside_for_a_daily_run():
    with dg.instance_for_test() as instance:
        ten = _tick(costline_hourly_schedule, datetime(2026, 10, 31, 10, 5, tzinfo=UTC), instance)
        assert [(r.partition_key, r.run_key) for r in ten] == [("2026-10-31", "hourly-2026-10-31T09")]
        # At 00:05 the hour that closed is yesterday's last.
        midnight = _tick(costline_hourly_schedule, datetime(2026, 11, 1, 0, 5, tzinfo=UTC), instance)
        assert [r.partition_key for r in midnight] == ["2026-10-31"]
        daily = _tick(costline_daily_schedule, datetime(2026, 11, 1, 2, 0, tzinfo=UTC), instance)
        assert [(r.partition_key, r.run_key) for r in daily] == [("2026-10-31", "daily-2026-10-31")]

        instance.add_run(dg.DagsterRun(job_name=DAILY_JOB, run_id="daily-running", status=dg.DagsterRunStatus.STARTED))
        busy = _tick(costline_hourly_schedule, datetime(2026, 11, 1, 2, 5, tzinfo=UTC), instance)
        assert isinstance(busy, dg.SkipReason) and "daily-running" in busy.skip_message


def test_quality_gate_blocks_publish_but_unpriced_calls_only_warn():
    specs = {spec.name: spec for checks in defs().asset_checks for spec in checks.check_specs}
    for name in (LEDGER_BALANCED, COST_TOTALS_RECONCILE, BILL_EQUALS_COST, CREDITS_EQUAL_BILL):
        assert specs[name].blocking, name
    assert not specs[CALLS_PRICED].blocking


def test_every_asset_backfills_as_one_run():
    for asset in defs().assets:
        if isinstance(asset, dg.AssetsDefinition) and asset.partitions_def is not None:
            assert asset.backfill_policy == dg.BackfillPolicy.single_run(), asset.keys


def test_lineage_runs_from_every_source_to_the_mart():
    """No orphan asset: every asset can be materialized, every raw table dbt reads has a writer,
    and the published mart descends from every ingestion asset."""
    from orchestration.transform import dbt_project, dbt_source_tables

    graph = defs().resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    orphans = [key.to_user_string() for key in keys if not graph.get(key).is_materializable]
    assert not orphans, f"assets nothing materializes: {orphans}"
    assert not [key for key in keys if key.path[0] == "dbt_source"], "a dbt source kept its placeholder key"

    raw_assets = {key for key in keys if key.path[0] == "raw"}
    published = dg.AssetKey(["published_mart"])
    upstream_of_mart, todo = set(), [published]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in upstream_of_mart:
                upstream_of_mart.add(parent)
                todo.append(parent)
    assert raw_assets and raw_assets <= upstream_of_mart, raw_assets - upstream_of_mart
    # Each raw table dbt reads resolves to at least one writer (the translator raises otherwise),
    # and each source of the registry is one raw asset.
    assert dbt_source_tables(dbt_project.manifest_path) >= {"telemetry_calls", "quarantine", "source_files"}
    assert raw_assets == {dg.AssetKey(["raw", source.name]) for source in SOURCES}
    # Delivery hangs off the published mart: one connected graph from each source to the reader.
    for delivered in ("alerts_sent", "stakeholder_report", "postgres_mart"):
        assert published in graph.get(dg.AssetKey([delivered])).parent_keys, delivered


def test_the_dbt_resource_knows_dbts_version_without_running_dbt(monkeypatch):
    """dagster-dbt's `dbt --version` costs 2.3 s a run and its in-process adapter 2-3 s;
    costline's resource answers the version from the dbt-core this interpreter imports (and
    would ask any other executable) and sets up no adapter."""
    import dagster_dbt.core.resource as dbt_resource_module
    from dbt.version import __version__
    from packaging.version import Version

    from orchestration.transform import dbt_resource

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"dbt was run: {args}")

    monkeypatch.setattr(dbt_resource_module, "check_output", no_subprocess)
    assert dbt_resource()._cli_version == Version(__version__)
    # Nor is a dbt adapter set up in this process (dagster-dbt needs one only to fetch row
    # counts and column metadata, which costline does not ask for).
    assert dbt_resource()._initialize_dbt_core_adapter(["build"]) is None

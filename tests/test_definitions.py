"""The code location loads the way `dagster dev` loads it, with the wiring the runs rely on."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from ingestion.sources.registry import SOURCES
from orchestration.automation import DAILY_JOB
from orchestration.definitions import defs
from orchestration.quality import BILL_EQUALS_COST, CALLS_PRICED, COST_TOTALS_RECONCILE, LEDGER_BALANCED

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


def test_quality_gate_blocks_publish_but_unpriced_calls_only_warn():
    specs = {spec.name: spec for checks in defs().asset_checks for spec in checks.check_specs}
    for name in (LEDGER_BALANCED, COST_TOTALS_RECONCILE, BILL_EQUALS_COST):
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

"""costline's SQLite event log (orchestration/run_storage.py): the dagster.yaml costline writes
names it, a run's events are all there and readable from another process, and an instance
written by an earlier version is upgraded in place while a user's own dagster.yaml is kept."""

import subprocess
import sys
import textwrap

import dagster as dg
import pytest

from ingestion.settings import Paths
from orchestration.run_storage import CostlineSqliteEventLogStorage
from orchestration.runner import EARLIER_DAGSTER_YAMLS, dagster_instance, dagster_yaml


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-10-01"))
def numbers(context: dg.AssetExecutionContext) -> None:
    context.log.info("one log line per partition range")


@dg.asset_check(asset=numbers)
def numbers_ok() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    paths = Paths(tmp_path / "input", tmp_path / "warehouse")
    with dagster_instance(paths) as inst:
        yield inst, paths


def test_costline_instances_record_runs_in_the_cheaper_event_log(instance):
    inst, paths = instance
    assert (paths.dagster_home / "dagster.yaml").read_text() == dagster_yaml(paths.dagster_home)
    assert isinstance(inst.event_log_storage, CostlineSqliteEventLogStorage)
    defs = dg.Definitions(assets=[numbers], asset_checks=[numbers_ok], jobs=[dg.define_asset_job("numbers_job")])
    job = defs.resolve_job_def("numbers_job")
    result = job.execute_in_process(
        instance=inst,
        tags={"dagster/asset_partition_range_start": "2026-10-01", "dagster/asset_partition_range_end": "2026-10-30"},
    )
    assert result.success
    # One materialization per partition, as with Dagster's own storage.
    materialized = inst.get_materialized_partitions(dg.AssetKey("numbers"))
    assert len(materialized) == 30
    with inst.event_log_storage.run_connection(result.run_id) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0

    # Another process (the webserver, a test opening the instance by path) reads the same run.
    reader = textwrap.dedent(f"""
        import dagster as dg
        inst = dg.DagsterInstance.from_config({str(paths.dagster_home)!r})
        run = inst.get_run_by_id({result.run_id!r})
        print(run.status.value, len(inst.get_materialized_partitions(dg.AssetKey("numbers"))))
    """)
    out = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["SUCCESS", "30"]


def test_a_moved_warehouse_gets_its_dagster_yaml_rewritten(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    first = Paths(tmp_path / "in", tmp_path / "first")
    with dagster_instance(first):
        pass
    moved = Paths(tmp_path / "in", tmp_path / "moved")
    moved.warehouse_dir.parent.mkdir(parents=True, exist_ok=True)
    first.warehouse_dir.rename(moved.warehouse_dir)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with dagster_instance(moved) as inst:
        assert inst.event_log_storage._base_dir == str(moved.dagster_home / "history" / "runs")
    assert (moved.dagster_home / "dagster.yaml").read_text() == dagster_yaml(moved.dagster_home)


def test_an_earlier_costline_dagster_yaml_is_upgraded_and_a_users_own_is_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    earlier = Paths(tmp_path / "in", tmp_path / "earlier")
    earlier.dagster_home.mkdir(parents=True)
    (earlier.dagster_home / "dagster.yaml").write_text(EARLIER_DAGSTER_YAMLS[0])
    with dagster_instance(earlier) as inst:
        assert isinstance(inst.event_log_storage, CostlineSqliteEventLogStorage)
    assert (earlier.dagster_home / "dagster.yaml").read_text() == dagster_yaml(earlier.dagster_home)

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    own = Paths(tmp_path / "in", tmp_path / "own")
    own.dagster_home.mkdir(parents=True)
    (own.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dagster_instance(own) as inst:
        assert type(inst.event_log_storage).__name__ == "SqliteEventLogStorage"
    assert (own.dagster_home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"

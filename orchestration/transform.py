"""The dbt project as Dagster assets: one DbtProject, one translator, one partitioned build."""
import importlib.metadata
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from ingestion.warehouse import connect
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import CostlinePaths

log = logging.getLogger("costline.transform")

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
# The dbt next to this interpreter, so `.venv/bin/costline` works without an activated venv.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# dbt unit tests prove the SQL rules; they run in the test suite (`dbt test --select
# test_type:unit`), not in every daily build where they would only add seconds.
DBT_EXCLUDE = "test_type:unit"
START_VAR, END_VAR = "costline_start_day", "costline_end_day"


def prepare_dbt_manifest(force: bool = False) -> Path:
    """Build target/manifest.json (a named step: `costline` calls it before loading definitions).

    Re-parses when any project file is newer than the manifest, so edits by the data team are
    picked up by the next `costline run` without a separate command.
    """
    manifest = dbt_project.manifest_path
    if force or not manifest.exists() or _newest_project_file() > manifest.stat().st_mtime:
        dbt_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return manifest


def _newest_project_file() -> float:
    newest = 0.0
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses"):
        for path in (DBT_PROJECT_DIR / folder).rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        path = DBT_PROJECT_DIR / name
        if path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


class CostlineDbtTranslator(DagsterDbtTranslator):
    """Asset keys mirror where tables live: raw.<table> for sources, <schema>.<model> for models."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props.get("schema")
        if resource_type == "seed":
            schema = "seeds"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return self.get_asset_key(dbt_resource_props).path[0]


translator = CostlineDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def rebuild_window(partition_days: list[date], event_days: list[date]) -> tuple[date, date]:
    """The days dbt must rebuild: the partition days plus every day the loaded files touched.

    Late files put records on earlier days; outcomes and restated bills change earlier days.
    """
    days = [*partition_days, *event_days]
    return min(days), max(days)


def dbt_build_args(start: date, end: date) -> list[str]:
    return ["build", "--vars", json.dumps({START_VAR: start.isoformat(), END_VAR: end.isoformat()}),
            "--exclude", DBT_EXCLUDE]


def _event_days_loaded_by(run_id: str, warehouse_db: Path) -> list[date]:
    with connect(warehouse_db, read_only=True) as con:
        row = con.execute(
            "select min(min_event_day), max(max_event_day) from raw.source_files where load_id = ?",
            [run_id]).fetchone()
    return [d for d in row if d is not None]


def mart_model_names(manifest_path: Path) -> list[str]:
    """Every dbt model in the marts schema: what gets published."""
    manifest = json.loads(Path(manifest_path).read_text())
    return sorted(node["name"] for node in manifest["nodes"].values()
                  if node["resource_type"] == "model" and node["config"].get("schema") == "marts")


def build_dbt_assets(manifest_path: Path) -> dg.AssetsDefinition:
    @dbt_assets(manifest=manifest_path, project=dbt_project, partitions_def=daily_partitions,
                backfill_policy=dg.BackfillPolicy.single_run(), dagster_dbt_translator=translator,
                name="costline_dbt_models")
    def costline_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, costline: CostlinePaths):
        paths = costline.paths()
        # The dbt subprocess inherits the environment: its profile reads the warehouse from it.
        os.environ["COSTLINE_WAREHOUSE_DIR"] = str(paths.warehouse_dir)
        partition_days = window_days(context.partition_time_window)
        start, end = rebuild_window(partition_days, _event_days_loaded_by(context.run_id, paths.warehouse_db))
        log.info("dbt build for %s .. %s (models, tests, contracts)", start, end)
        started = time.monotonic()
        yield from dbt.cli(dbt_build_args(start, end), context=context).stream()
        log.info("dbt build done in %.0fs", time.monotonic() - started)

    return costline_dbt_models


class CostlineDbtCliResource(DbtCliResource):
    """dagster-dbt runs `dbt --version` in a subprocess before every invocation (~2 s of a
    daily run) to learn the dbt version. When the dbt next to this interpreter is used, it is
    the dbt-core installed here: read the version from the package metadata instead."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if self.dbt_executable == DBT_EXECUTABLE:
            try:
                return version.parse(importlib.metadata.version("dbt-core"))
            except importlib.metadata.PackageNotFoundError:
                pass
        return super()._cli_version


def dbt_resource() -> DbtCliResource:
    executable = DBT_EXECUTABLE if Path(DBT_EXECUTABLE).exists() else "dbt"
    return CostlineDbtCliResource(project_dir=dbt_project, dbt_executable=executable)



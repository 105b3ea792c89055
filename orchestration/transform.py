"""The dbt project as Dagster assets: one DbtProject, one translator, one partitioned build."""
import importlib.metadata
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
# The run window reaches dbt through the environment, not --vars: a change of --vars makes dbt
# parse the whole project again (~8 s), while macros/run_window.sql reads these only when
# executing, so the partial parse survives from one daily run to the next.
START_ENV, END_ENV = "COSTLINE_RUN_START_DAY", "COSTLINE_RUN_END_DAY"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


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


def dbt_build_args() -> list[str]:
    return ["build", "--exclude", DBT_EXCLUDE]


def window_environment(start: date, end: date) -> dict[str, str]:
    return {START_ENV: start.isoformat(), END_ENV: end.isoformat()}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the dbt subprocess, restoring the previous values after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
        partition_days = window_days(context.partition_time_window)
        start, end = rebuild_window(partition_days, _event_days_loaded_by(context.run_id, paths.warehouse_db))
        log.info("dbt build for %s .. %s (models, tests, contracts)", start, end)
        started = time.monotonic()
        # The dbt subprocess inherits the environment: its profile reads the warehouse from it.
        # One target folder per warehouse, kept, so dbt's partial parse carries over.
        target = seeded_target_dir(paths.dbt_target_dir)
        with environment({"COSTLINE_WAREHOUSE_DIR": str(paths.warehouse_dir), **window_environment(start, end)}):
            yield from dbt.cli(dbt_build_args(), context=context, target_path=target).stream()
        log.info("dbt build done in %.0fs", time.monotonic() - started)

    return costline_dbt_models


def seeded_target_dir(target: Path) -> Path:
    """The warehouse's dbt target folder, owner-only, with the project's partial parse state
    copied in on first use (dagster-dbt would copy it too, but with the source's 0644 mode)."""
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    seed = Path(dbt_project.project_dir) / dbt_project.target_path / PARTIAL_PARSE_FILE
    destination = target / PARTIAL_PARSE_FILE
    if seed.exists() and not destination.exists():
        shutil.copyfile(seed, destination)
        destination.chmod(0o600)
    return target


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



"""The dbt project as Dagster assets: one DbtProject, one translator, one partitioned build."""

import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging.version import Version

from ingestion.clock import open_day, open_hour, utc_now
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import CostlinePaths, WarehouseLock
from orchestration.run_window import event_days_loaded_by, rebuild_window
from orchestration.spark_engine import SPARK_TARGET, EngineError, SparkBuild

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
OPEN_DAY_ENV, OPEN_HOUR_ENV = "COSTLINE_OPEN_DAY", "COSTLINE_OPEN_HOUR"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def engine_target_path(engine: str) -> Path:
    """The project's target folder for an engine's parse (relative to the project): DuckDB's is
    dbt's own `target/`, another engine's `target/<engine>/`. Their manifests differ: a test of a
    quoted column hashes to another unique id on Spark (backticks), and dagster-dbt looks up
    every result of the build in the manifest it was given."""
    return Path(dbt_project.target_path) if engine == "duckdb" else Path(dbt_project.target_path) / engine


def target_args(engine: str) -> list[str]:
    """dbt's `--target` for an engine: none for DuckDB, the profile's default."""
    return [] if engine == "duckdb" else ["--target", engine]


def prepare_dbt_manifest(engine: str = "duckdb", force: bool = False) -> Path:
    """Build the engine's manifest.json (a named step: `costline` calls it before loading definitions).

    Re-parses when any project file is newer than the manifest, so edits by the data team are
    picked up by the next `costline run` without a separate command.
    """
    target_path = engine_target_path(engine)
    manifest = Path(dbt_project.project_dir) / target_path / "manifest.json"
    if force or not manifest.exists() or _newest_project_file() > manifest.stat().st_mtime:
        dbt_resource().cli(["parse", "--quiet", *target_args(engine)], target_path=target_path).wait()
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


# dbt sources are not assets of their own: each raw table is written by one or more ingestion
# sources (telemetry from several tools lands in raw.telemetry_calls; every file source writes
# the shared ledger). The translator gives a source this placeholder key, and every model that
# reads it depends on the assets that write the table instead, so the lineage runs from each
# ingestion source to the published mart with no orphan raw assets.
DBT_SOURCE_KEY_PREFIX = "dbt_source"


class MissingWriter(LookupError):
    pass


class CostlineDbtTranslator(DagsterDbtTranslator):
    """Asset keys mirror where tables live (<schema>.<model>); a dbt source resolves to the
    ingestion assets that write its raw table (`writers_by_table`: raw table -> asset keys)."""

    def __init__(
        self,
        writers_by_table: Mapping[str, Sequence[dg.AssetKey]] | None = None,
        settings: DagsterDbtTranslatorSettings | None = None,
    ):
        super().__init__(settings=settings)
        self._writers_by_table = {table: list(keys) for table, keys in (writers_by_table or {}).items()}

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "source":
            return dg.AssetKey([DBT_SOURCE_KEY_PREFIX, source_table(dbt_resource_props)])
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props.get("schema")
        if resource_type == "seed":
            schema = "seeds"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return self.get_asset_key(dbt_resource_props).path[0]

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not any(dep.asset_key.path[0] == DBT_SOURCE_KEY_PREFIX for dep in spec.deps):
            return spec
        deps, seen = [], set()
        for dep in spec.deps:
            keys = (
                self.writers_of(dep.asset_key.path[-1])
                if dep.asset_key.path[0] == DBT_SOURCE_KEY_PREFIX
                else [dep.asset_key]
            )
            for key in keys:
                if key not in seen:
                    seen.add(key)
                    deps.append(dg.AssetDep(key))
        return spec.replace_attributes(deps=deps)

    def writers_of(self, table: str) -> list[dg.AssetKey]:
        writers = self._writers_by_table.get(table)
        if not writers:
            raise MissingWriter(
                f"dbt reads raw.{table}, but no ingestion source writes it: add the table "
                f"to the writing source's `tables` in ingestion/sources"
            )
        return writers


def source_table(dbt_resource_props: Mapping[str, Any]) -> str:
    """The raw table a dbt source reads (its identifier, else its name)."""
    return dbt_resource_props.get("identifier") or dbt_resource_props["name"]


def dbt_source_tables(manifest_path: Path) -> set[str]:
    """Every raw table the dbt project declares as a source."""
    manifest = json.loads(Path(manifest_path).read_text())
    return {source_table(props) for props in manifest["sources"].values()}


def dbt_build_args(engine: str = "duckdb") -> list[str]:
    return ["build", "--exclude", DBT_EXCLUDE, *target_args(engine)]


def window_environment(start: date, end: date) -> dict[str, str]:
    return {START_ENV: start.isoformat(), END_ENV: end.isoformat()}


def open_environment(now: datetime) -> dict[str, str]:
    """The day and hour still running when the build starts (macros/intraday.sql reads them)."""
    return {OPEN_DAY_ENV: open_day(now).isoformat(), OPEN_HOUR_ENV: open_hour(now).strftime("%Y-%m-%d %H:00:00")}


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


def mart_model_names(manifest_path: Path) -> list[str]:
    """Every dbt model in the marts schema: what gets published."""
    manifest = json.loads(Path(manifest_path).read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("schema") == "marts"
    )


def build_dbt_assets(
    manifest_path: Path, writers_by_table: Mapping[str, Sequence[dg.AssetKey]], engine: str = "duckdb"
) -> dg.AssetsDefinition:
    """The dbt build as one partitioned multi-asset, on the engine its manifest was parsed for
    (`COSTLINE_ENGINE` when the definitions loaded: a code location serves one engine)."""
    translator = CostlineDbtTranslator(
        writers_by_table, settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    )

    @dbt_assets(
        manifest=manifest_path,
        project=dbt_project,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        name="costline_dbt_models",
    )
    def costline_dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, costline: CostlinePaths, warehouse_lock: WarehouseLock
    ):
        paths = costline.paths()
        partition_days = window_days(context.partition_time_window)
        start, end = rebuild_window(partition_days, event_days_loaded_by(context.run_id, paths.warehouse_db))
        log.info("dbt build on %s for %s .. %s (models, tests, contracts)", engine, start, end)
        started = time.monotonic()
        # The dbt subprocess inherits the environment: its profile reads the warehouse from it.
        # One target folder per warehouse and engine, kept, so dbt's partial parse carries over.
        target = seeded_target_dir(
            paths.dbt_target_dir if engine == "duckdb" else paths.dbt_target_dir / engine, engine_target_path(engine)
        )
        build_env = {
            "COSTLINE_WAREHOUSE_DIR": str(paths.warehouse_dir),
            **window_environment(start, end),
            **open_environment(utc_now()),
        }
        spark = SparkBuild.for_marts(paths, mart_model_names(manifest_path)) if engine == SPARK_TARGET else None
        if spark:
            exported = spark.prepare()
            log.info("raw.* exported for Spark: %d tables, %d rows", len(exported), sum(exported.values()))
            build_env.update(spark.environment())
        with environment(build_env):
            yield from dbt.cli(dbt_build_args(engine), context=context, target_path=target).stream()
        if spark:
            try:
                rows = spark.import_handoff()
            except EngineError as error:
                raise dg.Failure(description=str(error), allow_retries=False) from None
            log.info("%d tables taken back from Spark into warehouse.duckdb (%d rows)", len(rows), sum(rows.values()))
        log.info("dbt build done in %.0fs", time.monotonic() - started)

    return costline_dbt_models


def seeded_target_dir(target: Path, project_target: Path | None = None) -> Path:
    """The warehouse's dbt target folder, owner-only, with the partial parse state of the
    project's `project_target` (default dbt's `target/`) copied in on first use (dagster-dbt
    would copy it too, but with the source's 0644 mode)."""
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    seed = Path(dbt_project.project_dir) / (project_target or dbt_project.target_path) / PARTIAL_PARSE_FILE
    destination = target / PARTIAL_PARSE_FILE
    if seed.exists() and not destination.exists():
        shutil.copyfile(seed, destination)
        destination.chmod(0o600)
    return target


class CostlineDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, told dbt's version instead of asking the executable, and without
    an in-process dbt adapter.

    dagster-dbt runs `dbt --version` once per run to learn it (2.3 s, a tenth of a small
    run). The dbt next to this interpreter is the dbt-core package this process imports, so
    its version is known; any other executable is still asked. This overrides a private
    cached property: were dagster-dbt to rename it, runs would only be slower again
    (tests/test_definitions.py holds the override in place).
    """

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        """No dbt adapter in this process (2-3 s a run): dagster-dbt uses it only to fetch row
        counts and column metadata (`.fetch_row_counts()`, `.fetch_column_metadata()`), which
        costline does not ask for; dbt itself runs in its own process as before."""
        return None

    @cached_property
    def _cli_version(self) -> Version:
        if self.dbt_executable == DBT_EXECUTABLE:
            from dbt.version import __version__

            return Version(__version__)
        return super()._cli_version


def dbt_resource() -> DbtCliResource:
    executable = DBT_EXECUTABLE if Path(DBT_EXECUTABLE).exists() else "dbt"
    return CostlineDbtCliResource(project_dir=dbt_project, dbt_executable=executable)

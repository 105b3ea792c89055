"""Publishing the mart: write aside, then rename, so readers never see half a mart.

`mart.duckdb` is built under a temporary name and moved over the old file with one rename.
The Parquet files (and the FOCUS export under `focus/`) go to a fresh versioned directory and
the `mart` symlink is swapped to it with one rename. A reader that has the old file open keeps
reading the old, complete version.

The two renames are two steps: a process killed between them leaves `mart.duckdb` one
publication ahead of `mart/` (each complete on its own). Both carry `mart_publication` (a
table, and `mart_publication.parquet`), so `costline status` reports the mismatch, and the
next successful publish repairs it. Staging files and version directories left by a killed
publish are removed by the next one (see RELIABILITY.md).
"""

import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from enforcement import log as enforcement_log
from ingestion.settings import Paths, pause_for_test
from orchestration.partitions import daily_partitions
from orchestration.resources import CostlinePaths, WarehouseLock
from reporting.alert_log import adopt_legacy_log
from reporting.publication import PUBLICATION_TABLE

log = logging.getLogger("costline.publish")

PUBLISHED_MART = dg.AssetKey(["published_mart"])
# The FOCUS 1.2 export: focus_costs again under mart/focus/, as Parquet and as CSV, for FinOps
# tools that load a FOCUS dataset from a folder. Inside the versioned directory, so it is
# swapped with the rest of the mart in the same rename.
FOCUS_TABLE = "focus_costs"
FOCUS_DIR = "focus"
# FOCUS's DateTime format (ISO 8601 in UTC, a literal Z); the mart's times are UTC already.
FOCUS_CSV_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Publication:
    mart_db: Path
    parquet_dir: Path
    rows: dict[str, int]
    published_at: datetime


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def publish_mart(paths: Paths, tables: list[str], run_id: str, source_schema: str = "marts") -> Publication:
    """Copy the mart tables out of the warehouse into mart.duckdb and mart/<table>.parquet."""
    paths.ensure_warehouse_dir()
    _remove_staging_leftovers(paths.warehouse_dir)
    previous = _link_target(paths.mart_parquet_dir)
    published_at = datetime.now(UTC).replace(microsecond=0)
    # Unique per publish, and sortable by creation for whoever lists the directory.
    token = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
    staging_db = paths.warehouse_dir / f".mart-{token}.duckdb"
    parquet_dir = paths.warehouse_dir / f"mart-{token}"
    parquet_dir.mkdir(mode=0o700)
    rows: dict[str, int] = {}
    # enforcement_log comes from its own store below, never from the warehouse's marts.
    tables = [table for table in tables if table != enforcement_log.TABLE]
    try:
        con = duckdb.connect(str(staging_db))
        try:
            con.execute(f"attach {_sql_path(paths.warehouse_db)} as warehouse (read_only)")
            for table in tables:
                con.execute(f'create table main."{table}" as select * from warehouse.{source_schema}."{table}"')
                con.execute(f'copy main."{table}" to {_sql_path(parquet_dir / f"{table}.parquet")} (format parquet)')
                rows[table] = con.execute(f'select count(*) from main."{table}"').fetchone()[0]
            rows[enforcement_log.TABLE] = _copy_enforcement_log(con, paths, parquet_dir)
            if FOCUS_TABLE in tables:
                _write_focus_files(con, parquet_dir / FOCUS_DIR)
            partial_day = _partial_day(con, tables)
            con.execute(
                f"""create table main.{PUBLICATION_TABLE} as
                select cast(? as timestamp) as published_at, cast(? as varchar) as run_id,
                       cast(? as varchar) as tables, cast(? as date) as partial_day,
                       cast(? as boolean) as is_partial""",
                [
                    published_at.replace(tzinfo=None),
                    run_id,
                    ",".join([*tables, enforcement_log.TABLE]),
                    partial_day,
                    partial_day is not None,
                ],
            )
            con.execute(
                f"copy main.{PUBLICATION_TABLE} to "
                f"{_sql_path(parquet_dir / f'{PUBLICATION_TABLE}.parquet')} (format parquet)"
            )
            con.execute("detach warehouse")
            con.execute("checkpoint")
        finally:
            con.close()
        staging_db.chmod(0o600)
        pause_for_test("publish-staged")
        os.replace(staging_db, paths.mart_db)
        pause_for_test("publish-between-renames")
        _swap_symlink(paths.mart_parquet_dir, parquet_dir)
    except BaseException:
        staging_db.unlink(missing_ok=True)
        Path(f"{staging_db}.wal").unlink(missing_ok=True)
        shutil.rmtree(parquet_dir, ignore_errors=True)
        raise
    _prune_old_versions(paths.warehouse_dir, keep={parquet_dir.name, previous})
    log.info("published %d tables (%d rows) to %s", len(tables), sum(rows.values()), paths.mart_db)
    return Publication(paths.mart_db, paths.mart_parquet_dir, rows, published_at)


def _copy_enforcement_log(con: duckdb.DuckDBPyConnection, paths: Paths, parquet_dir: Path) -> int:
    """`enforcement_log` from the enforcement's own store (enforcement/log.py), or empty.

    Not a dbt model: the log is written after publication, by the gateway calls, so the
    enforcement step publishes again when it wrote rows (orchestration/enforcement.py)."""
    table = enforcement_log.TABLE
    store = enforcement_log.store_path(paths.warehouse_dir)
    con.execute(f"create table main.{table} ({enforcement_log.COLUMNS})")
    if store.exists():
        con.execute(f"attach {_sql_path(store)} as enforcement (read_only)")
        try:
            con.execute(f"insert into main.{table} select * from enforcement.main.{table} order by entry_id")
        finally:
            con.execute("detach enforcement")
    con.execute(f"copy main.{table} to {_sql_path(parquet_dir / f'{table}.parquet')} (format parquet)")
    return con.execute(f"select count(*) from main.{table}").fetchone()[0]


def _write_focus_files(con: duckdb.DuckDBPyConnection, focus_dir: Path) -> None:
    """mart/focus/focus_costs.parquet and .csv: the FOCUS columns as the mart has them.

    The CSV writes times as FOCUS's `YYYY-MM-DDTHH:MM:SSZ` and NULL as an empty field. CSV has
    no types: a reader infers them, so an id made of digits only (an AWS account as
    SubAccountId) reads back as a number there; the Parquet file keeps every type.
    """
    focus_dir.mkdir(mode=0o700)
    source = f'main."{FOCUS_TABLE}"'
    con.execute(f"copy {source} to {_sql_path(focus_dir / f'{FOCUS_TABLE}.parquet')} (format parquet)")
    con.execute(
        f"copy {source} to {_sql_path(focus_dir / f'{FOCUS_TABLE}.csv')} "
        f"(format csv, header true, timestampformat '{FOCUS_CSV_TIMESTAMP}')"
    )


def _partial_day(con: duckdb.DuckDBPyConnection, tables: list[str]):
    """The day still running that this mart shows (daily_spend's partial rows), or None."""
    if "daily_spend" not in tables:
        return None
    has_flag = con.execute(
        "select count(*) from information_schema.columns where table_schema = 'main' "
        "and table_name = 'daily_spend' and column_name = 'is_partial'"
    ).fetchone()[0]
    if not has_flag:  # a mart built by other means (a test's hand-made one) has no partial days
        return None
    return con.execute("select max(day) from main.daily_spend where is_partial").fetchone()[0]


def _swap_symlink(link: Path, target: Path) -> None:
    if link.exists() and not link.is_symlink():
        raise RuntimeError(f"{link} is a real directory; move it away so costline can manage it as a link")
    temporary = link.with_name(f".{link.name}-{uuid.uuid4().hex[:8]}")
    temporary.symlink_to(target.name)
    os.replace(temporary, link)


def _link_target(link: Path) -> str | None:
    return os.readlink(link) if link.is_symlink() else None


def _prune_old_versions(warehouse_dir: Path, keep: set[str | None]) -> None:
    """Keep the current and the previous publication's Parquet directory, nothing else.

    Readers of the previous version were given a publication's time to finish. Directories
    that were never published (a publish killed before its swap) go too: keeping the newest
    N by name would let such an orphan push the previous real version out.
    """
    for version in warehouse_dir.glob("mart-*"):
        if version.is_dir() and not version.is_symlink() and version.name not in keep:
            shutil.rmtree(version, ignore_errors=True)
    _remove_staging_leftovers(warehouse_dir)


def _remove_staging_leftovers(warehouse_dir: Path) -> None:
    """Staging databases (and WALs) and half-made links of a killed publish; the run lock
    guarantees no other publish is using them."""
    for leftover in warehouse_dir.glob(".mart-*"):
        if leftover.is_symlink() or leftover.name.endswith((".duckdb", ".duckdb.wal")):
            leftover.unlink(missing_ok=True)


def _hand_over_alert_log(paths: Paths) -> None:
    """A warehouse from before delivery had its own store kept the alert log inside; the
    pipeline (which holds the warehouse) hands it over once, so delivery never opens it."""
    try:
        adopt_legacy_log(paths.warehouse_dir, paths.warehouse_db)
    except Exception as exc:  # alerts may repeat once; never worth failing a published run
        log.warning(
            "old alert log not carried over (%s: %s); recent alerts may be sent again once", type(exc).__name__, exc
        )


def build_published_mart(mart_tables: list[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISHED_MART,
        deps=[dg.AssetKey(["marts", t]) for t in mart_tables],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="publish",
        kinds={"duckdb", "parquet"},
        description="mart.duckdb and mart/<table>.parquet for BI tools, replaced atomically "
        "only after every blocking quality check passed.",
    )
    def published_mart(
        context: dg.AssetExecutionContext, costline: CostlinePaths, warehouse_lock: WarehouseLock
    ) -> dg.MaterializeResult:
        paths = costline.paths()
        publication = publish_mart(paths, mart_tables, context.run_id)
        _hand_over_alert_log(paths)
        return dg.MaterializeResult(
            metadata={
                "mart_db": dg.MetadataValue.path(str(publication.mart_db)),
                "parquet_dir": dg.MetadataValue.path(str(publication.parquet_dir)),
                "rows": sum(publication.rows.values()),
                **{f"rows.{table}": count for table, count in publication.rows.items()},
            }
        )

    return published_mart

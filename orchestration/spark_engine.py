"""costline with Spark as the dbt engine (`COSTLINE_ENGINE=spark`): raw out, dbt on Spark, tables back.

Ingestion stays on DuckDB: it writes raw.* into warehouse.duckdb with its ledger and quarantine.
A run on Spark then
1. exports raw.* to Parquet (`export_raw_tables`); the spark target registers each folder as
   an external table `raw.<table>` when dbt starts (macro `costline_register_spark_raw`);
2. builds the dbt project with `--target spark`, tests included. The warehouse lock the run
   holds also covers Spark's Derby metastore, which allows one process: one writer;
3. takes back what the rest of the run reads (`import_handoff`): at the end of the build dbt
   writes every mart and the intermediate tables the quality gate sums as plain Parquet under
   the handoff folder (macro `costline_spark_handoff`), and they replace their copies in
   warehouse.duckdb in one transaction.
So the gate, the published mart, the report and the Postgres publication are the same code on
both engines, and BI readers see no difference (docs/SPARK.md).
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.settings import Paths
from ingestion.warehouse import RAW_SCHEMA, RAW_TABLES

ENGINE_ENV = "COSTLINE_ENGINE"
ENGINES = ("duckdb", "spark")
SPARK_TARGET = "spark"
SPARK_RAW_DIR_ENV = "COSTLINE_SPARK_RAW_DIR"
SPARK_WAREHOUSE_DIR_ENV = "COSTLINE_SPARK_WAREHOUSE_DIR"
# Set by costline for the dbt process only (macros/spark_exchange.sql reads them).
HANDOFF_DIR_ENV = "COSTLINE_SPARK_HANDOFF_DIR"
HANDOFF_TABLES_ENV = "COSTLINE_SPARK_HANDOFF_TABLES"
# The intermediate tables orchestration/quality.py sums next to the marts (the spend gate);
# tests/test_spark.py holds this list equal to what quality.py reads.
GATE_INTERMEDIATE_TABLES = (
    "int_billing_costs_unattributed",
    "int_billing_credits_allocated",
    "int_billing_lines",
    "int_calls_attributed",
)


class EngineError(ValueError):
    """A setting that names no engine costline builds on, or a Spark build that handed back too little."""


def dbt_engine() -> str:
    """The engine the dbt build runs on: `COSTLINE_ENGINE`, read when a run starts (default duckdb)."""
    value = os.environ.get(ENGINE_ENV, "").strip().lower() or "duckdb"
    if value not in ENGINES:
        raise EngineError(f"{ENGINE_ENV}={value!r} names no engine costline builds on: set it to duckdb or spark")
    return value


def spark_raw_dir(warehouse_dir: Path) -> Path:
    """Where the spark target reads raw.* (the same default as macros/spark_exchange.sql)."""
    configured = os.environ.get(SPARK_RAW_DIR_ENV, "").strip()
    return Path(configured) if configured else warehouse_dir / "spark" / "raw"


def handoff_dir(warehouse_dir: Path) -> Path:
    return warehouse_dir / "spark" / "handoff"


def export_raw_tables(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    """Write every raw table to `out_dir/<table>/data.parquet`; returns rows per table.

    Timestamps are written as UTC instants (Parquet `isAdjustedToUTC`), which Spark reads as
    TIMESTAMP in the profile's UTC session: the same wall-clock values DuckDB holds. Each table
    is written beside its folder and renamed into place. Run it while no Spark job reads raw.*.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    con.execute("set TimeZone = 'UTC'")
    rows = {}
    for table in RAW_TABLES:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [RAW_SCHEMA, table],
        ).fetchall()
        select = ", ".join(
            f'cast("{name}" as timestamptz) as "{name}"' if kind == "TIMESTAMP" else f'"{name}"'
            for name, kind in columns
        )
        staging = out_dir / f".{table}.new"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        con.execute(
            f"copy (select {select} from {RAW_SCHEMA}.{table}) to '{staging / 'data.parquet'}' (format parquet)"
        )
        target = out_dir / table
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        rows[table] = con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchone()[0]
    return rows


@dataclass(frozen=True)
class SparkBuild:
    """One dbt build on Spark for a warehouse: what goes out before it and comes back after."""

    paths: Paths
    tables: tuple[str, ...]  # "<schema>.<table>" to hand back: every mart and the gate's tables

    @classmethod
    def for_marts(cls, paths: Paths, mart_tables: list[str]) -> "SparkBuild":
        tables = [f"marts.{t}" for t in mart_tables] + [f"intermediate.{t}" for t in GATE_INTERMEDIATE_TABLES]
        return cls(paths, tuple(sorted(tables)))

    @property
    def handoff(self) -> Path:
        return handoff_dir(self.paths.warehouse_dir)

    def prepare(self) -> dict[str, int]:
        """Export raw.* for Spark and clear the last handoff, so only this build's tables come back."""
        shutil.rmtree(self.handoff, ignore_errors=True)
        with duckdb.connect(str(self.paths.warehouse_db)) as con:
            return export_raw_tables(con, spark_raw_dir(self.paths.warehouse_dir))

    def environment(self) -> dict[str, str]:
        return {HANDOFF_DIR_ENV: str(self.handoff), HANDOFF_TABLES_ENV: ",".join(self.tables)}

    def import_handoff(self) -> dict[str, int]:
        """Replace each handed-back table in warehouse.duckdb, all in one transaction."""
        missing = [t for t in self.tables if not any((self.handoff / t).glob("*.parquet"))]
        if missing:
            raise EngineError(
                f"the Spark build handed back no Parquet for {', '.join(missing)} under {self.handoff}: "
                "see the dbt log of this run for the on-run-end error, fix it and run again"
            )
        rows = {}
        with duckdb.connect(str(self.paths.warehouse_db)) as con:
            con.execute("begin")
            for name in self.tables:
                schema, table = name.split(".")
                files = str(self.handoff / name / "*.parquet").replace("'", "''")
                con.execute(f"create schema if not exists {schema}")
                con.execute(f"create or replace table {schema}.\"{table}\" as select * from read_parquet('{files}')")
                rows[name] = con.execute(f'select count(*) from {schema}."{table}"').fetchone()[0]
            con.execute("commit")
        return rows

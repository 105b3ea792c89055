"""The raw layer for the Spark target: `raw.*` exported from the DuckDB warehouse as Parquet.

dbt's Spark target registers each folder as an external table `raw.<table>` when a run starts
(macro `costline_register_spark_raw`), so Spark reads exactly the rows ingestion accepted.
Timestamps are written as UTC instants (Parquet `isAdjustedToUTC`), which Spark reads as
TIMESTAMP in the profile's UTC session: the same wall-clock values DuckDB holds. Each table is
written beside its folder and renamed into place. Run it while no Spark job reads raw.*.
"""

import shutil
from pathlib import Path

import duckdb

from ingestion.warehouse import RAW_SCHEMA, RAW_TABLES

SPARK_RAW_DIR_ENV = "COSTLINE_SPARK_RAW_DIR"


def spark_raw_dir(warehouse_dir: Path) -> Path:
    """Where the Spark target reads raw.* by default (dbt_project/macros/spark_raw.sql)."""
    return warehouse_dir / "spark" / "raw"


def export_raw_tables(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    """Write every raw table to `out_dir/<table>/data.parquet`; returns rows per table."""
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

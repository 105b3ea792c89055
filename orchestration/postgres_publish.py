"""Publishing the mart into Postgres, for BI tools that speak Postgres better than DuckDB files.

Optional: on only when `COSTLINE_PUBLISH_POSTGRES_URL` is set (a libpq URL such as
`postgresql://costline@db.internal:5432/analytics`). It reads the published `mart.duckdb`
(what passed the quality gate), never the warehouse, so it holds no warehouse lock.

Every table is replaced inside ONE Postgres transaction: a table whose columns did not change
is emptied with DELETE (MVCC-safe: a reader's snapshot keeps seeing the old rows) and refilled
with COPY; a table whose columns changed is dropped and created again. Readers therefore see the
previous complete mart or the new complete mart, never a mix, and a failure anywhere rolls the
whole publish back. Data moves set-based: DuckDB writes each table to CSV, Postgres COPYs it in.

Money stays exact: DuckDB DECIMAL(p, s) becomes numeric(p, s) (mart money is numeric(18, 6)); a
`*_usd` column that is not DECIMAL is refused rather than published as float.
"""

import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from enforcement import log as enforcement_log
from ingestion.settings import Paths
from ingestion.warehouse import RAW_SCHEMA, RAW_TABLES
from orchestration.enforcement import GATEWAY_ENFORCEMENT
from orchestration.partitions import daily_partitions
from orchestration.publish import PUBLISHED_MART
from orchestration.resources import CostlinePaths
from reporting.publication import PUBLICATION_TABLE

log = logging.getLogger("costline.postgres_publish")

PUBLISH_URL_ENV = "COSTLINE_PUBLISH_POSTGRES_URL"
MART_SCHEMA = "costline_mart"
READER_ROLE = "costline_reader"
COPY_CHUNK_BYTES = 1 << 20
# Re-creating a table whose columns changed waits for readers holding it. Waiting forever would
# hang the daily run; giving up rolls back and leaves the previous mart published.
LOCK_TIMEOUT = "60s"

_SIMPLE_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20, 0)",
    "HUGEINT": "numeric(38, 0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "jsonb",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


@dataclass(frozen=True)
class PostgresPublication:
    schema: str
    rows: dict[str, int]
    published_at: datetime


def postgres_publish_url() -> str | None:
    """The target URL when Postgres publishing is on, else None (read at run time)."""
    return os.environ.get(PUBLISH_URL_ENV, "").strip() or None


def postgres_column_type(duckdb_type: str, table: str, column: str) -> str:
    """The Postgres type that holds a DuckDB column's values exactly."""
    normalized = duckdb_type.strip().upper()
    decimal = _DECIMAL.match(normalized)
    if column.endswith("_usd") and not decimal:
        raise TypeError(
            f"{table}.{column} is money but DuckDB holds it as {duckdb_type}, not DECIMAL: "
            f"fix the dbt model's cast instead of publishing float money"
        )
    if decimal:
        return f"numeric({decimal.group(1)}, {decimal.group(2)})"
    if normalized in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[normalized]
    raise TypeError(
        f"{table}.{column} has DuckDB type {duckdb_type}, which costline does not publish to "
        f"Postgres; cast it in the dbt model (nested types: to JSON text)"
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _duckdb_columns(duck: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    columns = duck.execute(
        """select column_name, data_type from information_schema.columns
           where table_catalog = current_database() and table_schema = ? and table_name = ?
           order by ordinal_position""",
        [schema, table],
    ).fetchall()
    if not columns:
        raise LookupError(f"table {schema}.{table} not found in the DuckDB source")
    return columns


def _postgres_columns(cur, schema: str, table: str) -> list[tuple[str, str]]:
    cur.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod)
           from pg_attribute a join pg_class c on c.oid = a.attrelid
           join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
           order by a.attnum""",
        [schema, table],
    )
    return [(name, _canonical_pg_type(kind)) for name, kind in cur.fetchall()]


def _canonical_pg_type(kind: str) -> str:
    # format_type spells types long-hand; compare in the spelling postgres_column_type writes.
    return (
        {
            "timestamp without time zone": "timestamp",
            "timestamp with time zone": "timestamptz",
            "time without time zone": "time",
        }.get(kind, kind)
        .replace(",", ", ")
        .replace(",  ", ", ")
    )


def copy_tables(
    duck: duckdb.DuckDBPyConnection, pg_con, source_schema: str, tables: Iterable[str], target_schema: str
) -> dict[str, int]:
    """Replace `target_schema`.<table> in Postgres with DuckDB's `source_schema`.<table>.

    Runs inside the caller's Postgres transaction (nothing is committed here; the connection
    must not be in autocommit), so the tables become visible together at the caller's commit.
    """
    rows: dict[str, int] = {}
    catalog = duck.execute("select current_database()").fetchone()[0]
    with tempfile.TemporaryDirectory(prefix="costline-pg-") as scratch, pg_con.cursor() as cur:
        cur.execute(f"set local lock_timeout = '{LOCK_TIMEOUT}'")
        cur.execute(f"create schema if not exists {_ident(target_schema)}")
        for table in tables:
            columns = [
                (name, postgres_column_type(kind, table, name))
                for name, kind in _duckdb_columns(duck, source_schema, table)
            ]
            target = f"{_ident(target_schema)}.{_ident(table)}"
            if _postgres_columns(cur, target_schema, table) == columns:
                # DELETE, not TRUNCATE: TRUNCATE is not MVCC-safe, an open reader would see an empty table.
                cur.execute(f"delete from {target}")
            else:
                cur.execute(f"drop table if exists {target}")
                cur.execute(f"create table {target} ({', '.join(f'{_ident(n)} {t}' for n, t in columns)})")
            csv_path = Path(scratch) / f"{table}.csv"
            # Empty strings are written quoted and NULLs unquoted, which Postgres' CSV format reads back apart.
            # Catalog-qualified: a DuckDB file named raw.duckdb would make `raw.x` ambiguous.
            source = f"{_ident(catalog)}.{_ident(source_schema)}.{_ident(table)}"
            duck.execute(f"copy (select * from {source}) to {_sql_path(csv_path)} (format csv, header true)")
            column_list = ", ".join(_ident(name) for name, _ in columns)
            with (
                cur.copy(f"copy {target} ({column_list}) from stdin (format csv, header true)") as copy,
                open(csv_path, "rb") as csv_file,
            ):
                while chunk := csv_file.read(COPY_CHUNK_BYTES):
                    copy.write(chunk)
            rows[table] = cur.rowcount
            csv_path.unlink()
    return rows


def grant_reader(pg_con, schema: str = MART_SCHEMA, role: str = READER_ROLE) -> bool:
    """Let the BI read-only role read every table in the schema (re-created tables lose grants)."""
    with pg_con.cursor() as cur:
        cur.execute("select 1 from pg_roles where rolname = %s", [role])
        if cur.fetchone() is None:
            return False
        cur.execute(f"grant usage on schema {_ident(schema)} to {_ident(role)}")
        cur.execute(f"grant select on all tables in schema {_ident(schema)} to {_ident(role)}")
        return True


def publish_mart_to_postgres(
    mart_db: Path,
    url: str,
    tables: list[str] | None = None,
    run_id: str = "",
    schema: str = MART_SCHEMA,
    reader_role: str = READER_ROLE,
) -> PostgresPublication:
    """Load the published mart.duckdb's tables into `schema` in one Postgres transaction."""
    import psycopg  # optional extra `postgres`: only needed when publishing is on

    published_at = datetime.now(UTC).replace(microsecond=0)
    duck = duckdb.connect(str(mart_db), read_only=True)
    try:
        if tables is None:
            tables = [
                name
                for (name,) in duck.execute(
                    """select table_name from information_schema.tables
                   where table_catalog = current_database() and table_schema = 'main'
                     and table_type = 'BASE TABLE' and table_name <> ?
                   order by table_name""",
                    [PUBLICATION_TABLE],
                ).fetchall()
            ]
        with psycopg.connect(url, application_name="costline-publish") as pg_con:
            # One transaction: psycopg commits when the block exits cleanly, rolls back on error.
            rows = copy_tables(duck, pg_con, "main", tables, schema)
            with pg_con.cursor() as cur:
                publication = f"{_ident(schema)}.{PUBLICATION_TABLE}"
                cur.execute(
                    f"create table if not exists {publication} "
                    f"(published_at timestamp not null, run_id text not null, tables text not null)"
                )
                cur.execute(f"delete from {publication}")
                cur.execute(
                    f"insert into {publication} values (%s, %s, %s)",
                    [published_at.replace(tzinfo=None), run_id, ",".join(tables)],
                )
            granted = grant_reader(pg_con, schema, reader_role)
    finally:
        duck.close()
    log.info(
        "published %d tables (%d rows) to Postgres schema %s%s",
        len(rows),
        sum(rows.values()),
        schema,
        f", readable by {reader_role}" if granted else f" (role {reader_role} absent: no grants)",
    )
    return PostgresPublication(schema, rows, published_at)


def build_postgres_mart(mart_tables: list[str]) -> dg.AssetsDefinition:
    """The Dagster step after `published_mart`; it materializes only when the URL is set."""

    @dg.asset(
        key=["postgres_mart"],
        # After enforcement, which publishes again when it logged a decision.
        deps=[PUBLISHED_MART, GATEWAY_ENFORCEMENT],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="publish",
        kinds={"postgres"},
        output_required=False,
        description=f"The published mart copied into Postgres schema {MART_SCHEMA} in one transaction, "
        f"for BI tools; on only when {PUBLISH_URL_ENV} is set.",
    )
    def postgres_mart(context: dg.AssetExecutionContext, costline: CostlinePaths):
        url = postgres_publish_url()
        if url is None:
            context.log.info(f"{PUBLISH_URL_ENV} is not set: Postgres publishing is off")
            return
        publication = publish_mart_to_postgres(
            costline.paths().mart_db, url, [*mart_tables, enforcement_log.TABLE], context.run_id
        )
        yield dg.MaterializeResult(
            metadata={
                "schema": publication.schema,
                "rows": sum(publication.rows.values()),
                **{f"rows.{table}": count for table, count in publication.rows.items()},
            }
        )

    return postgres_mart


def main(argv: list[str] | None = None) -> int:
    """`python -m orchestration.postgres_publish mart|raw [--url URL] [--warehouse-dir DIR]`.

    `mart`: publish the current mart.duckdb into costline_mart (what the Dagster step does).
    `raw`: copy the warehouse's raw.* tables into Postgres schema raw, so the dbt project can
    be built there (`dbt build --target postgres`). Both replace their tables in one transaction.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m orchestration.postgres_publish")
    parser.add_argument("what", choices=["mart", "raw"])
    parser.add_argument("--url", default=None, help=f"libpq URL (default ${PUBLISH_URL_ENV})")
    parser.add_argument("--warehouse-dir", default=None, help="default $COSTLINE_WAREHOUSE_DIR or ./data/warehouse")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    url = args.url or postgres_publish_url()
    if not url:
        parser.error(f"no Postgres URL: pass --url or set {PUBLISH_URL_ENV}")
    paths = Paths.from_env(warehouse_dir=args.warehouse_dir)
    source = paths.mart_db if args.what == "mart" else paths.warehouse_db
    if not source.exists():
        parser.error(f"{source} does not exist yet: run `costline run` or `costline demo` first")
    if args.what == "mart":
        publish_mart_to_postgres(source, url, run_id="manual")
        return 0
    import psycopg

    with duckdb.connect(str(source), read_only=True) as duck, psycopg.connect(url) as pg_con:
        rows = copy_tables(duck, pg_con, RAW_SCHEMA, list(RAW_TABLES), RAW_SCHEMA)
    log.info("copied %d raw tables (%d rows) to Postgres schema %s", len(rows), sum(rows.values()), RAW_SCHEMA)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

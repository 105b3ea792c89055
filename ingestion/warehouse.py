"""The raw layer of the warehouse: table definitions and connections.

Ingestion writes only these `raw.*` tables; dbt reads them as sources
(`dbt_project/models/staging/*/_*__sources.yml`). Timestamps are UTC stored as TIMESTAMP
(no zone) so the same SQL runs on Postgres, Trino and Spark. Money is DECIMAL(18, 6) dollars.
Per-token prices are DECIMAL(18, 9) dollars per million tokens (rates, not money).
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ingestion.fields import OUTCOME_FIELDS, TELEMETRY_FIELDS, raw_columns_ddl
from ingestion.focus.columns import focus_columns_ddl

RAW_SCHEMA = "raw"

# Where an accepted file record came from, after its fields (`ingestion/fields.py`).
LINEAGE_COLUMNS = """
        source_folder  DATE NOT NULL,
        source_file    VARCHAR NOT NULL,
        source_line    BIGINT NOT NULL,
        load_id        VARCHAR NOT NULL,
        loaded_at      TIMESTAMP NOT NULL"""

RAW_TABLES: dict[str, str] = {
    # One accepted telemetry record per call_id (deduplicated at load time, first loaded wins).
    "telemetry_calls": f"""
        {raw_columns_ddl(TELEMETRY_FIELDS)},
        {LINEAGE_COLUMNS},
        call_key                    BIGINT,
        request_key                 BIGINT
    """,
    # Every record that broke a rule, from any file input, with where it was and why.
    "quarantine": """
        input          VARCHAR NOT NULL,
        source_folder  DATE,
        source_file    VARCHAR NOT NULL,
        source_line    BIGINT,
        record_key     VARCHAR,
        reason         VARCHAR NOT NULL,
        load_id        VARCHAR NOT NULL,
        loaded_at      TIMESTAMP NOT NULL
    """,
    # One row per input file loaded: the ledger that proves nothing was dropped
    # (records_read = accepted + quarantined + duplicates) and the event days it touched.
    "source_files": """
        input          VARCHAR NOT NULL,
        source_folder  DATE,
        source_file    VARCHAR NOT NULL,
        file_format    VARCHAR NOT NULL,
        file_bytes     BIGINT NOT NULL,
        records_read   BIGINT NOT NULL,
        accepted       BIGINT NOT NULL,
        quarantined    BIGINT NOT NULL,
        duplicates     BIGINT NOT NULL,
        min_event_day  DATE,
        max_event_day  DATE,
        load_id        VARCHAR NOT NULL,
        loaded_at      TIMESTAMP NOT NULL
    """,
    "outcomes": f"""
        {raw_columns_ddl(OUTCOME_FIELDS)},
        {LINEAGE_COLUMNS}
    """,
    "deployments": """
        deployed_at    TIMESTAMP NOT NULL,
        scope          VARCHAR NOT NULL,
        version        VARCHAR NOT NULL,
        description    VARCHAR,
        source_file    VARCHAR NOT NULL,
        source_line    BIGINT NOT NULL
    """,
    "budgets": """
        workspace          VARCHAR NOT NULL,
        month              VARCHAR NOT NULL,
        monthly_budget_usd DECIMAL(18, 6) NOT NULL,
        hard_limit         BOOLEAN NOT NULL,
        source_line        BIGINT NOT NULL
    """,
    "workspaces": """
        provider       VARCHAR NOT NULL,
        project_id     VARCHAR NOT NULL,
        workspace      VARCHAR NOT NULL,
        source_line    BIGINT NOT NULL
    """,
    # Effective-dated list prices per (provider, model) as telemetry names them, in dollars per
    # million tokens. A model absent here is unpriced (estimated at zero and flagged by a check).
    # service_tier: 'standard', or the tier whose own rates these are (genai-prices price
    # variants); NULL in warehouses made before tiers were loaded means standard.
    "model_prices": """
        provider                 VARCHAR NOT NULL,
        model                    VARCHAR NOT NULL,
        price_model_id           VARCHAR NOT NULL,
        effective_from           TIMESTAMP NOT NULL,
        effective_to             TIMESTAMP NOT NULL,
        input_mtok               DECIMAL(18, 9) NOT NULL,
        output_mtok              DECIMAL(18, 9) NOT NULL,
        cache_read_mtok          DECIMAL(18, 9),
        cache_write_mtok         DECIMAL(18, 9),
        reasoning_mtok           DECIMAL(18, 9),
        long_context_threshold   BIGINT,
        input_mtok_long          DECIMAL(18, 9),
        output_mtok_long         DECIMAL(18, 9),
        cache_read_mtok_long     DECIMAL(18, 9),
        cache_write_mtok_long    DECIMAL(18, 9),
        price_data_version       VARCHAR NOT NULL,
        loaded_at                TIMESTAMP NOT NULL,
        service_tier             VARCHAR
    """,
    # Provider billing (issue: billing). One row per bucket day, provider, scope and line.
    # A later fetch of the same provider and day replaces the earlier rows (restatements).
    "billing_costs": """
        provider       VARCHAR NOT NULL,
        bucket_day     DATE NOT NULL,
        scope_id       VARCHAR,
        model          VARCHAR,
        line_item      VARCHAR,
        amount_usd     DECIMAL(18, 6) NOT NULL,
        source_page    VARCHAR NOT NULL,
        fetched_at     TIMESTAMP NOT NULL
    """,
    # Cloud-billed model spend from FOCUS exports (ingestion/focus/): every delivery's rows of
    # model services, in the billing currency at the export's precision (12 decimals) until
    # the staging model sums and converts them. Deliveries are kept; staging picks the latest.
    "focus_costs": f"""
        provider            VARCHAR NOT NULL,
        charge_day          DATE NOT NULL,
        billing_period_day  DATE NOT NULL,
        {focus_columns_ddl()},
        workspace_tag       VARCHAR,
        feature_tag         VARCHAR,
        {LINEAGE_COLUMNS}
    """,
    # Exchange rates the user provides (fx_rates.csv) for FOCUS exports not billed in USD:
    # one USD value of a currency unit from a day on, until the next row of that currency.
    "fx_rates": """
        currency       VARCHAR NOT NULL,
        rate_date      DATE NOT NULL,
        usd_per_unit   DECIMAL(24, 12) NOT NULL,
        source_line    BIGINT NOT NULL
    """,
    # The last three columns are what changes the price of the same tokens, where the usage
    # API splits by it (ingestion/billing/records.py UsageLine); NULL when it does not.
    "billing_usage": """
        provider                    VARCHAR NOT NULL,
        bucket_day                  DATE NOT NULL,
        scope_id                    VARCHAR,
        model                       VARCHAR,
        api_key_id                  VARCHAR,
        requests                    BIGINT,
        input_tokens                BIGINT NOT NULL,
        output_tokens               BIGINT NOT NULL,
        cache_read_input_tokens     BIGINT NOT NULL,
        cache_creation_input_tokens BIGINT NOT NULL,
        source_page                 VARCHAR NOT NULL,
        fetched_at                  TIMESTAMP NOT NULL,
        service_tier                VARCHAR,
        context_window              VARCHAR,
        inference_geo               VARCHAR
    """,
}


# A 63-bit hash of an id. Looking a day's call_ids (or the requests of a day's outcomes) up
# among a year of history reads this 8-byte column instead of every id string: 0.13 s instead
# of 1.5 s at 36.5M calls. DuckDB's hash() is ~4x cheaper than MD5 but may change between
# DuckDB versions, so raw.key_probe keeps the hash of a fixed text: when it no longer matches,
# every key is computed again (a hash that matched nothing would let duplicates in).
KEY_SQL = "cast(hash({}) >> 1 as bigint)"
KEY_COLUMNS = {"call_key": "call_id", "request_key": "request_id"}
KEY_PROBE_TEXT = "costline key probe"


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and every raw table that does not exist yet."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for table, columns in RAW_TABLES.items():
        con.execute(f"create table if not exists {RAW_SCHEMA}.{table} ({columns})")
    _add_new_columns(con)
    _add_key_columns(con)
    # Outcomes gained value_usd (issue 18): a warehouse made before it gets the column, empty.
    con.execute(f"alter table {RAW_SCHEMA}.outcomes add column if not exists value_usd DECIMAL(18, 6)")


def _add_new_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Columns added to RAW_TABLES after a warehouse was made, appended (nullable) to its tables.

    New columns are only ever added at the end of a table's DDL, so a table grown this way has
    the same column order as a new one (loaders insert by position).
    """
    present: dict[str, list[str]] = {}
    for table, name in con.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = ? order by column_index",
        [RAW_SCHEMA],
    ).fetchall():
        present.setdefault(table, []).append(name)
    for table, columns in RAW_TABLES.items():
        have = present.get(table, [])
        con.execute(f"create or replace temp table _raw_ddl_probe ({columns})")
        wanted = con.execute(
            "select column_name, data_type from duckdb_columns() where table_name = '_raw_ddl_probe' "
            "and database_name = 'temp' order by column_index"
        ).fetchall()
        for name, data_type in wanted:
            if have and name not in have and name not in KEY_COLUMNS:
                con.execute(f"alter table {RAW_SCHEMA}.{table} add column {name} {data_type}")
    con.execute("drop table if exists _raw_ddl_probe")


def _add_key_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Key columns exist and were computed by today's hash (older warehouses get them once)."""
    present = {
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = 'telemetry_calls'",
            [RAW_SCHEMA],
        ).fetchall()
    }
    con.execute(f"create table if not exists {RAW_SCHEMA}.key_probe (probe BIGINT NOT NULL)")
    # fetchall, not fetchone: a result left open blocks con.register() later on this connection.
    [(probe,)] = con.execute(f"select {KEY_SQL.format('$text')}", {"text": KEY_PROBE_TEXT}).fetchall()
    [(stored,)] = con.execute(f"select min(probe) from {RAW_SCHEMA}.key_probe").fetchall()
    missing = [key for key in KEY_COLUMNS if key not in present]
    if not missing and stored == probe:
        return
    for key in missing:
        con.execute(f"alter table {RAW_SCHEMA}.telemetry_calls add column {key} BIGINT")
    assignments = ", ".join(f"{key} = {KEY_SQL.format(column)}" for key, column in KEY_COLUMNS.items())
    con.execute(f"update {RAW_SCHEMA}.telemetry_calls set {assignments}")
    con.execute(f"delete from {RAW_SCHEMA}.key_probe")
    con.execute(f"insert into {RAW_SCHEMA}.key_probe values (?)", [probe])


def _apply_resource_settings(con: duckdb.DuckDBPyConnection) -> None:
    """The same DuckDB limits the dbt build uses (COSTLINE_DUCKDB_THREADS / _MEMORY_LIMIT).

    Past the memory limit DuckDB spills to disk instead of growing, which keeps a very large
    day inside a small machine's memory at some cost in time.
    """
    for setting, env in (("threads", "COSTLINE_DUCKDB_THREADS"), ("memory_limit", "COSTLINE_DUCKDB_MEMORY_LIMIT")):
        value = os.environ.get(env, "").strip()
        if value:
            con.execute(f"set {setting} = ?", [int(value) if setting == "threads" else value])


@contextmanager
def connect(db_path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for one step and always close it.

    DuckDB allows one writing process per file, so every step opens and closes its own
    connection instead of holding one for the life of the process.
    """
    db_path = Path(db_path)
    if not read_only:
        db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Line numbers and "first copy wins" are explicit columns, never row order, so DuckDB may
    # write rows in any order: a 10M-line staging pass runs ~25% faster.
    con = duckdb.connect(str(db_path), read_only=read_only, config={"preserve_insertion_order": False})
    try:
        _apply_resource_settings(con)
        if not read_only:
            ensure_raw_schema(con)
        yield con
    finally:
        con.close()
    if not read_only and db_path.exists():
        db_path.chmod(0o600)

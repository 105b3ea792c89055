"""Helpers for tests that build the real dbt project on a throwaway DuckDB warehouse.

The raw tables come from `ingestion.warehouse` (the same DDL ingestion writes to); rows are
inserted with plain SQL so a test states its inputs exactly. `run_dbt` runs the dbt CLI of
the interpreter's virtualenv as a subprocess, as the orchestrator does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from demo.billing_pages import write_demo_billing_pages
from demo.inputs import generate_demo_inputs
from ingestion.billing import load_billing
from ingestion.settings import Paths
from ingestion.sources.model_prices import refresh_model_prices
from ingestion.sources.outcome_files import load_outcomes_folder
from ingestion.sources.reference_files import load_reference_inputs
from ingestion.sources.telemetry_files import load_telemetry_folder
from ingestion.warehouse import RAW_TABLES, connect

REPO_DIR = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_DIR / "dbt_project"

TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "1",
}


def dbt_executable() -> str:
    """The dbt next to the running interpreter (the project venv), else the one on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dbt")
    if not found:
        raise RuntimeError("dbt is not installed in this environment")
    return found


def run_dbt(
    args: list[str],
    warehouse_dir: Path,
    work_dir: Path,
    dbt_vars: dict[str, str] | None = None,
    expect_success: bool = True,
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run `dbt <args>` on the project against `warehouse_dir`/warehouse.duckdb.

    target/ and logs/ go to `work_dir` so parallel test runs never share them. On an
    unexpected result the tail of dbt's output is in the assertion message.
    """
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    if dbt_vars:
        rendered = ", ".join(f"{key}: '{value}'" for key, value in dbt_vars.items())
        command += ["--vars", "{" + rendered + "}"]
    env = {**os.environ, **TELEMETRY_OFF, "COSTLINE_WAREHOUSE_DIR": str(warehouse_dir), **(env_extra or {})}
    # A cap so the suite stays polite on a shared two-core machine.
    env.setdefault("COSTLINE_DUCKDB_THREADS", "2")
    result = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)
    if expect_success and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )
    return result


def raw_columns(table: str) -> list[str]:
    """Column names of a raw table, in DDL order, from ingestion's single definition."""
    columns = []
    for line in RAW_TABLES[table].strip().splitlines():
        line = line.strip().rstrip(",")
        if line:
            columns.append(line.split()[0])
    return columns


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Insert dict rows into raw.<table>; columns a row leaves out are NULL."""
    rows = list(rows)
    if not rows:
        return
    columns = raw_columns(table)
    unknown = {key for row in rows for key in row} - set(columns)
    if unknown:
        raise KeyError(f"raw.{table} has no column(s) {sorted(unknown)}")
    placeholders = ", ".join("?" for _ in columns)
    con.executemany(
        f"insert into raw.{table} ({', '.join(columns)}) values ({placeholders})",
        [[row.get(column) for column in columns] for row in rows],
    )


_LOADED_AT = datetime(2025, 3, 3, 6, 0, 0)


def call(call_id: str, request_id: str, started_at: str, **fields: Any) -> dict[str, Any]:
    """A raw.telemetry_calls row with the contract's defaults for everything not given."""
    started = datetime.fromisoformat(started_at)
    row = {
        "call_id": call_id,
        "request_id": request_id,
        "attempt": 1,
        "started_at": started,
        "duration_ms": 100.0,
        "provider": "openai",
        "model": "gpt-4o",
        "operation": "chat",
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "reasoning_output_tokens": 0,
        "status": "ok",
        "error_type": None,
        "service_tier": "standard",
        "workspace": "team-a",
        "feature": "chat",
        "environment": "production",
        "user_segment": None,
        "prompt_version": None,
        "project_id": None,
        "cost_usd": None,
        "tags": None,
        "source_folder": started.date(),
        "source_file": f"telemetry/{started.date()}/calls.jsonl",
        "source_line": 1,
        "load_id": "test",
        "loaded_at": _LOADED_AT,
    }
    row.update(fields)
    if isinstance(row["cost_usd"], str):
        row["cost_usd"] = Decimal(row["cost_usd"])
    return row


def outcome(
    request_id: str,
    recorded_at: str,
    kind: str,
    value: str,
    source_folder: str | None = None,
    source_line: int = 1,
    value_usd: str | None = None,
) -> dict[str, Any]:
    recorded = datetime.fromisoformat(recorded_at)
    folder = date.fromisoformat(source_folder) if source_folder else recorded.date()
    return {
        "request_id": request_id,
        "recorded_at": recorded,
        "kind": kind,
        "value": value,
        "source": "test",
        "value_usd": Decimal(value_usd) if value_usd is not None else None,
        "source_folder": folder,
        "source_file": f"outcomes/{folder}/outcomes.jsonl",
        "source_line": source_line,
        "load_id": "test",
        "loaded_at": _LOADED_AT,
    }


def price(
    provider: str,
    model: str,
    effective_from: str,
    effective_to: str,
    long_context_threshold: int | None = None,
    **rates: str,
) -> dict[str, Any]:
    """A raw.model_prices row; rates are dollars per million tokens as strings (exact)."""
    row = {
        "provider": provider,
        "model": model,
        "price_model_id": model,
        "effective_from": datetime.fromisoformat(effective_from),
        "effective_to": datetime.fromisoformat(effective_to),
        "long_context_threshold": long_context_threshold,
        "price_data_version": "test-prices",
        "loaded_at": _LOADED_AT,
    }
    row.update({key: Decimal(value) for key, value in rates.items()})
    return row


def bill(
    provider: str,
    day: str,
    scope_id: str | None,
    amount_usd: str,
    model: str | None = None,
    line_item: str | None = "completions",
) -> dict[str, Any]:
    return {
        "provider": provider,
        "bucket_day": date.fromisoformat(day),
        "scope_id": scope_id,
        "model": model,
        "line_item": line_item,
        "amount_usd": Decimal(amount_usd),
        "source_page": "test-page",
        "fetched_at": _LOADED_AT,
    }


def create_warehouse(warehouse_dir: Path) -> Path:
    """An empty warehouse with every raw table; returns the database path."""
    db_path = warehouse_dir / "warehouse.duckdb"
    with connect(db_path):
        pass
    return db_path


def query(db_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Read from the warehouse and close it again (dbt needs the file lock back)."""
    with connect(db_path, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def snapshot(db_path: Path, tables: Iterable[str]) -> dict[str, list[tuple]]:
    """Every row of each table, sorted, for before/after comparisons."""
    result = {}
    with connect(db_path, read_only=True) as con:
        for table in tables:
            rows = con.execute(f"select * from {table}").fetchall()
            result[table] = sorted(rows, key=lambda row: tuple("" if value is None else str(value) for value in row))
    return result


def load_demo_raw(root: Path, end: date, days: int, calls_per_day: int = 300):
    """A small demo's inputs loaded into raw.* by the real ingestion code (no Dagster), for
    the tests that build the dbt project on a second engine from the same raw layer."""
    paths = Paths(root / "input", root / "warehouse")
    summary = generate_demo_inputs(paths.input_dir, end=end, days=days, calls_per_day=calls_per_day)
    write_demo_billing_pages(paths.billing_dir, summary.usage, credits=summary.credits)
    paths.ensure_warehouse_dir()
    with connect(paths.warehouse_db) as con:
        for folder in sorted(paths.telemetry_dir.iterdir()):
            load_telemetry_folder(con, paths, date.fromisoformat(folder.name), "test")
        for folder in sorted(paths.outcomes_dir.iterdir()):
            load_outcomes_folder(con, paths, date.fromisoformat(folder.name), "test")
        load_reference_inputs(con, paths, "test")
        refresh_model_prices(con, load_id="test")
        for provider in ("openai", "anthropic"):
            load_billing(
                con, paths, provider, summary.start - timedelta(days=1), summary.end, api_key=None, load_id="test"
            )
    return paths

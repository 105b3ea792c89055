"""`costline status`: what is loaded, the last runs and their checks, where the mart is."""

import dagster as dg
import duckdb
from rich.console import Console

from ingestion.settings import Paths
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.runner import dagster_instance

LOADED_SQL = """
select (select count(*) from raw.telemetry_calls),
       (select min(cast(started_at as date)) from raw.telemetry_calls),
       (select max(cast(started_at as date)) from raw.telemetry_calls),
       (select count(*) from raw.quarantine),
       (select count(distinct source_file) from raw.source_files),
       (select count(*) from raw.billing_costs)
"""


def print_status(paths: Paths, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]warehouse[/bold] {paths.warehouse_db}")
    _print_loaded(paths, console)
    _print_runs(paths, console)
    _print_mart(paths, console)


def _print_loaded(paths: Paths, console: Console) -> None:
    if not paths.warehouse_db.exists():
        console.print("  nothing loaded yet")
        return
    try:
        with duckdb.connect(str(paths.warehouse_db), read_only=True) as con:
            calls, first, last, quarantined, files, bill_rows = con.execute(LOADED_SQL).fetchone()
    except duckdb.IOException:
        console.print("  the warehouse is busy (a run is in progress); try again when it finishes")
        return
    console.print(f"  calls loaded: {calls:,} from {files:,} files, days {first} .. {last}")
    console.print(f"  quarantined records: {quarantined:,} (see raw.quarantine for file, line and reason)")
    console.print(f"  billing rows: {bill_rows:,}")


def _print_runs(paths: Paths, console: Console) -> None:
    instance = dagster_instance(paths)
    runs = instance.get_runs(limit=5)
    console.print("[bold]last runs[/bold]" if runs else "[bold]last runs[/bold] none")
    for run in runs:
        stats = instance.get_run_stats(run.run_id)
        started = stats.start_time and _fmt_ts(stats.start_time)
        days = run.tags.get("dagster/partition") or (
            f"{run.tags.get(RANGE_START_TAG)} .. {run.tags.get(RANGE_END_TAG)}")
        console.print(f"  {run.run_id[:8]}  {run.status.value:<9} started {started}  days {days}")
        for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = record.dagster_event.event_specific_data
            mark = "pass" if evaluation.passed else ("FAIL" if evaluation.severity.value == "ERROR" else "warn")
            console.print(f"      {mark}  {evaluation.check_name}")


def _print_mart(paths: Paths, console: Console) -> None:
    if not paths.mart_db.exists():
        console.print("[bold]mart[/bold] not published yet")
        return
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        published_at, run_id = con.execute(
            "select published_at, run_id from mart_publication").fetchone()
    console.print(f"[bold]mart[/bold] {paths.mart_db} (published {published_at} UTC by run {run_id[:8]})")
    console.print(f"  Parquet: {paths.mart_parquet_dir}/<table>.parquet")


def _fmt_ts(seconds: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")



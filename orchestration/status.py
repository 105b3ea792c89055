"""`costline status`: what is loaded, the last runs and their checks, where the mart is.

Each run is described from its RunSummary (orchestration/run_records.py), the same one the
CLI's error line and the failure alert word.
"""

import dataclasses
from datetime import UTC

import dagster as dg
import duckdb
from filelock import Timeout
from rich.console import Console
from rich.table import Table

from enforcement import log as enforcement_log
from enforcement.settings import EnforceSettings
from ingestion.settings import Paths
from orchestration.locks import warehouse_lock
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.run_records import run_summary
from orchestration.runner import dagster_instance
from reporting.formatting import count
from reporting.publication import PUBLICATION_TABLE, read_publication
from reporting.run_summary import DIED, STARTED

LOADED_SQL = """
select (select count(*) from raw.telemetry_calls),
       (select min(cast(started_at as date)) from raw.telemetry_calls),
       (select max(cast(started_at as date)) from raw.telemetry_calls),
       (select count(*) from raw.quarantine),
       (select count(distinct source_file) from raw.source_files),
       (select count(*) from raw.billing_costs)
"""
# Cloud bills (FOCUS exports); a warehouse written before they existed has no such table.
FOCUS_ROWS_SQL = """
select count(*) from raw.focus_costs
"""

# Per input (telemetry files, litellm, langfuse, outcomes, ...): the ledger's totals.
BY_INPUT_SQL = """
select input, count(*), sum(records_read), sum(accepted), sum(quarantined), sum(duplicates)
from raw.source_files group by input order by input
"""


def print_status(paths: Paths, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]warehouse[/bold] {paths.warehouse_db}")
    _print_loaded(paths, console)
    _print_runs(paths, console)
    _print_mart(paths, console)
    _print_enforcement(paths, console)


def _print_loaded(paths: Paths, console: Console) -> None:
    if not paths.warehouse_db.exists():
        console.print("  nothing loaded yet")
        return
    try:
        with duckdb.connect(str(paths.warehouse_db), read_only=True) as con:
            calls, first, last, quarantined, files, bill_rows = con.execute(LOADED_SQL).fetchone()
            by_input = con.execute(BY_INPUT_SQL).fetchall()
            has_focus = con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'focus_costs'"
            ).fetchone()[0]
            focus_rows = con.execute(FOCUS_ROWS_SQL).fetchone()[0] if has_focus else 0
    except duckdb.IOException:
        console.print("  the warehouse is busy (a run is in progress); try again when it finishes")
        return
    console.print(f"  calls loaded: {count(calls)} from {count(files)} files, days {first} .. {last}")
    console.print(f"  quarantined records: {count(quarantined)} (see raw.quarantine for file, line and reason)")
    console.print(f"  billing rows: {count(bill_rows)} from provider APIs, {count(focus_rows)} from FOCUS exports")
    if by_input:
        # The ledger per input: read = accepted + quarantined + duplicates, source by source.
        table = Table("input", "files", "read", "accepted", "quarantined", "duplicates", box=None, padding=(0, 1))
        table.columns[0].no_wrap = True
        for column in table.columns[1:]:
            column.justify = "right"
        for name, *figures in by_input:
            table.add_row(name, *(count(n) for n in figures))
        console.print(table)


def _warehouse_locked(paths: Paths) -> bool:
    """Whether a costline process holds the run lock now (the OS drops it when a process dies)."""
    lock = warehouse_lock(paths)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def _print_runs(paths: Paths, console: Console) -> None:
    instance = dagster_instance(paths)
    runs = instance.get_runs(limit=5)
    console.print("[bold]last runs[/bold]" if runs else "[bold]last runs[/bold] none")
    # A run killed (SIGKILL, OOM, power) never records its end: it stays STARTED. With the
    # lock free no process can be running it, so say so instead of "in progress".
    running = _warehouse_locked(paths) if any(r.status == dg.DagsterRunStatus.STARTED for r in runs) else False
    for run in runs:
        stats = instance.get_run_stats(run.run_id)
        started = stats.start_time and _fmt_ts(stats.start_time)
        days = run.tags.get("dagster/partition") or (
            f"{run.tags.get(RANGE_START_TAG)} .. {run.tags.get(RANGE_END_TAG)}"
        )
        summary = run_summary(instance, run.run_id)
        if summary.status == STARTED and not running:
            summary = dataclasses.replace(summary, status=DIED)
        console.print(f"  {run.run_id[:8]}  {summary.status:<9} started {started}  days {days}")
        if summary.status == DIED:
            console.print(f"      {summary.failure_reason()}: run the same days again")
        if summary.passed_checks or summary.failed_checks or summary.warned_checks:
            console.print(f"      {summary.checks_line()}")
        for line in summary.failed_checks:
            console.print(f"      FAIL  {line}")
        for line in summary.warned_checks:
            console.print(f"      warn  {line}")
        if not summary.success and not summary.failed_checks and summary.status not in (STARTED, DIED):
            console.print(f"      {summary.failure_reason()}")  # the checks' FAIL lines say it otherwise


def _print_mart(paths: Paths, console: Console) -> None:
    if not paths.mart_db.exists():
        console.print("[bold]mart[/bold] not published yet")
        return
    publication = read_publication(paths.mart_db)
    if publication is None:
        console.print(f"[bold]mart[/bold] {paths.mart_db} (published before costline recorded publications)")
        return
    run_id = publication.run_id
    console.print(f"[bold]mart[/bold] {paths.mart_db} (published {publication.published_at} UTC by run {run_id[:8]})")
    console.print(f"  Parquet: {paths.mart_parquet_dir}/<table>.parquet")
    parquet_run = _parquet_publication_run(paths)
    if parquet_run is not None and parquet_run != run_id:
        console.print(
            f"  [bold]warning[/bold]: the Parquet files are from run {parquet_run[:8]}, mart.duckdb from "
            f"run {run_id[:8]} (a publish was interrupted between its two renames); each is "
            f"complete, and the next successful run publishes both again"
        )


def _target_key(placed: enforcement_log.InPlace) -> tuple[str, str]:
    return placed.gateway, placed.target


def _print_enforcement(paths: Paths, console: Console) -> None:
    """What the published enforcement_log says is blocked now, and what keeps failing."""
    if not paths.mart_db.exists():
        return
    mode = EnforceSettings.from_env().mode
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        present = con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [enforcement_log.TABLE]
        ).fetchone()[0]
        if not present:
            return

        blocked = sorted(
            (t for t in enforcement_log.in_place(con, "on").values() if t.action == "block"), key=_target_key
        )
        would = sorted(
            (t for t in enforcement_log.in_place(con, "dry-run").values() if t.action == "block"), key=_target_key
        )
        failing = enforcement_log.pending(con)
    console.print(f"[bold]enforcement[/bold] COSTLINE_ENFORCE={mode}")
    for target in blocked:
        console.print(f"  blocked    {target.gateway}/{target.target} (workspace {target.workspace}, {target.month})")
    for target in (t for t in would if t not in blocked):
        console.print(f"  dry-run    {target.gateway}/{target.target} would be blocked (workspace {target.workspace})")
    for (gateway, target), retry in sorted(failing.items()):
        console.print(
            f"  failing    {retry.action} {gateway}/{target}: tried again next run (decision {retry.decision_id})"
        )
    if not (blocked or would or failing):
        console.print("  nothing blocked")


def _parquet_publication_run(paths: Paths) -> str | None:
    marker = paths.mart_parquet_dir / f"{PUBLICATION_TABLE}.parquet"
    if not marker.exists():
        return None  # published before the marker existed
    with duckdb.connect() as con:
        return con.execute("select run_id from read_parquet(?)", [str(marker)]).fetchone()[0]


def _fmt_ts(seconds: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

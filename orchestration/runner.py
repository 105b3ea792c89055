"""Run the daily job in this process (what the CLI and the tests call).

DuckDB is one writer, so a file lock on the warehouse dir makes a second `costline run`
refuse with a clear message instead of failing halfway on a DuckDB lock error.
"""

import contextlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
from filelock import Timeout

from ingestion.settings import INPUT_DIR_ENV, WAREHOUSE_DIR_ENV, Paths
from orchestration.automation import DAILY_JOB, HOURLY_JOB
from orchestration.locks import warehouse_lock
from orchestration.partitions import range_tags
from orchestration.run_fingerprint import forget_last_run
from orchestration.run_records import run_summary
from reporting.run_summary import RunSummary

log = logging.getLogger("costline")

QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# One run at a time for runs launched from the UI or the schedule too (DuckDB is one writer);
# the run record in costline's cheaper SQLite event log (orchestration/run_storage.py), whose
# directory is named in full: an instance opened by path (`DagsterInstance.from_config`) has no
# $DAGSTER_HOME to find it from.
DAGSTER_YAML_MARK = (
    "# written by costline; rewritten when the warehouse moves (edit a copy under your own DAGSTER_HOME)\n"
)
# What earlier versions wrote: upgraded in place (any other dagster.yaml is the user's, kept).
EARLIER_DAGSTER_YAMLS = ("telemetry:\n  enabled: false\nconcurrency:\n  runs:\n    max_concurrent_runs: 1\n",)


def dagster_yaml(dagster_home: Path) -> str:
    """The dagster.yaml costline writes for the instance under the warehouse."""
    runs = json.dumps(str(dagster_home / "history" / "runs"))  # a JSON string is a YAML string
    return (
        DAGSTER_YAML_MARK
        + "telemetry:\n  enabled: false\nconcurrency:\n  runs:\n    max_concurrent_runs: 1\n"
        + "event_log_storage:\n  module: orchestration.run_storage\n  class: CostlineSqliteEventLogStorage\n"
        + f"  config:\n    base_dir: {runs}\n"
    )


# One ASSET_MATERIALIZATION_PLANNED event per asset for a range run instead of one per asset
# and partition (1,710 of the demo's 3,400 events; 20,000 for a year). Dagster's trade-off:
# the partitions of a failed range run show as missing, not failed, in the UI; costline's own
# failure report reads the run, which is unchanged.
PLANNED_EVENTS_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


class WarehouseBusy(RuntimeError):
    pass


# DuckDB's own default is 80% of RAM; a cap makes it spill instead. Measured on a 10M-call day:
# the same 124 s wall with 3.4 GB peak RSS instead of 7.0 GB.
DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"


def use_paths(paths: Paths) -> None:
    """Make every step of this process (and the dbt subprocess) see the same directories."""
    os.environ[INPUT_DIR_ENV] = str(paths.input_dir)
    os.environ[WAREHOUSE_DIR_ENV] = str(paths.warehouse_dir)
    os.environ.setdefault("COSTLINE_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT)


def dagster_instance(paths: Paths) -> dg.DagsterInstance:
    """The persistent instance: $DAGSTER_HOME, else <warehouse>/dagster (run history for `status`)."""
    if not os.environ.get("DAGSTER_HOME"):
        paths.dagster_home.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = paths.dagster_home / "dagster.yaml"
        wanted = dagster_yaml(paths.dagster_home)
        current = config.read_text() if config.exists() else None
        if current != wanted and (
            current is None or current in EARLIER_DAGSTER_YAMLS or current.startswith(DAGSTER_YAML_MARK)
        ):
            config.write_text(wanted)
        os.environ["DAGSTER_HOME"] = str(paths.dagster_home)
    os.environ.setdefault(PLANNED_EVENTS_ENV, "1")
    return dg.DagsterInstance.get()


def run_days(
    paths: Paths,
    start: date,
    end: date,
    wait_seconds: float = 0,
    hourly: bool = False,
    on_success: Callable[[RunSummary], None] | None = None,
) -> RunSummary:
    """One run of the daily job over [start, end] (a single-run backfill when start < end);
    `hourly`: the hourly job (one day, no report), what `costline hourly` runs.

    `on_success` runs under the warehouse lock once the run succeeded (the CLI records the
    run's fingerprint there); the re-run skip's `state/last_run.json` is dropped as any run starts."""
    use_paths(paths)
    # Early and fail-fast: before the definitions load. The job's WarehouseLock resource takes
    # the same (shared, re-entrant) lock object again inside execute_in_process.
    lock = warehouse_lock(paths)
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        raise WarehouseBusy(
            f"another costline process is using the warehouse at {paths.warehouse_dir} "
            f"(lock {lock.lock_file}); wait for it to finish, or pass --wait SECONDS"
        ) from None
    try:
        # Whatever this run does to the warehouse, no earlier run's record describes it now.
        forget_last_run(paths)
        summary = _execute(paths, start, end, HOURLY_JOB if hourly else DAILY_JOB)
        if summary.success and on_success is not None:
            on_success(summary)
        return summary
    finally:
        lock.release()


def _import_gx_in_background() -> None:
    """great-expectations takes 4-5 s to import, all CPU in Python. Started here it overlaps
    ingestion and dbt (which wait on DuckDB and a subprocess); the quality checks' own import
    then finds the module loaded, or waits on Python's import lock for the rest."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

    def load() -> None:
        with contextlib.suppress(Exception):
            import great_expectations  # noqa: F401

    threading.Thread(target=load, name="costline-gx-import", daemon=True).start()


def _execute(paths: Paths, start: date, end: date, job_name: str) -> RunSummary:
    # dbt's own progress (one line per model and test) goes to a log file, not the terminal.
    log_path = paths.warehouse_dir / "logs" / "last_run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings(), open(log_path, "w") as run_log, contextlib.redirect_stdout(run_log):
        warnings.simplefilter("ignore")  # Dagster's beta/preview notices are not for our users
        from orchestration.definitions import defs  # parses dbt when stale: only when a run is asked for

        job = defs().resolve_job_def(job_name)
        # After the definitions' own imports, so the two threads never import one module at once.
        _import_gx_in_background()
        selection = dict(partition_key=start.isoformat()) if start == end else dict(tags=range_tags(start, end))
        instance = dagster_instance(paths)
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET_RUN_CONFIG, **selection
        )
    # Read back from the run's event log, as the failure sensor and `status` read it.
    return run_summary(instance, result.run_id)

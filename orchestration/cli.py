"""The `costline` command: demo, run, hourly, backfill, report, status.

Exit codes: 0 success; 1 the run failed or a blocking quality check failed (the previous mart
stays published); 2 bad usage or missing inputs. Errors are one line saying what to do next.
"""

import logging
import os
import sys
import time
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from ingestion.clock import BadClock, open_day
from ingestion.langfuse.client import PUBLIC_KEY_ENV as LANGFUSE_PUBLIC_KEY_ENV
from ingestion.langfuse.client import SECRET_KEY_ENV as LANGFUSE_SECRET_KEY_ENV
from ingestion.settings import Paths
from ingestion.sources.litellm_spend_logs import DATABASE_URL_ENV as LITELLM_DATABASE_URL_ENV

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="costline: where every cent of your LLM spend went, and whether it was worth it.",
)
log = logging.getLogger("costline")
# Dagster's beta/preview notices are for costline's developers, not its users.
warnings.filterwarnings("ignore", module="dagster.*")

InputDir = Annotated[
    Path | None, typer.Option("--input-dir", help="Input drops (default $COSTLINE_INPUT_DIR or ./data/input).")
]
WarehouseDir = Annotated[
    Path | None,
    typer.Option("--warehouse-dir", help="Warehouse and mart (default $COSTLINE_WAREHOUSE_DIR or ./data/warehouse)."),
]
Wait = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for another costline run to release the warehouse.")
]
Force = Annotated[
    bool,
    typer.Option("--force", help="Run even when nothing changed since the last successful run of the same days."),
]


# Files the warehouse gets (DuckDB files and WALs, Parquet, saved billing pages, logs, Dagster
# storage, report.html, and everything the dbt child writes) are readable by the owner only:
# they hold billing data and usage patterns. Set for the process, so no writer can forget.
OWNER_ONLY_UMASK = 0o077


@app.callback()
def _owner_only_files() -> None:
    os.umask(OWNER_ONLY_UMASK)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("costline: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"costline: error: {message}", err=True)
    raise typer.Exit(code)


def _today() -> date:
    try:
        return open_day()
    except BadClock as bad:
        _fail(str(bad))


def _parse_day(value: str, flag: str) -> date:
    if value.strip().lower() == "today":
        return _today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{flag} must be a date like 2026-10-01 or 'today', got {value!r}")


def _require_not_future(days: list[date]) -> None:
    """Today is a partition (partial until the day ends); a later day is a one-line error."""
    today = _today()
    if days[-1] > today:
        _fail(f"{days[-1]} is in the future; today (UTC) is {today}, and a run of today publishes it as partial")


def _require_input_dir(paths: Paths) -> None:
    if not paths.input_dir.is_dir():
        _fail(
            f"input dir {paths.input_dir} does not exist; set COSTLINE_INPUT_DIR or pass --input-dir "
            f"(or run `costline demo` to generate one)"
        )


def _require_inputs(paths: Paths, days: list[date]) -> None:
    _require_input_dir(paths)
    present = [
        d
        for d in days
        if (paths.telemetry_dir / d.isoformat()).is_dir() or (paths.outcomes_dir / d.isoformat()).is_dir()
    ]
    # A source that fetches (LiteLLM's database, Langfuse's API) has something to load without any folder.
    fetches = os.environ.get(LITELLM_DATABASE_URL_ENV, "").strip() or (
        os.environ.get(LANGFUSE_PUBLIC_KEY_ENV, "").strip() and os.environ.get(LANGFUSE_SECRET_KEY_ENV, "").strip()
    )
    if not present and not fetches:
        span = days[0].isoformat() if len(days) == 1 else f"{days[0]} .. {days[-1]}"
        _fail(
            f"nothing to load for {span}: no folder {paths.telemetry_dir}/YYYY-MM-DD for those days; "
            f"check the date and the input dir"
        )
    missing = len(days) - len(present)
    if missing:
        log.info(
            "%d of %d days have no input folders; they are rebuilt from what is already loaded", missing, len(days)
        )


def _run(paths: Paths, start: date, end: date, wait: float, hourly: bool = False, force: bool = False) -> None:
    from orchestration import run_fingerprint

    started = time.monotonic()
    record = None
    if not hourly:
        # Read-only and cheap (no Dagster import): a re-run with nothing new does nothing.
        window = run_fingerprint.Window(start, end, "daily")
        decision = run_fingerprint.decide(paths, window, _today(), force=force)
        if decision.skip:
            log.info("%s", decision.reason)
            return

        def record(summary) -> None:
            # The fingerprint taken before the run: a file that arrived during it makes the next one differ.
            try:
                run_fingerprint.record_run(paths, window, decision.fingerprint, summary.run_id)
            except OSError as error:  # the run itself succeeded; only the next skip is lost
                log.warning("could not record the run (%s): the next run will not be skipped", error)

    from orchestration.runner import WarehouseBusy, run_days
    from orchestration.spark_engine import EngineError, dbt_engine

    try:
        dbt_engine()
    except EngineError as error:
        _fail(str(error))

    log.info(
        "running %s%s%s (inputs %s, warehouse %s)",
        start,
        "" if start == end else f" .. {end}",
        " (partial: the day has not ended)" if end >= _today() else "",
        paths.input_dir,
        paths.warehouse_dir,
    )
    try:
        summary = run_days(paths, start, end, wait_seconds=wait, hourly=hourly, on_success=record)
    except WarehouseBusy as busy:
        _fail(f"{busy}{f' (waited {wait:g}s)' if wait else ''}", code=1)
    for warning in summary.warned_checks:
        log.warning("warning: %s", warning)
    if not summary.success:
        from reporting.alerts import alert_run_failure
        from reporting.publication import publication_sentence

        # The same door and the same words as the daemon's run-failure sensor.
        alert_run_failure(paths, summary)
        _fail(summary.failure_message(publication_sentence(paths.mart_db, summary.run_id)), code=1)
    log.info(
        "published %s and %s/ in %.0fs (run %s)",
        paths.mart_db,
        paths.mart_parquet_dir,
        time.monotonic() - started,
        summary.run_id,
    )


@app.command()
def run(
    date_: Annotated[str, typer.Option("--date", help="The UTC day to run, YYYY-MM-DD or 'today' (partial).")],
    input_dir: InputDir = None,
    warehouse_dir: WarehouseDir = None,
    wait: Wait = 0,
    force: Force = False,
) -> None:
    """The daily job for one day (what the daily schedule runs); today publishes what has arrived, as partial.
    Nothing to do when nothing changed since the last successful run of the day: --force runs anyway."""
    _setup_logging()
    day = _parse_day(date_, "--date")
    paths = Paths.from_env(input_dir, warehouse_dir)
    _require_not_future([day])
    _require_inputs(paths, [day])
    _run(paths, day, day, wait, force=force)


@app.command()
def hourly(
    input_dir: InputDir = None,
    warehouse_dir: WarehouseDir = None,
    wait: Wait = 0,
) -> None:
    """What the hourly schedule runs (for cron: `5 * * * * costline hourly`): the new files of the
    day of the hour that just closed, the mart with today partial, the intraday alerts."""
    from ingestion.clock import last_closed_hour

    _setup_logging()
    try:
        day = last_closed_hour().date()
    except BadClock as bad:
        _fail(str(bad))
    paths = Paths.from_env(input_dir, warehouse_dir)
    # No folder for the day yet is fine here (just after midnight, or pull sources only).
    _require_input_dir(paths)
    _run(paths, day, day, wait, hourly=True)


@app.command()
def backfill(
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last day (included), YYYY-MM-DD.")],
    input_dir: InputDir = None,
    warehouse_dir: WarehouseDir = None,
    wait: Wait = 0,
    force: Force = False,
) -> None:
    """Every day from --start to --end in one run (nothing to do when nothing changed since the
    last successful run of the same days: pass --force to run anyway)."""
    from orchestration.partitions import days_between

    _setup_logging()
    first, last = _parse_day(start, "--start"), _parse_day(end, "--end")
    if last < first:
        _fail(f"--end {last} is before --start {first}")
    paths = Paths.from_env(input_dir, warehouse_dir)
    _require_not_future([last])
    _require_inputs(paths, days_between(first, last))
    _run(paths, first, last, wait, force=force)


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="Days of demo history.")] = 30,
    end: Annotated[str | None, typer.Option(help="Last demo day (default: yesterday UTC).")] = None,
    calls_per_day: Annotated[int, typer.Option(help="Average calls per day.")] = 4000,
    input_dir: InputDir = None,
    warehouse_dir: WarehouseDir = None,
) -> None:
    """Generate realistic demo inputs, run every day, publish the mart and print the KPIs."""
    from orchestration.demo import generate_demo
    from reporting.workspace_table import print_workspace_table

    _setup_logging()
    paths = Paths.from_env(input_dir, warehouse_dir)
    last = _parse_day(end, "--end") if end else _today() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    try:
        generate_demo(paths, first, last, calls_per_day)
    except FileExistsError as exists:
        _fail(str(exists))
    _run(paths, first, last, wait=0)
    print_workspace_table(paths)


@app.command()
def report(
    month: Annotated[str | None, typer.Option(help="The month, YYYY-MM (default: the latest in the mart).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the HTML (default: <warehouse>/report.html).")
    ] = None,
    input_dir: InputDir = None,
    warehouse_dir: WarehouseDir = None,
) -> None:
    """Write the stakeholder report: one self-contained HTML file from the published mart."""
    from orchestration.delivery import report_command
    from reporting.report_data import ReportError

    _setup_logging()
    paths = Paths.from_env(input_dir, warehouse_dir)
    try:
        written = report_command(paths, month=month, out=out)
    except ReportError as error:
        _fail(str(error))
    log.info("report written to %s", written)


@app.command()
def status(input_dir: InputDir = None, warehouse_dir: WarehouseDir = None) -> None:
    """What is loaded, the last runs and their checks, and where the mart is."""
    from orchestration.status import print_status

    _setup_logging()
    paths = Paths.from_env(input_dir, warehouse_dir)
    if not paths.warehouse_dir.exists():
        _fail(f"no warehouse at {paths.warehouse_dir}; run `costline demo` or `costline run --date YYYY-MM-DD`")
    print_status(paths)


if __name__ == "__main__":
    app()

"""`costline demo`: realistic inputs into the input dir, and the KPI table printed at the end."""
import logging
import shutil
from datetime import date
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from demo.billing_pages import write_demo_billing_pages
from demo.inputs import generate_demo_inputs
from ingestion.settings import Paths

log = logging.getLogger("costline.demo")
DEMO_MARKER = ".costline-demo"


def _claim(directory: Path, what: str) -> None:
    """Only ever overwrite a directory that a previous demo wrote (or an empty one)."""
    if directory.exists() and any(directory.iterdir()) and not (directory / DEMO_MARKER).exists():
        raise FileExistsError(
            f"{what} {directory} already holds data that `costline demo` did not write; "
            f"pass --input-dir/--warehouse-dir pointing somewhere else")
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=0o700)
    (directory / DEMO_MARKER).write_text("written by costline demo; safe to delete\n")


def generate_demo(paths: Paths, first: date, last: date, calls_per_day: int) -> None:
    _claim(paths.input_dir, "input dir")
    _claim(paths.warehouse_dir, "warehouse dir")
    days = (last - first).days + 1
    log.info("generating %d days of demo inputs (%s .. %s, ~%d calls/day) in %s",
             days, first, last, calls_per_day, paths.input_dir)
    summary = generate_demo_inputs(paths.input_dir, end=last, days=days, calls_per_day=calls_per_day)
    pages = write_demo_billing_pages(paths.billing_dir, summary.usage)
    log.info("demo inputs: %d calls, %d requests in %d files, %d billing pages",
             summary.calls, summary.requests, summary.files, pages)


KPI_SQL = """
with kpis as (
    select workspace, sum(cost_usd) as spend, sum(requests) as requests,
           sum(successful_requests) as successes,
           sum(cost_usd * retry_cost_share) as retry_cost
    from workspace_kpis_daily group by workspace
), burn as (
    select workspace, consumed_pct, status,
           row_number() over (partition by workspace order by day desc) as latest
    from budget_burn
)
select k.workspace, k.spend, k.spend / nullif(k.requests, 0) as per_request,
       k.spend / nullif(k.successes, 0) as per_success,
       k.retry_cost / nullif(k.spend, 0) as retry_share,
       b.consumed_pct, b.status
from kpis k left join burn b on b.workspace = k.workspace and b.latest = 1
order by k.spend desc
"""


def print_kpis(paths: Paths, console: Console | None = None) -> None:
    console = console or Console()
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        rows = con.execute(KPI_SQL).fetchall()
        first, last = con.execute("select min(day), max(day) from daily_spend").fetchone()
    table = Table(title=f"costline KPIs per workspace, {first} .. {last}")
    for header in ("workspace", "spend", "cost / request", "cost / success", "retry cost share",
                   "budget used (month)", "status"):
        table.add_column(header, justify="left" if header in ("workspace", "status") else "right",
                         no_wrap=header in ("workspace", "status"))
    for workspace, spend, per_request, per_success, retry_share, consumed, status in rows:
        table.add_row(workspace, _usd(spend, 2), _usd(per_request, 4), _usd(per_success, 4),
                      _pct(retry_share), _pct(consumed), status or "-")
    console.print(table)
    console.print(f"mart: {paths.mart_db}  (Parquet: {paths.mart_parquet_dir}/)")


def _usd(value, places: int) -> str:
    return "-" if value is None else f"${value:,.{places}f}"


def _pct(value) -> str:
    return "-" if value is None else f"{float(value):.1%}"

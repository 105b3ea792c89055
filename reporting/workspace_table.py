"""The table `costline demo` prints: each workspace's spend and unit costs over the demo.

Every figure is a column of the published mart's `workspace_summary`; this module only lays
them out (reporting/formatting.py writes them).
"""

import duckdb
from rich.console import Console
from rich.table import Table

from ingestion.settings import Paths
from reporting.formatting import pct, usd

COLUMNS = (
    "workspace",
    "spend",
    "cost / request",
    "cost / success",
    "retry cost share",
    "budget used (month)",
    "status",
)
ROWS_SQL = """
select workspace, cost_usd, avg_cost_per_request_usd, cost_per_success_usd, retry_cost_share,
       budget_consumed_pct, budget_status
from workspace_summary
order by cost_usd desc, workspace
"""
# A table cell with no value (no request, no budget) reads as a dash.
NONE = "-"


def print_workspace_table(paths: Paths, console: Console | None = None) -> None:
    console = console or Console()
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        rows = con.execute(ROWS_SQL).fetchall()
        first, last = con.execute("select min(first_day), max(last_day) from workspace_summary").fetchone()
    table = Table(title=f"costline KPIs per workspace, {first} .. {last}")
    for header in COLUMNS:
        text = header in ("workspace", "status")
        table.add_column(header, justify="left" if text else "right", no_wrap=text)
    for workspace, spend, per_request, per_success, retry_share, consumed, status in rows:
        table.add_row(
            workspace,
            usd(spend, missing=NONE),
            usd(per_request, places=4, missing=NONE),
            usd(per_success, places=4, missing=NONE),
            pct(retry_share, missing=NONE),
            pct(consumed, missing=NONE),
            status or NONE,
        )
    console.print(table)
    console.print(f"mart: {paths.mart_db}  (Parquet: {paths.mart_parquet_dir}/)")

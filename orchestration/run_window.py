"""The days a run rebuilds: its partition days plus every day its loaded inputs touched.

Shared by the dbt step (which passes the window to dbt) and the quality gate (which checks
exactly those days), so both always agree on the window.
"""

from datetime import date
from pathlib import Path

from ingestion.warehouse import connect


def rebuild_window(partition_days: list[date], event_days: list[date]) -> tuple[date, date]:
    """The days dbt must rebuild: the partition days plus every day the loaded files touched.

    Late files put records on earlier days; outcomes and restated bills change earlier days.
    """
    days = [*partition_days, *event_days]
    return min(days), max(days)


def event_days_loaded_by(run_id: str, warehouse_db: Path) -> list[date]:
    with connect(warehouse_db, read_only=True) as con:
        row = con.execute(
            "select min(min_event_day), max(max_event_day) from raw.source_files where load_id = ?", [run_id]
        ).fetchone()
    return [d for d in row if d is not None]

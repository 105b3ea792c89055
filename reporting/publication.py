"""Which run's mart readers see now, from `mart_publication` in the published mart.

The report's footer, the failure alert, the CLI's failure line and `costline status` all say
this; they read it here, from mart.duckdb only (never the warehouse).
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

PUBLICATION_TABLE = "mart_publication"


@dataclass(frozen=True)
class Publication:
    published_at: datetime
    run_id: str


def latest_publication(con: duckdb.DuckDBPyConnection) -> Publication | None:
    """The mart's publication row; None for a mart published before the table existed."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [PUBLICATION_TABLE]
    ).fetchone()[0]
    if not exists:
        return None
    row = con.execute(
        f"select published_at, run_id from {PUBLICATION_TABLE} order by published_at desc limit 1"
    ).fetchone()
    return Publication(*row) if row else None


def read_publication(mart_db: Path) -> Publication | None:
    if not Path(mart_db).exists():
        return None
    with duckdb.connect(str(mart_db), read_only=True) as con:
        return latest_publication(con)


def publication_sentence(mart_db: Path, run_id: str) -> str:
    """What BI readers see now, after run `run_id` failed: one clause, no final period."""
    if not Path(mart_db).exists():
        return "no mart has been published yet"
    try:
        publication = read_publication(mart_db)
    except duckdb.Error:
        publication = None  # an unreadable or older mart is still the published one
    if publication is None:
        return f"the previous mart is still published at {mart_db}"
    if publication.run_id == run_id:
        return f"this run published the new mart at {mart_db}, but a later step failed"
    return (
        f"the previous mart is still published at {mart_db} "
        f"(published {publication.published_at:%Y-%m-%d %H:%M} UTC by run {publication.run_id})"
    )

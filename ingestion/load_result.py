"""What a load of input files produced, and the ledger rows that record it.

`FileLoad` is one row of `raw.source_files`; the ledger identity
`records_read = accepted + quarantined + duplicates` holds for every file a loader writes.
"""
import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone

import duckdb

log = logging.getLogger("costline.ingestion")


@dataclass(frozen=True)
class FileLoad:
    """One input file as loaded: one row of raw.source_files."""

    source_file: str
    file_format: str
    records_read: int
    accepted: int
    quarantined: int
    duplicates: int
    min_event_day: date | None
    max_event_day: date | None


@dataclass(frozen=True)
class FolderLoad:
    """Every file of one input day folder (`telemetry` or `outcomes`)."""

    input: str
    day: date
    files: tuple[FileLoad, ...]

    @property
    def records_read(self) -> int:
        return sum(f.records_read for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def min_event_day(self) -> date | None:
        days = [f.min_event_day for f in self.files if f.min_event_day is not None]
        return min(days) if days else None

    @property
    def max_event_day(self) -> date | None:
        days = [f.max_event_day for f in self.files if f.max_event_day is not None]
        return max(days) if days else None


@dataclass(frozen=True)
class ReferenceLoad:
    """Rows loaded from the reference files (each fully replaced on every load)."""

    deployments: int
    budgets: int
    workspaces: int
    quarantined: int


def utc_now() -> datetime:
    """Load time as naive UTC, the convention of every raw TIMESTAMP column."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def write_ledger_rows(con: duckdb.DuckDBPyConnection, input_name: str, folder: date | None,
                      rows: list[tuple[FileLoad, int]], load_id: str, loaded_at: datetime) -> None:
    """Insert one raw.source_files row per (FileLoad, file_bytes); a handful of rows per load."""
    if not rows:
        return
    con.executemany(
        "insert into raw.source_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (input_name, folder, f.source_file, f.file_format, size, f.records_read, f.accepted,
             f.quarantined, f.duplicates, f.min_event_day, f.max_event_day, load_id, loaded_at)
            for f, size in rows
        ],
    )


def log_file_load(f: FileLoad, seconds: float) -> None:
    log.info("%s: %d records, %d accepted / %d quarantined / %d duplicates, %.2f s",
             f.source_file, f.records_read, f.accepted, f.quarantined, f.duplicates, seconds)

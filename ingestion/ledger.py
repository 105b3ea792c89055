"""The file ledger (`raw.source_files`) and the one transaction helper every loader uses.

`FileLoad` is one ledger row; the identity `records_read = accepted + quarantined + duplicates`
holds for every file a loader writes, and the great-expectations gate checks it per input.
Billing loads write one row per provider fetch, so the dbt step knows which days to rebuild.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

log = logging.getLogger("costline.ingestion")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All of a load's raw writes or none: a crash before COMMIT leaves the previous state."""
    con.execute("begin transaction")
    try:
        yield con
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


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
    files: tuple[FileLoad, ...]  # the files this load read
    # Files of the folder loaded by an earlier run and unchanged since: not read again.
    unchanged: int = 0

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


def utc_now() -> datetime:
    """Load time as naive UTC, the convention of every raw TIMESTAMP column."""
    return datetime.now(UTC).replace(tzinfo=None)


def write_ledger_rows(
    con: duckdb.DuckDBPyConnection,
    input_name: str,
    folder: date | None,
    rows: list[tuple[FileLoad, int]],
    load_id: str,
    loaded_at: datetime,
) -> None:
    """Insert one raw.source_files row per (FileLoad, file_bytes); a handful of rows per load."""
    if not rows:
        return
    con.executemany(
        "insert into raw.source_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                input_name,
                folder,
                f.source_file,
                f.file_format,
                size,
                f.records_read,
                f.accepted,
                f.quarantined,
                f.duplicates,
                f.min_event_day,
                f.max_event_day,
                load_id,
                loaded_at,
            )
            for f, size in rows
        ],
    )


def log_file_load(f: FileLoad, seconds: float) -> None:
    log.debug(
        "%s: %d records, %d accepted / %d quarantined / %d duplicates, %.2f s",
        f.source_file,
        f.records_read,
        f.accepted,
        f.quarantined,
        f.duplicates,
        seconds,
    )


def write_fetch_row(
    con: duckdb.DuckDBPyConnection,
    input_name: str,
    source_file: str,
    file_format: str,
    records: int,
    days: tuple[date, ...],
    load_id: str,
) -> None:
    """One ledger row for an API fetch (no folder, no file), naming the days it replaced."""
    if not days:
        return
    con.execute(
        "insert into raw.source_files values (?, null, ?, ?, 0, ?, ?, 0, 0, ?, ?, ?, ?)",
        [input_name, source_file, file_format, records, records, min(days), max(days), load_id, utc_now()],
    )

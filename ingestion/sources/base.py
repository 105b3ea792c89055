"""What a source is: the one interface every input of costline implements.

A source reads or fetches a window of days and writes raw tables of the warehouse, with its
quarantine rows (`raw.quarantine`) and ledger rows (`raw.source_files`) in the same
transaction. The Dagster wiring (`orchestration/sources.py`) makes one asset per source from
the registry (`ingestion/sources/registry.py`), keyed `raw/<name>`; dbt's sources are mapped
to the source that writes each table, so lineage in the UI is the real data path.

To add a source: one module in this package with a `Source` subclass, its tests, and one line
in the registry. Nothing here imports Dagster: sources are plain Python and testable alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

import duckdb

from ingestion.settings import Paths

# The raw tables every file source writes beside its own: the bookkeeping of what was read.
LEDGER_TABLES = ("quarantine", "source_files")


@dataclass(frozen=True)
class SourceLoad:
    """What one load of a source did, for logs, asset metadata and the run summary."""

    rows: int  # records accepted into the source's raw tables
    quarantined: int = 0  # records refused, each in raw.quarantine with a reason
    metadata: dict[str, str | int] = field(default_factory=dict)
    # Problems that do not stop the run (a provider API down): a WARN check names them.
    warnings: tuple[str, ...] = ()


class Source(ABC):
    """One input of costline (subclasses set the class attributes and implement `load`)."""

    name: ClassVar[str]  # asset `raw/<name>`; unique in the registry
    kind: ClassVar[str]  # telemetry | outcomes | reference | prices | billing
    tables: ClassVar[tuple[str, ...]]  # raw tables it writes (besides LEDGER_TABLES)
    description: ClassVar[str]
    # Sources whose raw rows this one reads while loading (prices are looked up for the
    # models telemetry saw): they load first, and the asset graph shows why.
    after: ClassVar[tuple[str, ...]] = ()
    # Environment variables the source reads when it loads (listed in the README).
    settings_env: ClassVar[tuple[str, ...]] = ()
    # A WARN asset check that fails when `SourceLoad.warnings` is not empty.
    warning_check: ClassVar[str | None] = None
    # Dagster asset kinds shown in the UI beside "duckdb".
    asset_kinds: ClassVar[tuple[str, ...]] = ("python",)

    @property
    def writes(self) -> tuple[str, ...]:
        return (*self.tables, *LEDGER_TABLES)

    @abstractmethod
    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        """Load the window `days` (ascending UTC days) into the warehouse open on `con`."""

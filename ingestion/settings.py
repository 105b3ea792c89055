"""The one place that knows where inputs and the warehouse live."""
import os
from dataclasses import dataclass
from pathlib import Path

INPUT_DIR_ENV = "COSTLINE_INPUT_DIR"
WAREHOUSE_DIR_ENV = "COSTLINE_WAREHOUSE_DIR"
DEFAULT_INPUT_DIR = "data/input"
DEFAULT_WAREHOUSE_DIR = "data/warehouse"


@dataclass(frozen=True)
class Paths:
    """Input and warehouse locations; every other path is derived here."""

    input_dir: Path
    warehouse_dir: Path

    @classmethod
    def from_env(cls, input_dir: str | os.PathLike | None = None,
                 warehouse_dir: str | os.PathLike | None = None) -> "Paths":
        return cls(
            input_dir=Path(input_dir or os.environ.get(INPUT_DIR_ENV) or DEFAULT_INPUT_DIR).resolve(),
            warehouse_dir=Path(warehouse_dir or os.environ.get(WAREHOUSE_DIR_ENV) or DEFAULT_WAREHOUSE_DIR).resolve(),
        )

    # --- inputs -------------------------------------------------------------
    @property
    def telemetry_dir(self) -> Path:
        return self.input_dir / "telemetry"

    @property
    def outcomes_dir(self) -> Path:
        return self.input_dir / "outcomes"

    @property
    def billing_dir(self) -> Path:
        return self.input_dir / "billing"

    # --- warehouse ----------------------------------------------------------
    @property
    def warehouse_db(self) -> Path:
        """Every layer (raw, staging, intermediate, marts) for the data team."""
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def mart_db(self) -> Path:
        """The published mart BI tools read."""
        return self.warehouse_dir / "mart.duckdb"

    @property
    def mart_parquet_dir(self) -> Path:
        """A symlink to the current published Parquet directory (swapped atomically)."""
        return self.warehouse_dir / "mart"

    @property
    def landing_dir(self) -> Path:
        """Raw provider API pages saved before parsing."""
        return self.warehouse_dir / "landing"

    @property
    def dagster_home(self) -> Path:
        return self.warehouse_dir / "dagster"

    def ensure_warehouse_dir(self) -> None:
        # Owner-only: the warehouse holds billing data and usage patterns.
        self.warehouse_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

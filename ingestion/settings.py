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
    def from_env(
        cls, input_dir: str | os.PathLike | None = None, warehouse_dir: str | os.PathLike | None = None
    ) -> "Paths":
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

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's target folder for this warehouse: kept between runs so dbt parses partially."""
        return self.warehouse_dir / "dbt_target"

    def ensure_warehouse_dir(self) -> None:
        # Owner-only: the warehouse holds billing data and usage patterns.
        self.warehouse_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


# --- test-only fault injection ----------------------------------------------------------
# The reliability suite SIGKILLs a run at named points (tests/test_reliability_crashes.py).
# Inert unless COSTLINE_TEST_PAUSE_AT names the point: never set it in production.
TEST_PAUSE_ENV = "COSTLINE_TEST_PAUSE_AT"
TEST_PAUSE_SIGNAL_ENV = "COSTLINE_TEST_PAUSE_SIGNAL"
TEST_PAUSE_LIMIT_S = 600.0


def pause_for_test(point: str) -> None:
    """Hold the process at `point` while the test harness kills it or lets it go on.

    When COSTLINE_TEST_PAUSE_AT equals `point`, create the file named by
    COSTLINE_TEST_PAUSE_SIGNAL and wait until the harness deletes it (or 10 minutes pass).
    """
    if os.environ.get(TEST_PAUSE_ENV) != point:
        return
    import time

    signal = Path(os.environ[TEST_PAUSE_SIGNAL_ENV])
    signal.write_text(f"{os.getpid()} paused at {point}\n")
    deadline = time.monotonic() + TEST_PAUSE_LIMIT_S
    while signal.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

"""Shared fixtures. Telemetry of every tool is off for the whole test session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

for name, value in {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "1",
}.items():
    os.environ[name] = value

REPO = Path(__file__).resolve().parents[1]
COSTLINE = [sys.executable, "-m", "orchestration.cli"]


def run_costline(
    *args: str, input_dir: Path, warehouse_dir: Path, env: dict | None = None, check: bool = False, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, the way a user or the schedule does."""
    full_env = {
        **os.environ,
        "COSTLINE_INPUT_DIR": str(input_dir),
        "COSTLINE_WAREHOUSE_DIR": str(warehouse_dir),
        **(env or {}),
    }
    full_env.pop("DAGSTER_HOME", None)
    result = subprocess.run([*COSTLINE, *args], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"costline {' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


@pytest.fixture(scope="session")
def demo_mart(tmp_path_factory) -> dict:
    """One 30-day demo built by the real CLI; many tests read what it published."""
    root = tmp_path_factory.mktemp("demo")
    input_dir, warehouse_dir = root / "input", root / "warehouse"
    result = run_costline(
        "demo",
        "--end",
        "2026-10-30",
        "--days",
        "30",
        "--calls-per-day",
        "1500",
        input_dir=input_dir,
        warehouse_dir=warehouse_dir,
        check=True,
    )
    return {
        "input_dir": input_dir,
        "warehouse_dir": warehouse_dir,
        "result": result,
        "mart_db": warehouse_dir / "mart.duckdb",
    }


# The longest test files, longest first (measured with --durations on the 2-core CI machine).
# xdist's --dist loadfile hands files to workers in collection order: starting these first
# keeps one of them from being the last file still running while the other worker idles.
SLOWEST_FIRST = (
    "test_spark.py",
    "test_intraday.py",
    "test_reliability_crashes.py",
    "test_reliability_daemon.py",
    "test_reliability_idempotency.py",
    "test_focus_import.py",
    "test_pipeline.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise

"""A re-run with nothing new does nothing: the real CLI, a 3-day backfill, the same backfill
again (skipped in seconds, the mart untouched), then one input file touched (a real run).

Two real runs in all; the fingerprint's cases are tests/test_run_fingerprint.py.
"""

import hashlib
import json
import os
import time
from datetime import date
from pathlib import Path

import pytest
from conftest import run_costline

from demo.inputs import generate_demo_inputs

pytestmark = pytest.mark.pipeline

START, END = date(2026, 10, 1), date(2026, 10, 3)
# A fixed clock two days after the window: the window never reaches the open day.
ENV = {"COSTLINE_NOW": "2026-10-05T09:00:00Z"}
BACKFILL = ("backfill", "--start", START.isoformat(), "--end", END.isoformat())


def _stamp(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_rerun_with_nothing_new_is_skipped_and_a_touched_file_runs_again(tmp_path):
    input_dir, warehouse_dir = tmp_path / "input", tmp_path / "warehouse"
    generate_demo_inputs(input_dir, END, days=3, calls_per_day=200)
    dirs = dict(input_dir=input_dir, warehouse_dir=warehouse_dir, env=ENV)

    first = run_costline(*BACKFILL, **dirs, check=True)
    assert "nothing changed" not in first.stderr
    mart, warehouse = warehouse_dir / "mart.duckdb", warehouse_dir / "warehouse.duckdb"
    state = warehouse_dir / "state" / "last_run.json"
    record = json.loads(state.read_text())
    assert record["window"] == {"start": "2026-10-01", "end": "2026-10-03", "job": "daily"}
    assert len(record["fingerprint"]) == 64
    assert state.stat().st_mode & 0o777 == 0o600
    before = _stamp(mart), _stamp(warehouse), os.readlink(warehouse_dir / "mart")

    started = time.monotonic()
    again = run_costline(*BACKFILL, **dirs)
    elapsed = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    assert f"nothing changed since run {record['run_id']}" in again.stderr
    assert "2026-10-01 .. 2026-10-03" in again.stderr and "--force" in again.stderr
    assert "running" not in again.stderr and f"published {mart}" not in again.stderr
    assert elapsed < 10, f"the skipped re-run took {elapsed:.1f} s"
    assert (_stamp(mart), _stamp(warehouse), os.readlink(warehouse_dir / "mart")) == before

    # A file of the window rewritten (same bytes, new mtime): the next run is real.
    touched = next((input_dir / "telemetry" / "2026-10-02").iterdir())
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    real = run_costline(*BACKFILL, **dirs, check=True)
    assert "nothing changed" not in real.stderr and f"published {mart}" in real.stderr
    assert _stamp(mart)[0] != before[0][0]
    assert json.loads(state.read_text())["run_id"] != record["run_id"]

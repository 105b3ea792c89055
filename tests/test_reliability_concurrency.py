"""Concurrency: BI readers during a publish, and two `costline run` processes at once.

Readers use the real demo mart; the publisher is another process, as in production. A
reader holding `mart.duckdb` or a Parquet file open keeps its snapshot; a reader that opens
during the publish sees the old or the new mart, never a mix; new readers see the new one.
(tests/test_reliability_outages.py also holds a reader across a real `costline run`.)
"""

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import REPO
from test_reliability_crashes import Run, ledger, published

from ingestion.settings import TEST_PAUSE_ENV, TEST_PAUSE_SIGNAL_ENV, Paths

pytestmark = pytest.mark.pipeline

# Two tables whose totals must agree within one publication (both are the attributed spend).
PAIR_SQL = {
    "duckdb": "select (select sum(cost_usd) from daily_spend), (select sum(cost_usd) from workspace_kpis_daily)",
    "parquet": "select (select sum(cost_usd) from read_parquet(?)), (select sum(cost_usd) from read_parquet(?))",
}


def _duckdb_pair(con) -> tuple:
    return con.execute(PAIR_SQL["duckdb"]).fetchone()


def _fresh_duckdb_pair(mart_db: Path) -> tuple:
    """A new reader. ATTACH, not duckdb.connect: within one process connect() reuses the
    database instance another open connection holds, which still reads the old file."""
    with duckdb.connect() as con:
        con.execute("attach ? as mart (read_only)", [str(mart_db)])
        con.execute("use mart")
        return _duckdb_pair(con)


def _parquet_pair(version_dir: Path) -> tuple:
    with duckdb.connect() as con:
        return con.execute(
            PAIR_SQL["parquet"],
            [str(version_dir / "daily_spend.parquet"), str(version_dir / "workspace_kpis_daily.parquet")],
        ).fetchone()


def _publish_in_another_process(paths: Paths, run_id: str) -> subprocess.Popen:
    code = (
        "import sys\nfrom ingestion.settings import Paths\nfrom orchestration.publish import publish_mart\n"
        f"paths = Paths.from_env({str(paths.input_dir)!r}, {str(paths.warehouse_dir)!r})\n"
        f"publish_mart(paths, sys.argv[1:], {run_id!r})\n"
    )
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' and table_name <> 'mart_publication'"
            ).fetchall()
        ]
    return subprocess.Popen([sys.executable, "-c", code, *tables], cwd=REPO, stderr=subprocess.PIPE, text=True)


def test_readers_during_a_publish_see_one_complete_mart(demo_mart, tmp_path):
    paths = Paths(tmp_path / "input", tmp_path / "warehouse")
    shutil.copytree(demo_mart["warehouse_dir"], paths.warehouse_dir, symlinks=True)
    # The next build doubles every cost (a stand-in for a day of new spend).
    with duckdb.connect(str(paths.warehouse_db)) as con:
        for table in ("daily_spend", "workspace_kpis_daily"):
            con.execute(f"update marts.{table} set cost_usd = cost_usd * 2")

    held = duckdb.connect(str(paths.mart_db), read_only=True)
    held_parquet = open(paths.mart_parquet_dir / "daily_spend.parquet", "rb")
    old = _duckdb_pair(held)
    new = tuple(v * 2 for v in old)
    assert old[0] == old[1] and old[0] > 0
    seen: dict[str, set] = {"held": set(), "fresh duckdb": set(), "fresh parquet": set()}
    errors: list[str] = []
    iterations: list[float] = []
    done = threading.Event()

    def read_while_publishing() -> None:
        while not done.is_set():
            try:
                seen["held"].add(_duckdb_pair(held))
                seen["fresh duckdb"].add(_fresh_duckdb_pair(paths.mart_db))
                # A Parquet reader resolves `mart` once per query: that is one publication.
                seen["fresh parquet"].add(_parquet_pair(paths.mart_parquet_dir.resolve()))
            except Exception as error:  # noqa: BLE001 - any read failure is the finding
                errors.append(repr(error))
            iterations.append(time.monotonic())

    reader = threading.Thread(target=read_while_publishing)
    reader.start()
    try:
        publisher = _publish_in_another_process(paths, "run-concurrent")
        _, stderr = publisher.communicate(timeout=300)
        assert publisher.returncode == 0, stderr
        published_at = time.monotonic()
        while not [t for t in iterations if t > published_at + 0.5] and time.monotonic() < published_at + 60:
            time.sleep(0.05)  # let a whole read start after the publish
    finally:
        done.set()
        reader.join()
    try:
        assert errors == []
        assert seen["held"] == {old}  # the held connection never moved
        assert seen["fresh duckdb"] <= {old, new} and new in seen["fresh duckdb"]
        assert seen["fresh parquet"] <= {old, new} and new in seen["fresh parquet"]
        held_rows = pq.read_table(held_parquet).column("cost_usd").to_pylist()
        assert sum(held_rows) == old[0]  # the open Parquet file too
    finally:
        held.close()
        held_parquet.close()
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        assert _duckdb_pair(con) == new
        assert con.execute("select run_id from mart_publication").fetchone() == ("run-concurrent",)


def test_second_run_refuses_or_waits_while_a_run_holds_the_warehouse(demo_mart, tmp_path):
    paths = Paths(tmp_path / "input", tmp_path / "warehouse")
    shutil.copytree(demo_mart["input_dir"], paths.input_dir)
    shutil.copytree(demo_mart["warehouse_dir"], paths.warehouse_dir, symlinks=True)
    before, before_ledger = published(paths.warehouse_dir), ledger(paths.warehouse_dir)
    signal_file = tmp_path / "paused"
    first = Run(
        ("run", "--date", "2026-10-30"),
        paths,
        tmp_path,
        {TEST_PAUSE_ENV: "billing-store", TEST_PAUSE_SIGNAL_ENV: str(signal_file)},
    )
    try:
        # The first run is mid-ingestion, holding the lock and an open write transaction.
        first.wait_for(signal_file.exists, "the first run to start loading")
        refused = Run(("run", "--date", "2026-10-29"), paths, tmp_path)
        waited = Run(("run", "--date", "2026-10-29", "--wait", "3"), paths, tmp_path)
        started = time.monotonic()
        assert refused.finish(120) == 1
        assert waited.finish(120) == 1
        assert time.monotonic() - started >= 3
    finally:
        first.kill()
    for second, suffix in ((refused, ""), (waited, " (waited 3s)")):
        lines = second.stderr.strip().splitlines()
        assert lines[-1].startswith("costline: error: another costline process is using the warehouse"), lines
        assert lines[-1].endswith(f"pass --wait SECONDS{suffix}")
        assert "Traceback" not in second.stderr
    # Nothing corrupted: the mart and every raw table are as they were.
    assert published(paths.warehouse_dir) == before
    assert ledger(paths.warehouse_dir) == before_ledger

"""Crashes: SIGKILL a run (its whole process group, dbt child included) during ingestion,
during the dbt build and during publish. The published mart stays the previous complete one,
and the next run completes and publishes exactly what an uninterrupted run publishes.

The kill points: ingestion and publish are held at named test-only pause points
(COSTLINE_TEST_PAUSE_AT, see ingestion/settings.py); the dbt build is long enough to catch by
watching <warehouse>/logs/last_run.log. The uninterrupted reference is the session demo,
built by the same inputs in one uninterrupted backfill.
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import COSTLINE, REPO
from filelock import FileLock
from mart_fixture import two_table_warehouse

from ingestion.settings import TEST_PAUSE_ENV, TEST_PAUSE_SIGNAL_ENV, Paths

pytestmark = pytest.mark.pipeline

RERUN = ("backfill", "--start", "2026-10-28", "--end", "2026-10-30")
DBT_MID_BUILD = "OK created sql incremental model marts.daily_spend"
LEDGER_SQL = """
    select t.*, o.*, q.*, f.*, c.*, u.*
    from (select count(*) as calls from raw.telemetry_calls) t,
         (select count(*) as outcomes from raw.outcomes) o,
         (select count(*) as quarantined from raw.quarantine) q,
         (select sum(records_read), sum(accepted), sum(quarantined), sum(duplicates)
          from raw.source_files where input = 'telemetry') f,
         (select sum(amount_usd) as billed from raw.billing_costs) c,
         (select count(*) as usage_rows from raw.billing_usage) u"""


def published(warehouse_dir: Path) -> dict:
    """Every published table (DuckDB and Parquet), sorted, and the publication's run."""
    with duckdb.connect(str(warehouse_dir / "mart.duckdb"), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main' order by 1"
            ).fetchall()
        ]
        run_id = con.execute("select run_id from mart_publication").fetchone()[0]
        data = {
            t: sorted(con.execute(f'select * from "{t}"').fetchall(), key=repr)
            for t in tables
            if t != "mart_publication"
        }
    parquet = {t: pq.read_table(warehouse_dir / "mart" / f"{t}.parquet").num_rows for t in data}
    return {"run_id": run_id, "tables": data, "parquet_rows": parquet}


def ledger(warehouse_dir: Path) -> tuple:
    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(LEDGER_SQL).fetchone()


def group_members(pgid: int) -> dict[tuple[int, int], str]:
    """Live (non-zombie) processes of a process group: (pid, start time) -> command name.

    The start time makes the identity: once the group is gone its number can be reused by an
    unrelated process (CI once saw a `tail` there), which is not something the kill left behind."""
    members = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        state, pgrp, start_time = fields[0], int(fields[2]), int(fields[19])
        if pgrp == pgid and state != "Z":
            members[(int(stat_file.parent.name), start_time)] = name
    return members


class Run:
    """`costline ...` in its own process group, as a scheduler or systemd would start it."""

    def __init__(self, args, paths: Paths, tmp: Path, env: dict | None = None):
        self.log = paths.warehouse_dir / "logs" / "last_run.log"
        self.log.unlink(missing_ok=True)
        self.out, self.err = tmp / f"out-{time.time_ns()}", tmp / f"err-{time.time_ns()}"
        full_env = {
            **os.environ,
            "COSTLINE_INPUT_DIR": str(paths.input_dir),
            "COSTLINE_WAREHOUSE_DIR": str(paths.warehouse_dir),
            **(env or {}),
        }
        full_env.pop("DAGSTER_HOME", None)
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [*COSTLINE, *args], cwd=REPO, env=full_env, stdout=out, stderr=err, start_new_session=True
            )

    def wait_for(self, condition, what: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the run ended (exit {self.proc.returncode}) before {what}:\n{self.err.read_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def kill(self) -> list[str]:
        """SIGKILL the whole group; returns what was alive in it just before."""
        self.members_at_kill = group_members(self.proc.pid)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return sorted(self.members_at_kill.values())

    def left_after_kill(self) -> list[str]:
        """Those of the processes alive at the kill that still live."""
        deadline = time.monotonic() + 5  # a killed process may take a moment to be torn down
        while True:
            now = group_members(self.proc.pid)
            left = sorted(name for key, name in self.members_at_kill.items() if key in now)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def finish(self, timeout: float = 600) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def stderr(self) -> str:
        return self.err.read_text()


@dataclass
class CrashStory:
    paths: Paths
    before: dict
    before_ledger: tuple
    reference: dict
    after_kill: dict = field(default_factory=dict)  # kill point -> published mart after it
    ledger_after_kill: dict = field(default_factory=dict)
    alive_at_kill: dict = field(default_factory=dict)  # kill point -> processes in the group
    left_at_kill: dict = field(default_factory=dict)  # kill point -> processes left after
    lock_free_after_kill: dict = field(default_factory=dict)
    wal_after_kill: dict = field(default_factory=dict)
    staging_left: list = field(default_factory=list)
    status_after_kills: str = ""
    recovery_exit: int | None = None
    recovery_stderr: str = ""
    after_recovery: dict = field(default_factory=dict)
    ledger_after_recovery: tuple = ()


def _lock_free(paths: Paths) -> bool:
    lock = FileLock(str(paths.warehouse_dir / ".costline.lock"), timeout=0)
    try:
        lock.acquire()
    except Exception:
        return False
    lock.release()
    return True


def _after_kill(story: CrashStory, point: str, run: Run) -> None:
    story.alive_at_kill[point] = run.kill()
    story.left_at_kill[point] = run.left_after_kill()
    story.lock_free_after_kill[point] = _lock_free(story.paths)
    story.wal_after_kill[point] = story.paths.warehouse_db.with_name("warehouse.duckdb.wal").exists()
    story.after_kill[point] = published(story.paths.warehouse_dir)
    story.ledger_after_kill[point] = ledger(story.paths.warehouse_dir)


@pytest.fixture(scope="module")
def story(demo_mart, tmp_path_factory) -> CrashStory:
    import shutil

    root = tmp_path_factory.mktemp("crash")
    paths = Paths(root / "input", root / "warehouse")
    shutil.copytree(demo_mart["input_dir"], paths.input_dir)
    shutil.copytree(demo_mart["warehouse_dir"], paths.warehouse_dir, symlinks=True)
    story = CrashStory(
        paths,
        published(paths.warehouse_dir),
        ledger(paths.warehouse_dir),
        reference=published(demo_mart["warehouse_dir"]),
    )
    signal_file = root / "paused"

    def paused_at(point: str) -> dict:
        return {TEST_PAUSE_ENV: point, TEST_PAUSE_SIGNAL_ENV: str(signal_file)}

    # 1. Ingestion: telemetry is loaded, the billing load's transaction is open.
    run = Run(RERUN, paths, root, paused_at("billing-store"))
    run.wait_for(signal_file.exists, "the billing-store pause point")
    _after_kill(story, "ingestion", run)
    signal_file.unlink()

    # 2. dbt build: the dbt child has rebuilt some models, marts.daily_spend among them.
    run = Run(RERUN, paths, root)
    run.wait_for(
        lambda: run.log.exists() and DBT_MID_BUILD in run.log.read_text(errors="replace"),
        "dbt to rebuild marts.daily_spend",
    )
    _after_kill(story, "dbt build", run)

    # 3. Publish: the new mart.duckdb and Parquet files are written aside, not yet renamed.
    run = Run(RERUN, paths, root, paused_at("publish-staged"))
    run.wait_for(signal_file.exists, "the publish-staged pause point")
    story.staging_left = sorted(p.name for p in paths.warehouse_dir.glob(".mart-*"))
    _after_kill(story, "publish", run)
    signal_file.unlink()
    status = subprocess.run(
        [*COSTLINE, "status", "--warehouse-dir", str(paths.warehouse_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
    )
    story.status_after_kills = status.stdout + status.stderr

    # 4. The next run, started while something else briefly holds the warehouse: --wait.
    with FileLock(str(paths.warehouse_dir / ".costline.lock")):
        run = Run((*RERUN, "--wait", "120"), paths, root)
        # "running ..." is logged just before the lock is asked for; without --wait it would refuse.
        run.wait_for(lambda: "costline: running" in run.stderr, "the run to ask for the lock")
        time.sleep(2)
    story.recovery_exit = run.finish()
    story.recovery_stderr = run.stderr
    story.after_recovery = published(paths.warehouse_dir)
    story.ledger_after_recovery = ledger(paths.warehouse_dir)
    return story


KILL_POINTS = ["ingestion", "dbt build", "publish"]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_run_leaves_the_previous_complete_mart_published(story, point):
    assert story.after_kill[point] == story.before, f"the published mart changed after a kill during {point}"


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_takes_the_whole_group_and_frees_the_lock(story, point):
    alive = story.alive_at_kill[point]
    assert any("python" in name for name in alive), alive
    if point == "dbt build":
        assert "dbt" in alive, f"the kill must land while dbt runs: {alive}"
    assert story.left_at_kill[point] == []
    # The lock is an fcntl lock: the kernel drops it with the process, no stale-lock cleanup.
    assert story.lock_free_after_kill[point]


def test_killed_billing_load_rolled_back(story):
    """Killed inside the billing transaction, after its delete and before its insert: the raw
    tables hold exactly what they held before (a load outside one transaction would lose bills)."""
    assert story.ledger_after_kill["ingestion"] == story.before_ledger


def test_killed_publish_left_staging_files_that_the_next_run_removes(story):
    assert any(name.endswith(".duckdb") for name in story.staging_left), story.staging_left
    leftovers = sorted(p.name for p in story.paths.warehouse_dir.glob(".mart-*"))
    assert leftovers == []
    versions = [p for p in story.paths.warehouse_dir.glob("mart-*") if p.is_dir() and not p.is_symlink()]
    assert len(versions) == 2  # the current and the previous publication; no orphan


def test_status_says_the_killed_run_died(story):
    assert "DIED" in story.status_after_kills, story.status_after_kills
    assert "run the same days again" in story.status_after_kills


def test_next_run_waits_for_the_lock_then_publishes_what_an_uninterrupted_run_does(story):
    assert story.recovery_exit == 0, story.recovery_stderr[-3000:]
    after = story.after_recovery
    assert after["run_id"] != story.before["run_id"]
    assert after["tables"] == story.reference["tables"]  # number for number, every table
    assert after["parquet_rows"] == story.reference["parquet_rows"]
    # Records lost: none. Nothing double counted either.
    assert story.ledger_after_recovery == story.before_ledger
    assert not story.paths.warehouse_db.with_name("warehouse.duckdb.wal").exists()


def test_a_sigkilled_lock_holder_releases_the_warehouse_lock(tmp_path):
    """filelock uses fcntl locks: they die with the process, so no stale lock blocks the schedule."""
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from ingestion.settings import Paths; from orchestration.locks import warehouse_lock\n"
                f"lock = warehouse_lock(Paths.from_env({str(paths.input_dir)!r}, {str(paths.warehouse_dir)!r}))\n"
                "lock.acquire(); print('held', flush=True); time.sleep(600)"
            ),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not _lock_free(paths)
        holder.kill()
        holder.wait(timeout=30)
        assert _lock_free(paths)
    finally:
        holder.kill()


# --- publish alone, killed at each of its steps (fast: a two-table warehouse) -----------------

SMALL_TABLES = ["daily_spend", "hourly_spend"]


def _kill_publish_at(paths: Paths, point: str, run_id: str, tmp: Path) -> None:
    signal_file = tmp / f"paused-{run_id}"
    code = (
        "from ingestion.settings import Paths\nfrom orchestration.publish import publish_mart\n"
        f"publish_mart(Paths.from_env({str(paths.input_dir)!r}, {str(paths.warehouse_dir)!r}), "
        f"{SMALL_TABLES!r}, {run_id!r})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, TEST_PAUSE_ENV: point, TEST_PAUSE_SIGNAL_ENV: str(signal_file)},
    )
    deadline = time.monotonic() + 120
    while not signal_file.exists():
        assert proc.poll() is None and time.monotonic() < deadline, f"publish never reached {point}"
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)


def _surfaces(paths: Paths) -> tuple:
    """(run, amounts) of mart.duckdb and of mart/: each must be one whole publication."""
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        db = (
            con.execute("select run_id from mart_publication").fetchone()[0],
            {t: con.execute(f"select cost_usd from {t}").fetchone()[0] for t in SMALL_TABLES},
        )
    with duckdb.connect() as con:
        marker = str(paths.mart_parquet_dir / "mart_publication.parquet")
        pq_run = con.execute("select run_id from read_parquet(?)", [marker]).fetchone()[0]
        pq_amounts = {
            t: con.execute(
                "select cost_usd from read_parquet(?)", [str(paths.mart_parquet_dir / f"{t}.parquet")]
            ).fetchone()[0]
            for t in SMALL_TABLES
        }
    return db, (pq_run, pq_amounts)


def test_publish_killed_at_each_step_never_shows_half_a_mart_and_the_next_one_heals(tmp_path):
    import io

    from rich.console import Console

    from orchestration.publish import publish_mart
    from orchestration.status import _print_mart

    paths = Paths(tmp_path / "in", tmp_path / "wh")
    for run_id, amount in (("run-1", "1.00"), ("run-2", "2.00")):
        two_table_warehouse(paths, amount)
        publish_mart(paths, SMALL_TABLES, run_id)
    published_before = os.readlink(paths.mart_parquet_dir)

    # Killed after writing aside: nothing visible changes.
    two_table_warehouse(paths, "3.00")
    _kill_publish_at(paths, "publish-staged", "run-3", tmp_path)
    db, parquet = _surfaces(paths)
    assert db[0] == parquet[0] == "run-2"
    assert set(db[1].values()) == set(parquet[1].values()) == {2}
    assert list(paths.warehouse_dir.glob(".mart-*.duckdb"))  # the staging file of the kill is left

    # Killed between the two renames: each surface is one whole publication, status says so.
    two_table_warehouse(paths, "4.00")
    _kill_publish_at(paths, "publish-between-renames", "run-4", tmp_path)
    db, parquet = _surfaces(paths)
    assert (db[0], set(db[1].values())) == ("run-4", {4})
    assert (parquet[0], set(parquet[1].values())) == ("run-2", {2})
    out = io.StringIO()
    _print_mart(paths, Console(file=out, width=200))
    assert "interrupted between its two renames" in out.getvalue()

    # The next publish: both surfaces agree, no staging leftovers, and the version kept for
    # readers is the one that was published before (not an orphan of a killed publish).
    two_table_warehouse(paths, "5.00")
    publish_mart(paths, SMALL_TABLES, "run-5")
    db, parquet = _surfaces(paths)
    assert db[0] == parquet[0] == "run-5" and set(db[1].values()) == set(parquet[1].values()) == {5}
    assert list(paths.warehouse_dir.glob(".mart-*")) == []
    versions = {p.name for p in paths.warehouse_dir.glob("mart-*") if p.is_dir() and not p.is_symlink()}
    assert versions == {os.readlink(paths.mart_parquet_dir), published_before}
    out = io.StringIO()
    _print_mart(paths, Console(file=out, width=200))
    assert "interrupted" not in out.getvalue()

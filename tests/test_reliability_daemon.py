"""One writer, however runs start: runs the Dagster daemon launches share the CLI's warehouse lock.

A real `dagster dev` (webserver, daemon, code server, run workers) over a copy of the demo,
with its own DAGSTER_HOME (max_concurrent_runs: 1), and a real `costline run` held at the
`billing-store` pause point: mid-ingestion, with the lock and an open DuckDB write. Daily runs
submitted to the daemon meanwhile either fail after their bounded wait with one line saying the
warehouse is busy (never a DuckDB lock error), or wait, and run once the CLI run has ended.
"""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests
from conftest import REPO
from dagster_graphql import DagsterGraphQLClient
from test_reliability_crashes import Run, published

from ingestion.settings import TEST_PAUSE_ENV, TEST_PAUSE_SIGNAL_ENV, Paths
from orchestration.automation import DAILY_JOB
from orchestration.locks import LOCK_WAIT_ENV
from orchestration.run_records import run_summary
from orchestration.runner import dagster_yaml  # the daemon runs on costline's own run storage too

pytestmark = pytest.mark.pipeline

DAGSTER = str(Path(sys.executable).with_name("dagster"))
DAY = "2026-10-29"
LOCATION_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
LOCATION_QUERY += "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
SCHEDULES_QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { schedules { id name "
SCHEDULES_QUERY += "scheduleState { status } } } } } }"
STOP_SCHEDULE = "mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }"
DUCKDB_LOCK_ERRORS = ("Could not set lock", "IO Error")
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _default_sigint() -> None:
    # A shell that ignores SIGINT (a background job) passes that on; dagster dev stops its
    # children with SIGINT, so give them the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DagsterDev:
    """`dagster dev -w workspace.yaml` in its own process group, stopped by group in `stop`."""

    def __init__(self, home: Path, paths: Paths, tmp: Path, env: dict):
        self.port = _free_port()
        self.log = tmp / "dagster-dev.log"
        full_env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "COSTLINE_INPUT_DIR": str(paths.input_dir),
            "COSTLINE_WAREHOUSE_DIR": str(paths.warehouse_dir),
            **env,
        }
        full_env.pop(TEST_PAUSE_ENV, None)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [DAGSTER, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
                cwd=REPO,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_default_sigint,
            )
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=self.port)

    def wait_until_loaded(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dagster dev exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                answer = requests.post(
                    f"http://127.0.0.1:{self.port}/graphql", json={"query": LOCATION_QUERY}, timeout=5
                ).json()
                entries = answer["data"]["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    loaded = entries[0]["locationOrLoadError"]
                    assert loaded["__typename"] == "RepositoryLocation", loaded
                    return
            except (requests.RequestException, KeyError, TypeError, ValueError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"dagster dev did not load the code location:\n{self.log.read_text()[-3000:]}")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        answer = requests.post(
            f"http://127.0.0.1:{self.port}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
        ).json()
        assert "errors" not in answer, answer
        return answer["data"]

    def stop_schedules(self) -> list[str]:
        """No tick of a schedule may queue a run of its own in the middle of the test."""
        repositories = self.graphql(SCHEDULES_QUERY)["repositoriesOrError"]["nodes"]
        stopped = []
        for schedule in (s for repository in repositories for s in repository["schedules"]):
            if schedule["scheduleState"]["status"] == "RUNNING":
                result = self.graphql(STOP_SCHEDULE, {"id": schedule["id"]})["stopRunningSchedule"]
                assert result["__typename"] == "ScheduleStateResult", result
                stopped.append(schedule["name"])
        return stopped

    def submit(self, run_config: dict | None = None) -> str:
        return self.client.submit_job_execution(DAILY_JOB, run_config=run_config, tags={"dagster/partition": DAY})

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:  # whatever of the group is left (code server, run workers, dbt)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


def _wait_for(condition, what: str, timeout: float, dev: DagsterDev):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if dev.proc.poll() is not None:
            raise AssertionError(f"dagster dev exited before {what}:\n{dev.log.read_text()[-3000:]}")
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}:\n{dev.log.read_text()[-3000:]}")


def _run_ended(instance: dg.DagsterInstance, run_id: str):
    run = instance.get_run_by_id(run_id)
    return run if run is not None and run.status in TERMINAL else None


def _messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.message or "" for entry in instance.all_logs(run_id)]


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.event_type == kind]


def _everything_logged(instance: dg.DagsterInstance, run_id: str) -> str:
    """Every message and every event's data (error messages and stacks included), as text."""
    return "\n".join(f"{entry.message}\n{entry.dagster_event!r}" for entry in instance.all_logs(run_id))


def _release(cli: Run, signal_file: Path, timeout: float) -> int:
    """Let the paused CLI run go on to its end: it pauses at `billing-store` once per billing
    provider, so delete the signal file each time it appears."""
    deadline = time.monotonic() + timeout
    while cli.proc.poll() is None and time.monotonic() < deadline:
        signal_file.unlink(missing_ok=True)
        time.sleep(0.05)
    return cli.finish(max(1.0, deadline - time.monotonic()))


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_daemon_runs_wait_for_the_cli_or_fail_with_one_line_never_a_duckdb_lock_error(demo_mart, tmp_path):
    paths = Paths(tmp_path / "input", tmp_path / "warehouse")
    shutil.copytree(demo_mart["input_dir"], paths.input_dir)
    shutil.copytree(demo_mart["warehouse_dir"], paths.warehouse_dir, symlinks=True)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml(home))
    lock_file = paths.warehouse_dir / ".costline.lock"
    signal_file = tmp_path / "paused"

    # The daemon's runs wait 3 s (the environment); run (b) asks for 300 s in its run config.
    phases = {"start": time.monotonic()}
    dev = DagsterDev(home, paths, tmp_path, {LOCK_WAIT_ENV: "3"})
    cli = None
    try:
        dev.wait_until_loaded()
        assert "costline_daily_schedule" in dev.stop_schedules()
        phases["dagster dev loaded"] = time.monotonic()
        instance = dg.DagsterInstance.from_config(str(home))
        # The CLI keeps its own run history (<warehouse>/dagster), as it does by default.
        cli = Run(
            ("run", "--date", "2026-10-30"),
            paths,
            tmp_path,
            {TEST_PAUSE_ENV: "billing-store", TEST_PAUSE_SIGNAL_ENV: str(signal_file)},
        )
        cli.wait_for(signal_file.exists, "the CLI run to hold the lock mid-ingestion")
        phases["CLI paused"] = time.monotonic()
        before = published(paths.warehouse_dir)
        warehouse_files = {
            name: _digest(paths.warehouse_dir / name) for name in ("warehouse.duckdb", "warehouse.duckdb.wal")
        }

        # (a) Busy, 3 s: the run fails with one line, before any step touched the warehouse.
        busy_id = dev.submit()
        busy = _wait_for(lambda: _run_ended(instance, busy_id), "the busy run to end", 120, dev)
        phases["(a) busy run failed"] = time.monotonic()
        assert busy.status == dg.DagsterRunStatus.FAILURE
        reason = run_summary(instance, busy_id).failure_reason()
        assert reason == (
            f"warehouse busy: another costline run holds {lock_file}; waited 3s. "
            "It runs again at the next schedule tick, or re-launch it when the other run ends"
        )
        assert any(f"waiting up to 3s ({LOCK_WAIT_ENV})" in m for m in _messages(instance, busy_id))
        logged = _everything_logged(instance, busy_id)
        assert not [error for error in DUCKDB_LOCK_ERRORS if error in logged]
        assert _events(instance, busy_id, dg.DagsterEventType.STEP_START) == []
        assert _events(instance, busy_id, dg.DagsterEventType.RUN_FAILURE)
        assert cli.proc.poll() is None  # the CLI run is still paused, holding the lock
        assert published(paths.warehouse_dir) == before
        assert {name: _digest(paths.warehouse_dir / name) for name in warehouse_files} == warehouse_files

        # (b) Busy, 300 s: the run waits; the CLI run goes on and ends; then the run runs.
        waiting_id = dev.submit({"resources": {"warehouse_lock": {"config": {"wait_seconds": 300}}}})
        _wait_for(
            lambda: any("waiting up to 300s" in m for m in _messages(instance, waiting_id)),
            "the second run to wait for the lock",
            120,
            dev,
        )
        phases["(b) waiting"] = time.monotonic()
        assert _release(cli, signal_file, 240) == 0, cli.stderr[-3000:]
        phases["CLI run ended"] = time.monotonic()
        waited = _wait_for(lambda: _run_ended(instance, waiting_id), "the waiting run to end", 300, dev)
        phases["(b) waiting run succeeded"] = time.monotonic()
        assert waited.status == dg.DagsterRunStatus.SUCCESS, run_summary(instance, waiting_id).failure_reason()
    finally:
        if cli is not None and cli.proc.poll() is None:
            cli.kill()
        dev.stop()

    # It never overlapped the CLI run: its first step started after the CLI's run had ended
    # (the CLI frees the lock after its run ends), and it took the lock once for all its steps.
    cli_instance = dg.DagsterInstance.from_config(str(paths.dagster_home))
    cli_runs = cli_instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": "2026-10-30"}), limit=1)
    assert cli_runs and cli_runs[0].status == dg.DagsterRunStatus.SUCCESS
    cli_ended = _events(cli_instance, cli_runs[0].run_id, dg.DagsterEventType.RUN_SUCCESS)[0].timestamp
    steps = _events(instance, waiting_id, dg.DagsterEventType.STEP_START)
    assert len(steps) > 3 and min(step.timestamp for step in steps) > cli_ended
    assert len(_events(instance, waiting_id, dg.DagsterEventType.RESOURCE_INIT_STARTED)) == 1
    assert any(m.startswith("warehouse lock taken after") for m in _messages(instance, waiting_id))
    assert not [error for error in DUCKDB_LOCK_ERRORS if error in _everything_logged(instance, waiting_id)]
    assert published(paths.warehouse_dir)["run_id"] == waiting_id
    print("\n" + ", ".join(f"{name} +{at - phases['start']:.0f}s" for name, at in phases.items()))

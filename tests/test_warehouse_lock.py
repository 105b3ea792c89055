"""The WarehouseLock resource, fast: re-entrant inside a process that holds the lock (the CLI),
taken once per run, and a bounded wait with a one-line refusal for another process.

The real daemon/UI path (`dagster dev` against a paused `costline run`) is
tests/test_reliability_daemon.py.
"""

import logging
import os
import subprocess
import sys
import threading
import time

import dagster as dg
import pytest
from conftest import REPO
from lock_jobs import two_step_job

from ingestion.settings import Paths
from orchestration.locks import DEFAULT_LOCK_WAIT_SECONDS, LOCK_WAIT_ENV, lock_wait_seconds, warehouse_lock
from orchestration.resources import CostlinePaths, WarehouseLock
from orchestration.run_records import run_summary


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.event_type == kind]


def test_warehouse_lock_is_one_object_per_path_and_process(tmp_path):
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    same = Paths(tmp_path / "in", tmp_path / "wh" / ".." / "wh")
    assert warehouse_lock(paths) is warehouse_lock(same)
    assert warehouse_lock(paths) is not warehouse_lock(Paths(tmp_path / "in", tmp_path / "other"))


def test_the_resource_is_reentrant_in_a_process_holding_the_lock_and_taken_once_per_run(tmp_path):
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    lock = warehouse_lock(paths)
    instance = dg.DagsterInstance.ephemeral()

    # As `costline run` does: the lock first, then the job in this process. From another thread
    # too (the lock is not thread-local), and with no wait: a deadlock would fail at once.
    lock.acquire(timeout=0)
    try:
        job, held = two_step_job(str(paths.warehouse_dir), wait_seconds=0)
        results = []
        worker = threading.Thread(target=lambda: results.append(job.execute_in_process(instance=instance)))
        worker.start()
        worker.join(60)
        assert results and results[0].success
        assert held == [2, 2]  # the CLI's hold and the run's, in both steps
        assert lock.is_locked and lock.lock_counter == 1  # the run gave back only its own
    finally:
        lock.release()
    assert not lock.is_locked

    # Alone, the run takes the lock itself: once, for both steps, and frees it at the end.
    job, held = two_step_job(str(paths.warehouse_dir))
    result = job.execute_in_process(instance=instance)
    assert result.success and held == [1, 1]
    assert not lock.is_locked
    inits = _events(instance, result.run_id, dg.DagsterEventType.RESOURCE_INIT_STARTED)
    assert len(inits) == 1 and len(_events(instance, result.run_id, dg.DagsterEventType.STEP_START)) == 2


def test_a_second_process_is_refused_after_the_bounded_wait_with_one_line(tmp_path):
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    code = (
        "import sys, time\nsys.path.insert(0, 'tests')\nimport dagster as dg\nfrom lock_jobs import two_step_job\n"
        + "from orchestration.run_records import run_summary\n"
        + "job, held = two_step_job(sys.argv[1])\ninstance = dg.DagsterInstance.ephemeral()\n"
        + "started = time.monotonic()\n"
        + "result = job.execute_in_process(instance=instance, raise_on_error=False)\n"
        + "print(f'{time.monotonic() - started:.1f}', result.success, held)\n"
        + "print(run_summary(instance, result.run_id).failure_reason())\n"
        + "print('|'.join(e.message for e in instance.all_logs(result.run_id) if e.message))\n"
    )
    lock = warehouse_lock(paths)
    with lock.acquire(timeout=0):
        child = subprocess.run(
            [sys.executable, "-c", code, str(paths.warehouse_dir)],
            cwd=REPO,
            env={**os.environ, LOCK_WAIT_ENV: "1.5"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert child.returncode == 0, child.stderr[-3000:]
    elapsed, reason, messages = child.stdout.strip().splitlines()[-3:]
    seconds, success, held = elapsed.split(" ", 2)
    assert float(seconds) >= 1.5 and success == "False" and held == "[]"  # no step ran
    assert reason == (
        f"warehouse busy: another costline run holds {paths.warehouse_dir / '.costline.lock'}; waited 1.5s. "
        "It runs again at the next schedule tick, or re-launch it when the other run ends"
    )
    assert "waiting up to 1.5s (COSTLINE_LOCK_WAIT_SECONDS)" in messages
    assert "Traceback" not in reason and "\n" not in reason


def test_a_free_warehouse_is_taken_at_once_and_a_waiting_run_goes_on_when_it_frees(tmp_path):
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    instance = dg.DagsterInstance.ephemeral()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ingestion.settings import Paths; from orchestration.locks import warehouse_lock\n"
            f"lock = warehouse_lock(Paths.from_env(None, {str(paths.warehouse_dir)!r}))\n"
            "lock.acquire(); print('held', flush=True); time.sleep(2)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        job, held = two_step_job(str(paths.warehouse_dir), wait_seconds=60)
        started = time.monotonic()
        result = job.execute_in_process(instance=instance)
        assert result.success and held == [1, 1]
        assert time.monotonic() - started >= 0.5  # it waited for the holder
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
    messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("waiting up to 60s" in m for m in messages)
    assert any(m.startswith("warehouse lock taken after") for m in messages)
    assert run_summary(instance, result.run_id).run_error == ""


@pytest.mark.parametrize("raw", ["ten", "-5", "nan", "inf"])
def test_a_bad_wait_falls_back_to_the_default_with_an_error(monkeypatch, caplog, raw):
    monkeypatch.setenv(LOCK_WAIT_ENV, raw)
    with caplog.at_level(logging.ERROR, logger="costline"):
        assert lock_wait_seconds() == DEFAULT_LOCK_WAIT_SECONDS
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds" in caplog.text


def test_the_wait_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv(LOCK_WAIT_ENV, raising=False)
    assert lock_wait_seconds() == 600
    monkeypatch.setenv(LOCK_WAIT_ENV, "3")
    assert lock_wait_seconds() == 3


def test_every_warehouse_step_needs_the_lock_and_delivery_and_sensors_do_not():
    from orchestration.definitions import defs

    definitions = defs()
    assert isinstance(definitions.resources["warehouse_lock"], WarehouseLock)
    assert isinstance(definitions.resources["costline"], CostlinePaths)
    graph = definitions.resolve_asset_graph()
    without = sorted(
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if "warehouse_lock" not in graph.get(key).assets_def.required_resource_keys
    )
    # postgres_mart reads the published mart.duckdb, not the warehouse; delivery reads the mart.
    assert without == ["alerts_sent", "postgres_mart", "stakeholder_report"]
    assert all("warehouse_lock" in check.required_resource_keys for check in definitions.asset_checks)
    assert all("warehouse_lock" not in sensor.required_resource_keys for sensor in definitions.sensors)

"""The re-run fingerprint (orchestration/run_fingerprint.py): what changes it, what does not,
and when a run is never skipped. Real files in a temp dir; no Dagster, no run: fast."""

import json
import os
import stat
from datetime import date
from pathlib import Path

import pytest

from ingestion.settings import Paths
from ingestion.sources.registry import SOURCES
from orchestration import run_fingerprint as rf

D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
OUTSIDE = date(2026, 10, 9)
TODAY = date(2026, 11, 1)
WINDOW = rf.Window(D1, D2, "daily")
ENV = {"COSTLINE_ALERT_LOOKBACK_DAYS": "7", "HOME": "/home/x"}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Paths, Path]:
    paths = Paths(tmp_path / "input", tmp_path / "warehouse")
    for day in (D1, D2, OUTSIDE):
        write(paths.input_dir / "telemetry" / day.isoformat() / "calls.jsonl", f"{day}\n")
        write(paths.input_dir / "outcomes" / day.isoformat() / "outcomes.jsonl", f"{day}\n")
    write(paths.input_dir / "budgets.csv", "workspace,month,monthly_budget_usd\n")
    write(paths.input_dir / "billing" / "openai" / "costs-2026-10-01-1.json", "{}")
    repo = tmp_path / "repo"
    write(repo / "ingestion" / "a.py", "x = 1\n")
    write(repo / "orchestration" / "b.py", "y = 2\n")
    write(repo / "pyproject.toml", "[project]\n")
    write(repo / "dbt_project" / "models" / "m.sql", "select 1\n")
    write(repo / "dbt_project" / "target" / "manifest.json", "{}")
    return paths, repo


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fp(paths: Paths, repo: Path, window: rf.Window = WINDOW, today: date = TODAY, env: dict | None = None) -> str:
    return rf.fingerprint(paths, window, today, ENV if env is None else env, repo)


def test_unchanged_inputs_give_the_same_digest_and_it_is_a_sha256(setup):
    paths, repo = setup
    first = fp(paths, repo)
    assert first == fp(paths, repo)
    assert len(first) == 64 and int(first, 16) >= 0


@pytest.mark.parametrize(
    "change",
    ["size", "mtime", "added_in_window", "added_outcome", "reference", "billing_page", "removed"],
)
def test_a_change_to_a_file_the_run_reads_changes_it(setup, change):
    paths, repo = setup
    before = fp(paths, repo)
    calls = paths.input_dir / "telemetry" / D2.isoformat() / "calls.jsonl"
    if change == "size":
        calls.write_text("a longer line\n")
    elif change == "mtime":
        st = calls.stat()
        os.utime(calls, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    elif change == "added_in_window":
        write(calls.with_name("calls-late.jsonl"), "x\n")
    elif change == "added_outcome":
        write(paths.input_dir / "outcomes" / D1.isoformat() / "more.jsonl", "x\n")
    elif change == "reference":
        write(paths.input_dir / "deployments.csv", "deployed_at\n")
    elif change == "billing_page":
        write(paths.input_dir / "billing" / "anthropic" / "cost_report-2026-10-01-1.json", "{}")
    elif change == "removed":
        calls.unlink()
    assert fp(paths, repo) != before


def test_day_folders_outside_the_window_do_not_count(setup):
    paths, repo = setup
    before = fp(paths, repo)
    write(paths.input_dir / "telemetry" / OUTSIDE.isoformat() / "calls-2.jsonl", "x\n")
    write(paths.input_dir / "telemetry" / D3.isoformat() / "calls.jsonl", "x\n")
    (paths.input_dir / "outcomes" / OUTSIDE.isoformat() / "outcomes.jsonl").write_text("changed, longer\n")
    assert fp(paths, repo) == before
    # ...but the same day inside a wider window does.
    wider = rf.Window(D1, D3)
    before_wider = fp(paths, repo, wider)
    (paths.input_dir / "telemetry" / D3.isoformat() / "calls.jsonl").write_text("x, and more\n")
    assert fp(paths, repo, wider) != before_wider
    assert fp(paths, repo) == before


def test_code_and_dbt_project_changes_change_it_but_dbt_target_does_not(setup):
    paths, repo = setup
    before = fp(paths, repo)
    write(repo / "dbt_project" / "target" / "run_results.json", "{}")
    write(repo / "dbt_project" / "logs" / "dbt.log", "...")
    write(repo / "dbt_project" / ".user.yml", "id: 1")
    write(repo / "ingestion" / "notes.txt", "not code")
    assert fp(paths, repo) == before
    write(repo / "ingestion" / "a.py", "x = 2\n")
    after_code = fp(paths, repo)
    assert after_code != before
    write(repo / "dbt_project" / "models" / "m.sql", "select 2\n")
    assert fp(paths, repo) != after_code


def test_settings_change_it_and_only_as_a_digest(setup):
    paths, repo = setup
    before = fp(paths, repo)
    assert fp(paths, repo, env={**ENV, "COSTLINE_ALERT_LOOKBACK_DAYS": "8"}) != before
    assert fp(paths, repo, env={**ENV, "COSTLINE_DUCKDB_THREADS": "2"}) != before
    assert fp(paths, repo, env={**ENV, "OPENAI_ADMIN_KEY": "sk-admin-secret"}) != before
    # Not settings of costline: the clock (hashed as the open day), the dirs (hashed as paths).
    assert fp(paths, repo, env={**ENV, "UNRELATED": "1"}) == before
    assert fp(paths, repo, env={**ENV, "COSTLINE_NOW": "2026-11-01T10:00:00Z"}) == before
    assert fp(paths, repo, env={**ENV, "COSTLINE_INPUT_DIR": str(paths.input_dir)}) == before


def test_the_window_job_and_the_open_day_change_it(setup):
    paths, repo = setup
    before = fp(paths, repo)
    assert fp(paths, repo, rf.Window(D1, D1)) != before
    assert fp(paths, repo, rf.Window(D2, D2)) != fp(paths, repo, rf.Window(D1, D1))
    assert fp(paths, repo, rf.Window(D1, D2, "hourly")) != before
    assert fp(paths, repo, today=date(2026, 11, 2)) != before


def test_it_stays_fast_on_the_real_code():
    import time

    rf.code_digest()
    started = time.perf_counter()
    rf.code_digest()
    assert time.perf_counter() - started < 0.1


def _publish(paths: Paths) -> None:
    write(paths.mart_db, "mart")
    write(paths.warehouse_db, "warehouse")


def test_decide_skips_only_after_a_recorded_success_with_the_same_fingerprint(setup):
    paths, repo = setup
    decide = lambda **kw: rf.decide(paths, WINDOW, TODAY, environ=kw.pop("env", ENV), repo=repo, **kw)  # noqa: E731
    assert decide().reason == "no published mart"
    _publish(paths)
    assert decide().reason == "no record of a successful run"
    record = rf.record_run(paths, WINDOW, decide().fingerprint, "run-1")
    skipped = decide()
    assert skipped.skip and "nothing changed since run run-1" in skipped.reason
    assert "2026-10-01 .. 2026-10-02" in skipped.reason and "--force" in skipped.reason
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    saved = json.loads(record.read_text())
    assert saved["window"] == {"start": "2026-10-01", "end": "2026-10-02", "job": "daily"}
    assert saved["fingerprint"] == skipped.fingerprint and saved["run_id"] == "run-1"
    assert not list(record.parent.glob(".*tmp"))

    # Never skipped:
    assert not decide(force=True).skip
    assert not decide(env={**ENV, "COSTLINE_RELOAD_INPUTS": "1"}).skip
    assert not rf.decide(paths, rf.Window(D1, TODAY), TODAY, environ=ENV, repo=repo).skip
    for pull in (
        {"COSTLINE_LITELLM_DATABASE_URL": "postgresql://x"},
        {"COSTLINE_LANGFUSE_PUBLIC_KEY": "pk", "COSTLINE_LANGFUSE_SECRET_KEY": "sk"},
        {"OPENAI_ADMIN_KEY": "sk"},
        {"ANTHROPIC_ADMIN_KEY": "sk"},
    ):
        assert "pull source" in decide(env={**ENV, **pull}).reason
    assert not rf.decide(paths, WINDOW, date(2026, 11, 2), environ=ENV, repo=repo).skip
    assert not rf.decide(paths, rf.Window(D1, D1), TODAY, environ=ENV, repo=repo).skip
    # An input changed; then the same again but the mart was republished by another run.
    write(paths.input_dir / "telemetry" / D1.isoformat() / "late.jsonl", "x\n")
    assert not decide().skip
    (paths.input_dir / "telemetry" / D1.isoformat() / "late.jsonl").unlink()
    assert decide().skip
    paths.mart_db.write_text("republished by the daemon")
    assert decide().reason == "the warehouse or mart changed since the last successful run"
    rf.record_run(paths, WINDOW, decide().fingerprint, "run-2")
    assert decide().skip
    write(paths.warehouse_dir / "mart-v1" / "daily_spend.parquet", "rows")
    paths.mart_parquet_dir.symlink_to("mart-v1")
    assert not decide().skip
    rf.record_run(paths, WINDOW, decide().fingerprint, "run-3")
    assert decide().skip
    (paths.warehouse_dir / "mart-v1" / "daily_spend.parquet").unlink()
    assert decide().reason == "the warehouse or mart changed since the last successful run"
    rf.forget_last_run(paths)
    assert not decide().skip
    paths.mart_db.unlink()
    assert decide().reason == "no published mart"


def test_no_setting_value_reaches_the_record(setup):
    paths, repo = setup
    _publish(paths)
    env = {**ENV, "COSTLINE_ALERT_WEBHOOK_URL": "https://hooks.example/secret-token-123"}
    record = rf.record_run(paths, WINDOW, rf.decide(paths, WINDOW, TODAY, environ=env, repo=repo).fingerprint, "r")
    assert "secret-token-123" not in record.read_text()


def test_every_variable_a_source_reads_is_in_the_fingerprint():
    """A source's setting outside COSTLINE_* would change its result without changing the digest."""
    for source in SOURCES:
        for name in source.settings_env:
            assert name.startswith(rf.ENV_PREFIX) or name in rf.OTHER_ENV, (source.name, name)

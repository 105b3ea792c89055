"""The run window reaches dbt through the environment and is read when dbt executes, not when
it parses: a new window on every daily run must neither be ignored (a frozen parse-time
window) nor force a full re-parse of the project (what `--vars` does)."""

from pathlib import Path

from dbt_fixtures import create_warehouse, run_dbt

SINGULAR = "assert_requests_counted_once"
GENERIC = "accepted_values_stg_telemetry__calls_status__ok__error"


def compiled(work: Path, name: str) -> str:
    [path] = (work / "target" / "compiled").rglob(f"{name}.sql")
    return path.read_text()


def compile_window(warehouse: Path, work: Path, start: str, end: str) -> str:
    result = run_dbt(
        ["compile", "--select", SINGULAR, GENERIC],
        warehouse,
        work,
        env_extra={"COSTLINE_RUN_START_DAY": start, "COSTLINE_RUN_END_DAY": end},
    )
    return result.stdout


def test_window_from_the_environment_is_read_at_run_time_and_keeps_the_partial_parse(tmp_path):
    warehouse = tmp_path / "wh"
    create_warehouse(warehouse)
    work = tmp_path / "work"

    compile_window(warehouse, work, "2026-10-03", "2026-10-05")
    assert "cast('2026-10-03' as date)" in compiled(work, SINGULAR)
    assert "cast('2026-10-05' as date)" in compiled(work, SINGULAR)
    assert "cast('2026-10-03 00:00:00' as timestamp)" in compiled(work, GENERIC)
    assert "cast('2026-10-06 00:00:00' as timestamp)" in compiled(work, GENERIC)

    compile_window(warehouse, work, "2026-11-01", "2026-11-01")
    assert "cast('2026-11-01' as date)" in compiled(work, SINGULAR)
    assert "2026-10-03" not in compiled(work, SINGULAR)
    assert "cast('2026-11-02 00:00:00' as timestamp)" in compiled(work, GENERIC)
    log = (work / "logs" / "dbt.log").read_text()
    second = log[log.rindex("Running with dbt=") :]
    assert "Unable to do partial parsing" not in second
    assert "Partial parsing enabled" in second


def test_without_a_window_every_day_is_in(tmp_path):
    warehouse = tmp_path / "wh"
    create_warehouse(warehouse)
    work = tmp_path / "work"
    run_dbt(["compile", "--select", SINGULAR], warehouse, work)
    assert "cast('1900-01-01' as date)" in compiled(work, SINGULAR)
    assert "cast('9999-12-31' as date)" in compiled(work, SINGULAR)

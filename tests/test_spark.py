"""costline on Spark: the same dbt project built on DuckDB and on a local Spark, cell for cell.

Spark runs in session mode (dbt-spark, pyspark in local[2]), reading raw.* exported from the
DuckDB warehouse as Parquet (orchestration/spark_engine.py). Tests marked `spark` skip locally
without pyspark/dbt-spark or Java and fail with COSTLINE_REQUIRE_SPARK=1. docs/SPARK.md lists the
differences they guard.
"""

import json
import math
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import COSTLINE, REPO, run_costline
from dbt_fixtures import DBT_PROJECT_DIR, run_dbt
from ingestion_helpers import late_call
from spark_fixtures import require_spark, spark_env, spark_session

from ingestion.settings import Paths
from orchestration.run_window import event_days_loaded_by, rebuild_window
from orchestration.spark_engine import ENGINE_ENV, GATE_INTERMEDIATE_TABLES, EngineError, dbt_engine

DEMO_END = date(2026, 3, 4)  # a month of demo across a month end, as tests/test_postgres.py
DEMO_DAYS = 31
NOW = "2026-03-05T06:00:00Z"  # both engines' runs at the same moment: the same open day
# A day before the last day's month: the month-to-date FOCUS delivery of each run re-states
# March, so the window of a run of DEMO_END starts on 2026-03-01 and this day stays outside it.
OLD_DAY = date(2026, 2, 27)
COMPARED_SCHEMAS = ("intermediate", "marts")


# --- no Spark needed ------------------------------------------------------------------------


def test_contract_types_come_from_the_type_vars():
    # Spark rejects varchar and float8: a mart column typed with them directly would build on
    # DuckDB and Postgres and fail on Spark only.
    literal = re.compile(r"^\s*(data_type|[a-z_]+):\s*(varchar|float8|double precision|text)\s*$", re.I | re.M)
    offenders = [
        f"{path.relative_to(DBT_PROJECT_DIR)}: {match.group(0).strip()}"
        for path in sorted(DBT_PROJECT_DIR.glob("**/*.yml"))
        if "target" not in path.parts
        for match in literal.finditer(path.read_text())
    ]
    assert not offenders, "use \"{{ var('costline_string_type')[target.type] }}\" / costline_float_type:\n" + "\n".join(
        offenders
    )


def test_the_gate_validates_in_a_process_without_a_main_file():
    # Dagster's run workers start with a __main__ that has no file, as `python -c` does. With
    # pyspark installed but not its Connect dependencies, GX's import of pyspark.sql.connect
    # made pyspark take that for a doctest run and sys.exit(0) mid-check (docs/SPARK.md).
    script = (
        "from orchestration.quality import Expectation, validate_frame\n"
        "import pandas as pd\n"
        "check = Expectation('ExpectColumnValuesToBeBetween', {'column': 'usd', 'min_value': 0})\n"
        "print('validated', validate_frame('probe', pd.DataFrame({'usd': [1, -2]}), [check]).success)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "validated False"), done.stderr[-2000:]


# --- the demo on both engines ---------------------------------------------------------------


def test_the_gate_tables_are_handed_back_from_spark():
    # The spend gate sums these next to the marts: on Spark they must come back to DuckDB.
    read = set(re.findall(r"\bintermediate\.(\w+)", (REPO / "orchestration" / "quality.py").read_text()))
    assert read == set(GATE_INTERMEDIATE_TABLES)


def test_an_unknown_engine_is_one_line_naming_the_choices(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(ENGINE_ENV, "Sparky")
    with pytest.raises(EngineError, match="set it to duckdb or spark"):
        dbt_engine()
    monkeypatch.setenv(ENGINE_ENV, " Spark ")
    assert dbt_engine() == "spark"
    (tmp_path / "input" / "telemetry" / "2026-03-01").mkdir(parents=True)
    result = run_costline(
        "run",
        "--date",
        "2026-03-01",
        input_dir=tmp_path / "input",
        warehouse_dir=tmp_path / "warehouse",
        env={ENGINE_ENV: "sparky"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "costline: error: COSTLINE_ENGINE='sparky' names no engine costline builds on: set it to duckdb or spark"
    )
    assert "Traceback" not in result.stderr


def _both(runs: dict[str, Paths], *args: str, timeout: int = 1500) -> None:
    """The same costline command on both warehouses at once (Spark's build is the long one)."""
    processes = {}
    for engine, paths in runs.items():
        env = {
            **os.environ,
            "COSTLINE_INPUT_DIR": str(paths.input_dir),
            "COSTLINE_WAREHOUSE_DIR": str(paths.warehouse_dir),
            "COSTLINE_NOW": NOW,
            "COSTLINE_DUCKDB_THREADS": "1",
            ENGINE_ENV: engine,
            **(spark_env(paths.warehouse_dir) if engine == "spark" else {}),
        }
        env.pop("DAGSTER_HOME", None)
        paths.warehouse_dir.parent.mkdir(parents=True, exist_ok=True)
        log = (paths.warehouse_dir.parent / f"{args[0]}.log").open("w")
        processes[engine] = (
            subprocess.Popen([*COSTLINE, *args], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT),
            log,
        )
    failures = []
    for engine, (process, log) in processes.items():
        code = process.wait(timeout=timeout)
        log.close()
        if code != 0:
            failures.append(f"{engine}: costline {' '.join(args)} exited {code}:\n{Path(log.name).read_text()[-4000:]}")
    assert not failures, "\n".join(failures)


def _duck_rows(duck, columns: list[str], relation: str) -> list[tuple]:
    select = ", ".join('"' + c + '"' for c in columns)
    return duck.execute(f"select {select} from {relation}").fetchall()


def _spark_rows(spark, columns: list[str], relation: str) -> list[tuple]:
    select = ", ".join(f"`{c}`" for c in columns)
    return [tuple(r) for r in spark.sql(f"select {select} from {relation}").collect()]


def _sort_key(row):
    return tuple((v is None, "" if isinstance(v, float) else str(v)) for v in row)


def _same(expected, actual) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return (expected is None) == (actual is None) and (
            expected is None or math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
        )
    if isinstance(expected, Decimal) and isinstance(actual, Decimal):
        return expected == actual  # money exact; the scale is held by the contract on both
    return expected == actual and type(expected) is type(actual)


def _duck_columns(duck, schema: str, table: str) -> list[str]:
    return [
        name
        for (name,) in duck.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


# When each warehouse's ingestion loaded a row: the two runs loaded at different moments.
LOAD_TIME_COLUMNS = {"loaded_at"}


def table_mismatches(
    duck, expected_relation: str, columns: list[str], actual_columns: list[str], actual_rows
) -> list[str]:
    """Cell differences: money, counts and text exact, floats to 1e-9, rows matched by sort."""
    if sorted(actual_columns) != sorted(columns):
        return [f"{expected_relation}: columns {columns} on DuckDB, {actual_columns} on the other side"]
    columns = [c for c in columns if c not in LOAD_TIME_COLUMNS]
    expected = sorted(_duck_rows(duck, columns, expected_relation), key=_sort_key)
    actual = sorted(actual_rows(columns), key=_sort_key)
    if len(expected) != len(actual):
        return [f"{expected_relation}: {len(expected)} rows on DuckDB, {len(actual)} on the other side"]
    problems = []
    for expected_row, actual_row in zip(expected, actual, strict=True):
        for column, want, got in zip(columns, expected_row, actual_row, strict=True):
            if not _same(want, got):
                problems.append(f"{expected_relation}.{column}: DuckDB {want!r} != {got!r} in {expected_row}")
    return problems


def _tables(duck, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    return duck.execute(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        f"and table_schema in ({', '.join(repr(s) for s in schemas)}) order by 1, 2"
    ).fetchall()


def published_mismatches(duck_paths: Paths, spark_paths: Paths) -> tuple[int, list[str]]:
    """The two published marts (mart.duckdb), table by table; the publication record aside."""
    with (
        duckdb.connect(str(duck_paths.mart_db), read_only=True) as duck,
        duckdb.connect(str(spark_paths.mart_db), read_only=True) as other,
    ):
        tables = [t for t in _tables(duck, ("main",)) if t[1] != "mart_publication"]
        other_tables = [t for t in _tables(other, ("main",)) if t[1] != "mart_publication"]
        problems = [] if tables == other_tables else [f"published tables differ: {tables} vs {other_tables}"]
        for schema, table in tables:
            columns = _duck_columns(duck, schema, table)
            other_columns = _duck_columns(other, schema, table)
            if other_columns != columns:  # the published column order is the contract's on both
                problems.append(f"{table}: columns {columns} vs {other_columns}")
                continue
            problems += table_mismatches(
                duck, f"{schema}.{table}", columns, other_columns, lambda c, t=table: _duck_rows(other, c, f"main.{t}")
            )
    return len(tables), problems


def spark_mismatches(duck_paths: Paths, spark_paths: Paths) -> tuple[list[tuple[str, str]], list[str]]:
    """Every intermediate and mart table DuckDB built against the one Spark built, cell by cell."""
    env = spark_env(spark_paths.warehouse_dir)
    with duckdb.connect(str(duck_paths.warehouse_db), read_only=True) as duck, spark_session(env) as spark:
        tables = _tables(duck, COMPARED_SCHEMAS)
        spark_tables = sorted(
            (schema, table.name)
            for schema in COMPARED_SCHEMAS
            for table in spark.catalog.listTables(schema)
            if table.tableType != "VIEW" and not table.isTemporary
        )
        problems = [] if spark_tables == tables else [f"tables differ: DuckDB {tables}, Spark {spark_tables}"]
        for schema, table in tables:
            relation = f"{schema}.{table}"
            problems += table_mismatches(
                duck,
                relation,
                _duck_columns(duck, schema, table),
                spark.table(relation).columns,
                lambda c, r=relation: _spark_rows(spark, c, r),
            )
        # The comparison itself can fail: one micro-dollar off in one cell is caught.
        spark.sql(
            "create or replace temporary view daily_spend_off as select * except (cost_usd), "
            "cast(cost_usd + case when row_number() over (order by day, workspace, feature, provider, model) = 1 "
            "then 0.000001 else 0 end as decimal(18, 6)) as cost_usd from marts.daily_spend"
        )
        columns = _duck_columns(duck, "marts", "daily_spend")
        off = table_mismatches(
            duck, "marts.daily_spend", columns, columns, lambda c: _spark_rows(spark, c, "daily_spend_off")
        )
    if len(off) != 1:
        problems.append(f"a one-micro-dollar change gave {len(off)} mismatches, not 1: {off[:3]}")
    return tables, problems


def _labelled(paths: Paths, day: date) -> int:
    with duckdb.connect(str(paths.mart_db), read_only=True) as mart:
        return mart.execute("select sum(labelled_requests) from daily_spend where day = ?", [day]).fetchone()[0]


def partition_files(paths: Paths) -> dict[tuple[str, str], frozenset[str]]:
    """Spark's Parquet files per (table, day partition): a day not rebuilt keeps its files."""
    root = paths.warehouse_dir / "spark" / "warehouse"
    files: dict[tuple[str, str], set[str]] = {}
    for part in root.glob("*.db/*/*=*/*.parquet"):
        files.setdefault((f"{part.parts[-4]}/{part.parts[-3]}", part.parent.name.split("=", 1)[1]), set()).add(
            part.name
        )
    return {key: frozenset(names) for key, names in files.items()}


def _late_inputs(duck_paths: Paths, runs: dict[str, Paths]) -> dict[str, object]:
    """Late data delivered on the last day, the same on both engines: a call of the day
    before, resolutions of four of that day's requests, and a retry of a request of the
    previous month (inside the look-back, outside the window: its day is re-opened, not rebuilt)."""
    last, yesterday, old_day = DEMO_END, DEMO_END - timedelta(days=1), OLD_DAY
    with duckdb.connect(str(duck_paths.warehouse_db), read_only=True) as duck:
        unlabelled = [
            r
            for (r,) in duck.execute(
                "select distinct request_id from raw.telemetry_calls where cast(started_at as date) = ? "
                "and request_id not in (select request_id from raw.outcomes) order by 1 limit 4",
                [yesterday],
            ).fetchall()
        ]
        old = duck.execute(
            "select request_id, provider, model, workspace, feature from raw.telemetry_calls "
            "where cast(started_at as date) = ? and request_id not in "
            "(select request_id from raw.telemetry_calls where attempt > 1) order by request_id limit 1",
            [old_day],
        ).fetchone()
    assert len(unlabelled) == 4 and old
    calls = [
        late_call("late-call-1", "late-request-1", f"{yesterday}T23:59:00Z"),
        {
            "call_id": "late-retry-1",
            "request_id": old[0],
            "attempt": 2,
            "started_at": f"{last}T00:30:00Z",
            "provider": old[1],
            "model": old[2],
            "input_tokens": 500,
            "output_tokens": 50,
            "workspace": old[3],
            "feature": old[4],
        },
    ]
    resolutions = [
        {
            "request_id": r,
            "recorded_at": f"{last}T10:00:00Z",
            "kind": "resolution",
            "value": "resolved",
            "source": "helpdesk",
        }
        for r in unlabelled
    ]
    for paths in runs.values():
        (paths.telemetry_dir / last.isoformat() / "late-calls.jsonl").write_text(
            "\n".join(json.dumps(c) for c in calls) + "\n"
        )
        (paths.outcomes_dir / last.isoformat() / "late-resolutions.jsonl").write_text(
            "\n".join(json.dumps(r) for r in resolutions) + "\n"
        )
    return {"resolved": len(unlabelled), "retried": old[0]}


def _attempts(paths: Paths, request_id: str) -> int:
    with duckdb.connect(str(paths.warehouse_db), read_only=True) as duck:
        return duck.execute(
            "select count(*) from intermediate.int_calls_attributed where request_id = ?", [request_id]
        ).fetchone()[0]


@pytest.mark.spark
def test_daily_job_on_spark_publishes_what_duckdb_publishes(tmp_path_factory):
    """The Dagster daily job with COSTLINE_ENGINE=spark, beside the same job on DuckDB: a demo
    month backfilled, then a windowed run with late data. Both published marts equal, and every
    intermediate and mart table Spark built equal to DuckDB's, after each."""
    require_spark()
    root = tmp_path_factory.mktemp("engines")
    runs = {engine: Paths(root / engine / "input", root / engine / "warehouse") for engine in ("duckdb", "spark")}
    duck_paths, spark_paths = runs["duckdb"], runs["spark"]
    demo = ["demo", "--days", str(DEMO_DAYS), "--end", DEMO_END.isoformat(), "--calls-per-day", "300"]
    _both(runs, *demo)
    manifest = json.loads((spark_paths.dbt_target_dir / "spark" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "spark"  # the build did run on Spark

    count, problems = published_mismatches(duck_paths, spark_paths)
    assert count >= 20 and not problems, "\n".join(problems[:30])
    tables, problems = spark_mismatches(duck_paths, spark_paths)
    assert len(tables) >= 30 and ("marts", "daily_spend") in tables
    assert not problems, "\n".join(problems[:30])
    with duckdb.connect(str(duck_paths.mart_db), read_only=True) as duck:
        cost, calls, days = duck.execute(
            "select sum(cost_usd), sum(api_calls), count(distinct day) from daily_spend"
        ).fetchone()
    assert cost > 0 and calls >= DEMO_DAYS * 250 and days == DEMO_DAYS  # not two empty builds

    # The windowed run: only the window's and the re-opened day's partitions are rewritten.
    yesterday, old_day = DEMO_END - timedelta(days=1), OLD_DAY
    labelled_before = _labelled(spark_paths, yesterday)
    before = partition_files(spark_paths)
    late = _late_inputs(duck_paths, runs)
    _both(runs, "run", "--date", DEMO_END.isoformat())
    after = partition_files(spark_paths)
    rebuilt_days = {key[1][:10] for key, names in after.items() if before.get(key) != names}
    # The run's window, as the orchestrator computed it (its day and every day its inputs
    # touched: the late call's, and the month the FOCUS delivery re-states), and the days of
    # the earlier requests the window's inputs re-open (the retry's, and those of the demo's
    # own outcomes recorded in the window), as DuckDB found them.
    with duckdb.connect(str(spark_paths.mart_db), read_only=True) as mart:
        (run_id,) = mart.execute("select run_id from mart_publication").fetchone()
    first, last = rebuild_window([DEMO_END], event_days_loaded_by(run_id, spark_paths.warehouse_db))
    window = {str(first + timedelta(days=n)) for n in range((last - first).days + 1)}
    with duckdb.connect(str(duck_paths.warehouse_db), read_only=True) as duck:
        reopened_days = {
            str(d)
            for (d,) in duck.execute("select distinct previous_day from intermediate.int_requests_reopened").fetchall()
        }
    assert str(yesterday) in window and str(old_day) not in window and str(old_day) in reopened_days
    late_days = window | reopened_days
    assert rebuilt_days == late_days, f"day partitions rewritten: {sorted(rebuilt_days)}, expected {sorted(late_days)}"
    kept = [key for key in before if key[1][:10] not in late_days]
    assert len(kept) > 100 and all(after.get(key) == before[key] for key in kept)
    # The re-opened day went through the copy-on-write of int_requests_resolved, which left nothing behind.
    old_partition = ("intermediate.db/int_requests_resolved", str(old_day))
    assert before[old_partition] != after[old_partition]
    assert not list((spark_paths.warehouse_dir / "spark" / "warehouse").glob("*.db/*__kept"))
    with duckdb.connect(str(spark_paths.mart_db), read_only=True) as mart:
        late_call = mart.execute("select day, api_calls from daily_spend where feature = 'late-feature'").fetchall()
    assert late_call == [(yesterday, 1)]
    assert _labelled(spark_paths, yesterday) == labelled_before + late["resolved"]
    assert _attempts(spark_paths, late["retried"]) == 2
    count, problems = published_mismatches(duck_paths, spark_paths)
    assert not problems, "\n".join(problems[:30])
    _, problems = spark_mismatches(duck_paths, spark_paths)
    assert not problems, "\n".join(problems[:30])


# --- the silent differences, guarded macro by macro -------------------------------------------

# Each expression on its own row of one query; the expected value is computed here, exactly.
BIG = 9223372036854775807  # 2^63 - 1: a BIGINT division of a larger product wraps on Spark
MAX_MONEY = Decimal("999999999999.999999")  # the largest DECIMAL(18, 6) amount
GUARDS = {
    # costline_floor_div on a product past 2^63 (Spark's div() returns BIGINT and wraps).
    "floor_div_past_2_63": (
        "{{ costline_floor_div('cast(9223372036854775807 as ' ~ costline_type_wide_int() ~ ') * 7', '3') }}",
        str(BIG * 7 // 3),
    ),
    "floor_div_negative": ("{{ costline_floor_div('cast(-7 as ' ~ costline_type_wide_int() ~ ')', '2') }}", "-4"),
    # A micro-dollar allocation at the largest amount: NULL on Spark if a decimal overflowed.
    "allocation_of_max_money": (
        "{{ costline_floor_div(costline_to_micros('cast(999999999999.999999 as decimal(18, 6))') ~ ' * 1000000000', '7') }}",
        str(int(MAX_MONEY * 1_000_000) * 1_000_000_000 // 7),
    ),
    # The interval is an expression: unbracketed, '-1 * 2 + 5' hours became -1 * 2 + 5 * 3600 s.
    "dateadd_expression": (
        "{{ dbt.dateadd('hour', '-1 * 2 + 5', \"cast('2026-03-01 10:00:00.123456' as timestamp)\") }}",
        "2026-03-01 13:00:00.123456",
    ),
    "dateadd_days_back": (
        "{{ dbt.dateadd('day', '-1 * 3', \"cast('2026-03-02 23:30:00' as timestamp)\") }}",
        "2026-02-27 23:30:00",
    ),
    # Half away from zero to the micro-dollar, at the largest amount.
    "money_ratio_max": (
        "{{ costline_money_ratio('cast(999999999999.999999 as decimal(18, 6))', '7') }}",
        "142857142857.142857",
    ),
    "money_ratio_half": ("{{ costline_money_ratio('cast(-0.000005 as decimal(18, 6))', '2') }}", "-0.000003"),
    "money_ratio_by_zero": ("{{ costline_money_ratio('cast(1 as decimal(18, 6))', '0') }}", None),
    "from_micros_max": (
        "{{ costline_from_micros(costline_to_micros('cast(999999999999.999999 as decimal(18, 6))')) }}",
        "999999999999.999999",
    ),
}
MEDIAN_SQL = (
    "select cast({{ costline_median('x', scale=6) }} as decimal(18, 6)) as value from "
    "(select cast(v as decimal(18, 6)) as x from (values ({values})) as t(v)) as observations"
)
MEDIANS = {
    # Even count: the mean of the middle two (2.5000025) truncated, as DuckDB's median does.
    "median_even": ("1.000001), (2.000002), (3.000003), (400000000000.000004", "2.500002"),
    "median_odd": ("5.5), (-1), (2.123456", "2.123456"),
    "median_negative_even": ("-1.000001), (-2.000002", "-1.500001"),
}


def _guard_sql() -> str:
    rows = [
        f"select '{name}' as guard, cast({expression} as {{{{ dbt.type_string() }}}}) as value"
        for name, (expression, _) in GUARDS.items()
    ]
    rows += [
        f"select '{name}' as guard, cast(({MEDIAN_SQL.replace('{values}', values)}) as {{{{ dbt.type_string() }}}}) as value"
        for name, (values, _) in MEDIANS.items()
    ]
    return "\nunion all\n".join(rows)


def _show(warehouse_dir: Path, work_dir: Path, target: str, env: dict[str, str]) -> dict[str, str | None]:
    import json

    result = run_dbt(
        ["--quiet", "show", "--target", target, "--output", "json", "--limit", "100", "--inline", _guard_sql()],
        warehouse_dir,
        work_dir,
        env_extra=env,
    )
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    return {row["guard"]: row["value"] for row in payload["show"]}


@pytest.mark.spark
def test_silent_spark_differences_are_guarded_on_both_engines(tmp_path: Path):
    require_spark()
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    expected = {name: value for name, (_, value) in {**GUARDS, **MEDIANS}.items()}
    duck = _show(warehouse, tmp_path / "duckdb", "duckdb", {})
    spark = _show(warehouse, tmp_path / "spark", "spark", spark_env(warehouse))
    assert duck == expected
    assert spark == expected

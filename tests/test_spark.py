"""costline on Spark: the same dbt project built on DuckDB and on a local Spark, cell for cell.

Spark runs in session mode (dbt-spark, pyspark in local[2]), reading raw.* exported from the
DuckDB warehouse as Parquet (orchestration/spark_raw.py). Tests marked `spark` skip locally
without pyspark/dbt-spark or Java and fail with COSTLINE_REQUIRE_SPARK=1. docs/SPARK.md lists the
differences they guard.
"""

import math
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_fixtures import DBT_PROJECT_DIR, load_demo_raw, run_dbt
from spark_fixtures import require_spark, spark_env, spark_session

from ingestion.settings import Paths
from ingestion.warehouse import connect
from orchestration.spark_raw import export_raw_tables, spark_raw_dir

DEMO_END = date(2026, 3, 4)  # across a month end, as tests/test_postgres.py
DEMO_DAYS = 10
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


# --- the demo on both engines -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_raw(tmp_path_factory) -> Paths:
    """A small demo's inputs loaded into raw.* by the real ingestion code, exported for Spark."""
    require_spark()
    root = tmp_path_factory.mktemp("spark_demo")
    paths = load_demo_raw(root, DEMO_END, DEMO_DAYS)
    with connect(paths.warehouse_db) as con:
        export_raw_tables(con, spark_raw_dir(paths.warehouse_dir))
    return paths


def _duck_tables(duck) -> list[tuple[str, str]]:
    return duck.execute(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        f"and table_schema in {COMPARED_SCHEMAS} order by 1, 2"
    ).fetchall()


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


def table_mismatches(duck, spark, schema: str, table: str, spark_relation: str | None = None) -> list[str]:
    """Cell differences: money, counts and text exact, floats to 1e-9, rows matched by sort."""
    columns = [
        name
        for (name,) in duck.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]
    spark_relation = spark_relation or f"{schema}.{table}"
    spark_columns = spark.table(spark_relation).columns
    if sorted(spark_columns) != sorted(columns):
        return [f"{schema}.{table}: columns {columns} on DuckDB, {spark_columns} on Spark"]
    select = ", ".join(f"`{c}`" for c in columns)
    duck_rows = sorted(duck.execute(f"select {', '.join(columns)} from {schema}.{table}").fetchall(), key=_sort_key)
    spark_rows = sorted(
        (tuple(r) for r in spark.sql(f"select {select} from {spark_relation}").collect()), key=_sort_key
    )
    if len(duck_rows) != len(spark_rows):
        return [f"{schema}.{table}: {len(duck_rows)} rows on DuckDB, {len(spark_rows)} on Spark"]
    problems = []
    for duck_row, spark_row in zip(duck_rows, spark_rows, strict=True):
        for column, expected, actual in zip(columns, duck_row, spark_row, strict=True):
            if not _same(expected, actual):
                problems.append(f"{schema}.{table}.{column}: DuckDB {expected!r} != Spark {actual!r} in {duck_row}")
    return problems


def _all_mismatches(paths: Paths, env: dict[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    with duckdb.connect(str(paths.warehouse_db), read_only=True) as duck, spark_session(env) as spark:
        tables = _duck_tables(duck)
        spark_tables = sorted(
            (schema, table.name)
            for schema in COMPARED_SCHEMAS
            for table in spark.catalog.listTables(schema)
            if table.tableType != "VIEW" and not table.isTemporary
        )
        problems = [] if spark_tables == tables else [f"tables differ: DuckDB {tables}, Spark {spark_tables}"]
        for schema, table in tables:
            problems += table_mismatches(duck, spark, schema, table)
        # The comparison itself can fail: one micro-dollar off in one cell is caught.
        spark.sql(
            "create or replace temporary view daily_spend_off as select * except (cost_usd), "
            "cast(cost_usd + case when row_number() over (order by day, workspace, feature, provider, model) = 1 "
            "then 0.000001 else 0 end as decimal(18, 6)) as cost_usd from marts.daily_spend"
        )
        off = table_mismatches(duck, spark, "marts", "daily_spend", spark_relation="daily_spend_off")
    if len(off) != 1:
        problems.append(f"a one-micro-dollar change gave {len(off)} mismatches, not 1: {off[:3]}")
    return tables, problems


@pytest.mark.spark
def test_dbt_project_on_spark_matches_duckdb_cell_for_cell(demo_raw: Paths, tmp_path: Path):
    env = spark_env(demo_raw.warehouse_dir)
    build = ["build", "--exclude-resource-type", "test", "unit_test"]
    run_dbt(build, demo_raw.warehouse_dir, tmp_path / "duckdb")
    result = run_dbt([*build, "--target", "spark"], demo_raw.warehouse_dir, tmp_path / "spark", env_extra=env)
    assert "ERROR=0" in result.stdout and "SKIP=0" in result.stdout

    tables, problems = _all_mismatches(demo_raw, env)
    assert len(tables) >= 25 and ("marts", "daily_spend") in tables
    with duckdb.connect(str(demo_raw.warehouse_db), read_only=True) as duck:
        cost, calls = duck.execute("select sum(cost_usd), sum(api_calls) from marts.daily_spend").fetchone()
    assert cost > 0 and calls >= DEMO_DAYS * 250  # not two empty builds
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

"""costline on a real PostgreSQL server: the dbt project built there, and the mart published there.

A server is found at COSTLINE_TEST_POSTGRES_URL (default: the one `.ci/postgres.sh start`
runs). Without one these tests skip locally, and fail when CI is set: CI must run them.
Each test works in a database of its own, dropped afterwards.
"""

import math
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

try:
    import psycopg
except ImportError:
    if os.environ.get("CI"):
        raise  # CI installs the `postgres` extra and must run these tests
    pytest.skip("the optional extra `postgres` (psycopg, dbt-postgres) is not installed", allow_module_level=True)
from dbt_fixtures import load_demo_raw, run_dbt  # noqa: E402
from postgres_fixtures import SERVER_URL_ENV, pg_database, pg_server  # noqa: E402, F401
from psycopg.conninfo import conninfo_to_dict  # noqa: E402

from ingestion.settings import Paths  # noqa: E402
from ingestion.warehouse import RAW_TABLES  # noqa: E402
from orchestration.postgres_publish import MART_SCHEMA, PUBLICATION_TABLE, copy_tables, publish_mart_to_postgres  # noqa: E402

DEMO_END = date(2026, 3, 4)  # ten days across a month end: budgets and month labels both move
DEMO_DAYS = 10


# --- the server ------------------------------------------------------------------------


def _dbt_env(url: str) -> dict[str, str]:
    """The profile's postgres target reads these (dbt_project/profiles.yml)."""
    info = conninfo_to_dict(url)
    return {
        "COSTLINE_PG_HOST": info.get("host", "localhost"),
        "COSTLINE_PG_PORT": str(info.get("port", 5432)),
        "COSTLINE_PG_USER": info.get("user", "postgres"),
        "COSTLINE_PG_PASSWORD": info.get("password", ""),
        "COSTLINE_PG_DATABASE": info["dbname"],
    }


# --- the dbt project on both engines ------------------------------------------------------


@pytest.fixture(scope="module")
def demo_raw(tmp_path_factory) -> Paths:
    """A small demo's inputs loaded into raw.* by the real ingestion code (no Dagster)."""
    root = tmp_path_factory.mktemp("pg_demo")
    return load_demo_raw(root, DEMO_END, DEMO_DAYS)


def _float_column(value) -> bool:
    return isinstance(value, float)


def table_mismatches(duck: duckdb.DuckDBPyConnection, pg_con, schema: str, table: str) -> list[str]:
    """Cell differences between one table on both engines: money and counts exact, floats to 1e-9.

    Rows are matched after sorting on every non-float column, in Python so the two engines'
    collations cannot reorder them differently.
    """
    columns = [
        name
        for (name,) in duck.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]
    # Quoted: focus_costs' FOCUS names are CamelCase, which Postgres folds unless quoted.
    select = f"select {', '.join(chr(34) + name + chr(34) for name in columns)} from {schema}.{table}"

    def ordered(rows):
        return sorted(rows, key=lambda row: tuple((v is None, "" if _float_column(v) else str(v)) for v in row))

    duck_rows, pg_rows = ordered(duck.execute(select).fetchall()), ordered(pg_con.execute(select).fetchall())
    if len(duck_rows) != len(pg_rows):
        return [f"{table}: {len(duck_rows)} rows on DuckDB, {len(pg_rows)} on Postgres"]
    problems = []
    for duck_row, pg_row in zip(duck_rows, pg_rows, strict=True):
        for column, expected, actual in zip(columns, duck_row, pg_row, strict=True):
            if _float_column(expected) or _float_column(actual):
                same = (expected is None) == (actual is None) and (
                    expected is None or math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
                )
            else:
                same = expected == actual and type(expected) is type(actual)
            if not same:
                problems.append(f"{table}.{column}: DuckDB {expected!r} != Postgres {actual!r} in {duck_row}")
    return problems


def _mart_tables(duck: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        name
        for (name,) in duck.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()
    ]


def test_dbt_project_builds_on_postgres_and_matches_duckdb_to_the_cent(demo_raw, pg_database, tmp_path, monkeypatch):
    # Postgres gets the very same raw rows; the DuckDB build is the reference. Both builds run
    # at once: they share nothing but the inputs already copied, and the suite stays fast.
    with duckdb.connect(str(demo_raw.warehouse_db), read_only=True) as duck, psycopg.connect(pg_database) as pg:
        copy_tables(duck, pg, "raw", list(RAW_TABLES), "raw")
    for name, value in _dbt_env(pg_database).items():
        monkeypatch.setenv(name, value)  # run_dbt passes the environment through to dbt
    with ThreadPoolExecutor(max_workers=2) as pool:
        duckdb_build = pool.submit(
            run_dbt,
            ["build", "--exclude-resource-type", "test", "unit_test"],
            demo_raw.warehouse_dir,
            tmp_path / "duckdb",
        )
        postgres_build = pool.submit(
            run_dbt, ["build", "--target", "postgres"], demo_raw.warehouse_dir, tmp_path / "pg"
        )
        duckdb_build.result()
        build = postgres_build.result()
    assert "ERROR=0" in build.stdout and "SKIP=0" in build.stdout
    assert "unit_test" in (tmp_path / "pg" / "target" / "run_results.json").read_text(), (
        "the Postgres build ran no unit tests"
    )

    with duckdb.connect(str(demo_raw.warehouse_db), read_only=True) as duck, psycopg.connect(pg_database) as pg:
        tables = _mart_tables(duck)
        pg_tables = [
            name
            for (name,) in pg.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            )
        ]
        assert tables == pg_tables and "daily_spend" in tables
        # Not a comparison of two empty builds: calls priced, and bills spread over them.
        cost, calls = duck.execute("select sum(cost_usd), sum(api_calls) from marts.daily_spend").fetchone()
        billed_days = duck.execute(
            "select count(*) from marts.billing_reconciliation where billed_cost_usd > 0"
        ).fetchone()[0]
        assert cost > 0 and calls >= DEMO_DAYS * 250 and billed_days >= DEMO_DAYS
        problems = [problem for table in tables for problem in table_mismatches(duck, pg, "marts", table)]
        assert not problems, "\n".join(problems[:20])

        money_types = pg.execute(
            """select table_name || '.' || column_name, format_type(atttypid, atttypmod)
               from information_schema.columns c
               join pg_attribute a on a.attrelid = (quote_ident(c.table_schema) || '.' ||
                                                    quote_ident(c.table_name))::regclass
                                  and a.attname = c.column_name
               where c.table_schema = 'marts' and c.column_name like '%\\_usd'"""
        ).fetchall()
        assert money_types and {kind for _, kind in money_types} == {"numeric(18,6)"}, money_types

        # The comparison itself can fail: one cent off in one cell is caught.
        pg.execute(
            "update marts.daily_spend set cost_usd = cost_usd + 0.01 "
            "where ctid = (select min(ctid) from marts.daily_spend)"
        )
        assert len(table_mismatches(duck, pg, "marts", "daily_spend")) == 1
        pg.rollback()

    # The daily run's windowed, incremental path must land on the same numbers.
    last_days = {
        "costline_start_day": (DEMO_END - timedelta(days=1)).isoformat(),
        "costline_end_day": DEMO_END.isoformat(),
    }
    run_dbt(["run", "--target", "postgres"], demo_raw.warehouse_dir, tmp_path / "pg", dbt_vars=last_days)
    with duckdb.connect(str(demo_raw.warehouse_db), read_only=True) as duck, psycopg.connect(pg_database) as pg:
        problems = [problem for table in _mart_tables(duck) for problem in table_mismatches(duck, pg, "marts", table)]
        assert not problems, "\n".join(problems[:20])


# --- publishing the mart --------------------------------------------------------------------


def _write_mart(path: Path, version: int, extra_column: bool = False, float_money: bool = False) -> None:
    """A mart.duckdb whose every value says which version it is."""
    path.unlink(missing_ok=True)
    money_type = "double" if float_money else "decimal(18, 6)"
    with duckdb.connect(str(path)) as con:
        con.execute(f"""create table daily_spend as
            select date '2026-03-01' + cast(i as integer) as day, 'ws-' || i as workspace,
                   cast(12345678.123456 + i * 0.000001 + {version} as {money_type}) as cost_usd,
                   cast(0.1 as double) + cast(0.2 as double) * {version} as retry_rate,
                   case when i = 0 then '' when i = 1 then null else 'v{version}' end as note,
                   i % 2 = 0 as flagged, timestamp '2026-03-01 10:00:00.123456' + to_hours(i) as hour,
                   cast(i * 1000000000000 as bigint) as input_tokens
                   {", 'added in v' || " + str(version) + " as added" if extra_column else ""}
            from range(3) t(i)""")
        con.execute(f"""create table budget_burn as
            select date '2026-03-01' as day, 'ws-0' as workspace,
                   cast({version} * 100.5 as decimal(18, 6)) as spend_to_date_usd, 'v{version}' as status""")
        con.execute("create table mart_publication as select now() as published_at")


def _snapshot(pg_con) -> dict:
    return {
        "daily_spend": pg_con.execute(f"select * from {MART_SCHEMA}.daily_spend order by day").fetchall(),
        "budget_burn": pg_con.execute(f"select * from {MART_SCHEMA}.budget_burn").fetchall(),
        "run_id": pg_con.execute(f"select run_id from {MART_SCHEMA}.{PUBLICATION_TABLE}").fetchall(),
    }


def test_publish_copies_the_mart_with_exact_types(pg_database, tmp_path):
    mart = tmp_path / "mart.duckdb"
    _write_mart(mart, version=1)
    publication = publish_mart_to_postgres(mart, pg_database, run_id="run-1")
    assert publication.rows == {"budget_burn": 1, "daily_spend": 3}  # mart_publication is costline's own

    with psycopg.connect(pg_database) as pg:
        types = dict(
            pg.execute(
                """select attname, format_type(atttypid, atttypmod) from pg_attribute
               where attrelid = 'costline_mart.daily_spend'::regclass and attnum > 0"""
            ).fetchall()
        )
        assert types == {
            "day": "date",
            "workspace": "text",
            "cost_usd": "numeric(18,6)",
            "retry_rate": "double precision",
            "note": "text",
            "flagged": "boolean",
            "hour": "timestamp without time zone",
            "input_tokens": "bigint",
        }
        rows = _snapshot(pg)
    first = rows["daily_spend"][0]
    assert first[2] == Decimal("12345679.123456")
    assert first[3] == 0.1 + 0.2  # the same double, bit for bit
    assert [row[4] for row in rows["daily_spend"]] == ["", None, "v1"]  # empty string and NULL kept apart
    assert str(first[6]) == "2026-03-01 10:00:00.123456"
    assert rows["daily_spend"][2][7] == 2_000_000_000_000
    assert rows["run_id"] == [("run-1",)]


def _publish_first_mart(mart: Path, pg_database: str) -> dict:
    """Version 1 of the mart published as run-1; returns what Postgres then holds."""
    _write_mart(mart, version=1)
    publish_mart_to_postgres(mart, pg_database, run_id="run-1")
    with psycopg.connect(pg_database) as pg:
        return _snapshot(pg)


def test_reader_sees_the_old_or_the_new_mart_never_a_mix(pg_database, tmp_path):
    mart = tmp_path / "mart.duckdb"
    old = _publish_first_mart(mart, pg_database)

    reader = psycopg.connect(pg_database)
    reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        seen_first = reader.execute(f"select * from {MART_SCHEMA}.daily_spend order by day").fetchall()

        _write_mart(mart, version=2)
        # Publishing must not wait for the open reader (it would hang the daily run).
        publisher = threading.Thread(
            target=publish_mart_to_postgres, args=(mart, pg_database), kwargs={"run_id": "run-2"}
        )
        publisher.start()
        publisher.join(timeout=30)
        assert not publisher.is_alive(), "publishing blocked behind a reader"

        # Mid-transaction, after the new mart committed: still entirely the old one.
        assert seen_first == old["daily_spend"]
        assert reader.execute(f"select * from {MART_SCHEMA}.budget_burn").fetchall() == old["budget_burn"]
        assert reader.execute(f"select run_id from {MART_SCHEMA}.{PUBLICATION_TABLE}").fetchall() == [("run-1",)]
        reader.commit()
        new = _snapshot(reader)
        assert new["run_id"] == [("run-2",)] and new["budget_burn"][0][3] == "v2"
        assert {row[4] for row in new["daily_spend"]} == {"", None, "v2"}
    finally:
        reader.close()


def test_failed_publish_leaves_the_previous_mart_whole(pg_database, tmp_path):
    mart = tmp_path / "mart.duckdb"
    before = _publish_first_mart(mart, pg_database)

    # daily_spend is replaced first, then a table the mart lacks makes the publish fail.
    _write_mart(mart, version=2)
    with pytest.raises(LookupError, match="no_such_table"):
        publish_mart_to_postgres(mart, pg_database, ["daily_spend", "no_such_table"], run_id="run-2")
    # Float money is refused, not published.
    _write_mart(mart, version=3, float_money=True)
    with pytest.raises(TypeError, match="daily_spend.cost_usd is money"):
        publish_mart_to_postgres(mart, pg_database, run_id="run-3")
    with psycopg.connect(pg_database) as pg:
        assert _snapshot(pg) == before


def test_changed_columns_are_republished_and_the_reader_role_can_only_read(pg_database, pg_server, tmp_path):
    role = f"costline_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'create role "{role}" nologin')
    try:
        mart = tmp_path / "mart.duckdb"
        _write_mart(mart, version=1)
        publish_mart_to_postgres(mart, pg_database, run_id="run-1", reader_role=role)
        _write_mart(mart, version=2, extra_column=True)  # a new column: the table is re-created
        publish_mart_to_postgres(mart, pg_database, run_id="run-2", reader_role=role)

        with psycopg.connect(pg_database) as pg:
            pg.execute(f'set role "{role}"')
            added = pg.execute(f"select distinct added from {MART_SCHEMA}.daily_spend").fetchall()
            assert added == [("added in v2",)]
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                pg.execute(f"delete from {MART_SCHEMA}.budget_burn")
    finally:
        # Roles are cluster-wide: revoke its grants in the test database, then drop it.
        with psycopg.connect(pg_database, autocommit=True) as db:
            db.execute(f'drop owned by "{role}"')
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'drop role "{role}"')


def test_dagster_step_publishes_only_when_the_url_is_set(pg_database, tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.postgres_publish import PUBLISH_URL_ENV, build_postgres_mart
    from orchestration.resources import CostlinePaths

    paths = Paths(tmp_path / "input", tmp_path / "warehouse")
    paths.ensure_warehouse_dir()
    _write_mart(paths.mart_db, version=1)
    with duckdb.connect(str(paths.mart_db)) as con:  # publish_mart always writes it, empty or not
        con.execute("create table enforcement_log as select 1 as placeholder where false")
    asset = build_postgres_mart(["daily_spend", "budget_burn"])
    resources = {"costline": CostlinePaths(input_dir=str(paths.input_dir), warehouse_dir=str(paths.warehouse_dir))}

    monkeypatch.delenv(PUBLISH_URL_ENV, raising=False)
    off = dg.materialize([asset], partition_key="2026-03-01", resources=resources)
    assert off.success and not off.get_asset_materialization_events()

    monkeypatch.setenv(PUBLISH_URL_ENV, pg_database)
    on = dg.materialize([asset], partition_key="2026-03-01", resources=resources)
    [event] = on.get_asset_materialization_events()
    assert event.materialization.metadata["rows"].value == 4
    with psycopg.connect(pg_database) as pg:
        assert _snapshot(pg)["run_id"] == [(on.run_id,)]


def test_every_relation_name_fits_a_postgres_identifier():
    """Postgres cuts identifiers at 63 bytes, and dbt refuses longer unit-test relations."""
    import yaml

    project = Path(__file__).resolve().parents[1] / "dbt_project"
    names = [
        path.stem
        for folder in ("models", "seeds")
        for path in (project / folder).rglob("*")
        if path.suffix in (".sql", ".csv")
    ]
    for path in (project / "models").rglob("*.yml"):
        names += [test["name"] for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])]
    assert names
    too_long = [name for name in names if len(name.encode()) > 63]
    assert not too_long, f"rename (Postgres identifiers are at most 63 bytes): {too_long}"

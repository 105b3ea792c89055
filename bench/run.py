"""costline benchmark: one command, a printed table, and the same figures in a JSON file.

    python -m bench.run                      # the backbone figures (1M-call day, 30-day backfill)
    python -m bench.run --suite scale        # P1-P4 and the fixed overhead (10M calls, 365 days)
    python -m bench.run --suite day          # only the fixed overhead and P1 (10M-call days)
    python -m bench.run --suite year         # only P2-P4 (the 365-day backfill and what follows)
    python -m bench.run --suite hourly       # the hourly run on 30 and 365 days of history
    python -m bench.run --suite small        # the small workloads: the demo, a 31-day backfill, its re-run
    python -m bench.run --suite spark        # the demo month and a daily run, on DuckDB and on local Spark
    python -m bench.run --scale 0.1          # everything ten times smaller, for a quick look

Inputs are generated with DuckDB (bench/generate.py) under --work (default bench/out/work).
Every costline figure is a real `costline` CLI process measured from outside (bench/measure.py).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bench.generate import write_day, write_hour

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 10, 1)


def costline(*args: str, input_dir: Path, warehouse_dir: Path, extra_env: dict | None = None) -> dict:
    env = {
        **os.environ,
        **(extra_env or {}),
        "COSTLINE_INPUT_DIR": str(input_dir),
        "COSTLINE_WAREHOUSE_DIR": str(warehouse_dir),
        "DO_NOT_TRACK": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "False",
    }
    env.pop("DAGSTER_HOME", None)
    out = subprocess.run(
        [sys.executable, "-m", "bench.measure", "--", sys.executable, "-m", "orchestration.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["returncode"] != 0:
        raise SystemExit(f"costline {' '.join(args)} failed:\n{result['stderr_tail']}")
    return result


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def floor_seconds(files: list[Path], fmt: str, work: Path) -> float:
    """The same essential work in one hand-written DuckDB script: read, price, aggregate."""
    db = work / "floor.duckdb"
    db.unlink(missing_ok=True)
    reader = "read_parquet" if fmt == "parquet" else "read_json"
    sources = "[" + ",".join(f"'{f}'" for f in files) + "]"
    columns = (
        ""
        if fmt == "parquet"
        else """, columns={call_id: 'VARCHAR', request_id: 'VARCHAR', attempt: 'INTEGER',
        started_at: 'VARCHAR', provider: 'VARCHAR', model: 'VARCHAR', input_tokens: 'BIGINT',
        output_tokens: 'BIGINT', cache_read_input_tokens: 'BIGINT', cache_creation_input_tokens: 'BIGINT',
        status: 'VARCHAR', workspace: 'VARCHAR', feature: 'VARCHAR', prompt_version: 'VARCHAR',
        project_id: 'VARCHAR'}, format='newline_delimited'"""
    )
    started = time.monotonic()
    with duckdb.connect(str(db)) as con:
        con.execute("""create table prices as select * from (values
            ('openai', 'gpt-4o', 2.5, 10.0, 1.25, 2.5), ('openai', 'gpt-4o-mini', 0.15, 0.6, 0.075, 0.15),
            ('anthropic', 'claude-sonnet-4-20250514', 3.0, 15.0, 0.3, 3.75),
            ('anthropic', 'claude-3-5-haiku-20241022', 0.8, 4.0, 0.08, 1.0))
            t(provider, model, inp, outp, cache_read, cache_write)""")
        con.execute(f"""create table calls as
            select c.*, cast(cast(c.started_at as timestamptz) as timestamp) as ts,
                   cast(((c.input_tokens - c.cache_read_input_tokens - c.cache_creation_input_tokens) * p.inp
                         + c.cache_read_input_tokens * p.cache_read + c.cache_creation_input_tokens * p.cache_write
                         + c.output_tokens * p.outp) / 1e6 as decimal(18, 6)) as cost_usd
            from {reader}({sources}{columns}) c left join prices p using (provider, model)""")
        for grain, expr in (("daily", "cast(ts as date)"), ("hourly", "date_trunc('hour', ts)")):
            con.execute(f"""create table {grain} as select {expr} as t, workspace, feature, provider, model,
                count(*) as api_calls, count(distinct request_id) as requests, sum(input_tokens) as input_tokens,
                sum(output_tokens) as output_tokens, sum(cost_usd) as cost_usd from calls group by all""")
    return round(time.monotonic() - started, 2)


def bench_day(work: Path, calls: int, fmt: str, label: str) -> dict:
    inputs = fresh(work / f"{label}-in")
    write_day(inputs, DAY, calls, fmt)
    warehouse = fresh(work / f"{label}-wh")
    measured = costline("run", "--date", DAY.isoformat(), input_dir=inputs, warehouse_dir=warehouse)
    files = sorted((inputs / "telemetry" / DAY.isoformat()).iterdir())
    floor = floor_seconds(files, fmt, work)
    return {
        "name": label,
        "calls": calls,
        **measured,
        "floor_s": floor,
        "ratio_to_floor": round(measured["wall_s"] / floor, 2) if floor else None,
    }


def bench_backfill(work: Path, days: int, calls_per_day: int, label: str) -> tuple[dict, Path, Path]:
    inputs = fresh(work / f"{label}-in")
    start = DAY - timedelta(days=days - 1)
    for n in range(days):
        write_day(inputs, start + timedelta(days=n), calls_per_day, "jsonl", seed=n)
    warehouse = fresh(work / f"{label}-wh")
    measured = costline(
        "backfill", "--start", start.isoformat(), "--end", DAY.isoformat(), input_dir=inputs, warehouse_dir=warehouse
    )
    return (
        {
            "name": label,
            "days": days,
            "calls_per_day": calls_per_day,
            **measured,
            "seconds_per_day": round(measured["wall_s"] / days, 2),
        },
        inputs,
        warehouse,
    )


def hourly_history(work: Path, days: int, calls_per_day: int) -> tuple[Path, Path]:
    """A warehouse holding `days` days at `calls_per_day`, by a real backfill; built once and
    kept (`<work>/hourly-<days>d-*`, marked complete), since a year takes a quarter of an hour."""
    label = f"hourly-{days}d-{calls_per_day}"
    inputs, warehouse = work / f"{label}-in", work / f"{label}-wh"
    done = work / f"{label}.complete"
    if not done.exists():
        _, inputs, warehouse = bench_backfill(work, days, calls_per_day, label)
        done.write_text("history built\n")
    return inputs, warehouse


def bench_hourly(work: Path, days: int, calls_per_day: int) -> dict:
    """The hourly run on a warehouse holding `days` days, when one new hour of files arrives.

    On a copy of the history: today's hours 00-08 land and a first hourly run (09:05) loads
    them; the measured runs (10:05, 11:05) each find one new file, as the schedule would. The
    figure is the lower of the two.
    """
    history_in, history_wh = hourly_history(work, days, calls_per_day)
    inputs, warehouse = work / f"hourly-{days}d-run-in", work / f"hourly-{days}d-run-wh"
    for copy in (inputs, warehouse):
        shutil.rmtree(copy, ignore_errors=True)
    # Inputs are only read (today's files are added beside them): hard links, not 17 GB of copies.
    shutil.copytree(history_in, inputs, copy_function=os.link)
    shutil.copytree(history_wh, warehouse, symlinks=True)
    today = DAY + timedelta(days=1)
    for hour in range(9):
        write_hour(inputs, today, hour, calls_per_day, seed=999)
    clock = lambda hour: {"COSTLINE_NOW": f"{today}T{hour:02d}:05:00Z"}  # noqa: E731
    costline("hourly", input_dir=inputs, warehouse_dir=warehouse, extra_env=clock(9))
    runs = []
    for hour in (9, 10):
        new_file = write_hour(inputs, today, hour, calls_per_day, seed=999)
        runs.append(costline("hourly", input_dir=inputs, warehouse_dir=warehouse, extra_env=clock(hour + 1)))
        runs[-1]["new_calls"] = sum(1 for _ in new_file.open())
    best = min(runs, key=lambda r: r["wall_s"])
    return {
        "name": f"hourly run on {days} days @{calls_per_day // 1000}k/day",
        "days": days,
        "calls_per_day": calls_per_day,
        **best,
        "walls_s": [r["wall_s"] for r in runs],
    }


def bench_small(work: Path, calls_per_day: int) -> list[dict]:
    """What a first-time user and a small team see: `costline demo` end to end, a 31-day
    backfill at 2k calls/day, and that backfill run again with no new input."""
    demo_in, demo_wh = fresh(work / "small-demo-in"), fresh(work / "small-demo-wh")
    # `costline demo` only overwrites directories it wrote itself: give it empty ones.
    demo_in.rmdir()
    demo_wh.rmdir()
    rows = [{"name": "demo (30 days, ~4k calls/day)", **costline("demo", input_dir=demo_in, warehouse_dir=demo_wh)}]
    backfill, inputs, warehouse = bench_backfill(work, 31, calls_per_day, "31-day backfill @2k/day")
    rows.append(backfill)
    start = DAY - timedelta(days=30)
    rerun = costline(
        "backfill", "--start", start.isoformat(), "--end", DAY.isoformat(), input_dir=inputs, warehouse_dir=warehouse
    )
    rows.append({"name": "31-day backfill re-run, nothing new", **rerun})
    return rows


SMALL_TARGETS_S = {
    "demo (30 days, ~4k calls/day)": 60,
    "31-day backfill @2k/day": 40,
    "31-day backfill re-run, nothing new": 10,
}


SPARK_DEMO_END = date(2026, 3, 4)


def bench_spark(work: Path, calls_per_day: int) -> list[dict]:
    """The same demo month on each engine (COSTLINE_ENGINE), one after the other: the demo
    (generate, backfill 31 days, report) and then the daily job for its last day again with one
    late file (the window plus the re-opened day). Needs the `spark` extra and Java 17."""
    rows = []
    for engine in ("duckdb", "spark"):
        inputs, warehouse = work / f"spark-bench-{engine}-in", work / f"spark-bench-{engine}-wh"
        for folder in (inputs, warehouse):
            shutil.rmtree(folder, ignore_errors=True)
        env = {"COSTLINE_ENGINE": engine, "COSTLINE_NOW": f"{SPARK_DEMO_END + timedelta(days=1)}T06:00:00Z"}
        demo = costline(
            "demo",
            "--days",
            "31",
            "--end",
            SPARK_DEMO_END.isoformat(),
            "--calls-per-day",
            str(calls_per_day),
            input_dir=inputs,
            warehouse_dir=warehouse,
            extra_env=env,
        )
        rows.append({"name": f"demo month on {engine} (31 days @{calls_per_day}/day)", **demo})
        late = inputs / "telemetry" / SPARK_DEMO_END.isoformat() / "late.jsonl"
        late.write_text(
            json.dumps(
                {
                    "call_id": "bench-late-1",
                    "request_id": "bench-late-1",
                    "started_at": f"{SPARK_DEMO_END - timedelta(days=1)}T23:59:00Z",
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "input_tokens": 1000,
                    "output_tokens": 100,
                }
            )
            + "\n"
        )
        daily = costline(
            "run", "--date", SPARK_DEMO_END.isoformat(), input_dir=inputs, warehouse_dir=warehouse, extra_env=env
        )
        rows.append({"name": f"daily run on {engine} (2-day window)", **daily})
    for kind in ("demo month", "daily run"):
        duck, spark = (next(r for r in rows if r["name"].startswith(f"{kind} on {e}")) for e in ("duckdb", "spark"))
        rows.append({"name": f"{kind}: spark / duckdb", "ratio": round(spark["wall_s"] / duck["wall_s"], 2)})
    return rows


def bench_bi_queries(mart_db: Path) -> list[dict]:
    """A typical dashboard query per mart table: one month, grouped."""
    queries = {
        "daily_spend": "select workspace, sum(cost_usd) from daily_spend where day >= date '{m}-01' and day < date '{m}-01' + interval 1 month group by 1",
        "hourly_spend": "select hour(hour), sum(cost_usd) from hourly_spend where hour >= timestamp '{m}-01' and hour < timestamp '{m}-01' + interval 1 month group by 1",
        "workspace_kpis_daily": "select workspace, avg(avg_cost_per_request_usd) from workspace_kpis_daily where strftime(day, '%Y-%m') = '{m}' group by 1",
        "budget_burn": "select workspace, max(consumed_pct) from budget_burn where month = '{m}' group by 1",
        "workspace_attribution": "select workspace, sum(cost_usd) from workspace_attribution where month = '{m}' group by 1",
        "cost_anomalies": "select kind, count(*) from cost_anomalies where strftime(detected_at, '%Y-%m') = '{m}' group by 1",
        "billing_reconciliation": "select provider, sum(billed_cost_usd) from billing_reconciliation where strftime(day, '%Y-%m') = '{m}' group by 1",
        "model_comparison": "select feature, sum(potential_savings_usd) from model_comparison where month = '{m}' group by 1",
        "prompt_versions": "select feature, count(*) from prompt_versions where strftime(first_seen, '%Y-%m') <= '{m}' group by 1",
        "deployment_impact": "select scope, avg(change_pct) from deployment_impact where strftime(deployed_at, '%Y-%m') = '{m}' group by 1",
        "executive_summary": "select * from executive_summary where month = '{m}'",
    }
    results = []
    with duckdb.connect(str(mart_db), read_only=True) as con:
        month = con.execute("select strftime(max(day), '%Y-%m') from daily_spend").fetchone()[0]
        for table, sql in queries.items():
            con.execute(sql.format(m=month)).fetchall()  # warm
            started = time.monotonic()
            for _ in range(5):
                con.execute(sql.format(m=month)).fetchall()
            results.append({"name": f"P4 {table}", "ms": round((time.monotonic() - started) / 5 * 1000, 1)})
    return results


def judge_targets(rows: list[dict]) -> list[dict]:
    """Issue 4's targets, each with the measured figure and whether it is met."""
    out = []
    for row in rows:
        name = row["name"]
        if name.startswith("P1 "):
            limit = round(3 * row["floor_s"] + 20, 1)
            out.append(
                {
                    "target": f"{name}: wall <= 3 x floor + 20 s = {limit} s",
                    "measured": row["wall_s"],
                    "met": row["wall_s"] <= limit,
                }
            )
            out.append(
                {
                    "target": f"{name}: peak RSS < 4096 MB",
                    "measured": row["peak_rss_mb"],
                    "met": row["peak_rss_mb"] < 4096,
                }
            )
        elif name.startswith("P2 "):
            out.append({"target": f"{name}: < 600 s", "measured": row["wall_s"], "met": row["wall_s"] < 600})
        elif name.startswith("P3 "):
            out.append({"target": f"{name}: ratio <= 1.2", "measured": row["ratio"], "met": row["ratio"] <= 1.2})
        elif name.startswith("P4 "):
            out.append({"target": f"{name}: < 100 ms", "measured": row["ms"], "met": row["ms"] < 100})
        elif name.startswith("hourly run on "):
            out.append({"target": f"{name}: < 15 s", "measured": row["wall_s"], "met": row["wall_s"] < 15})
        elif name in SMALL_TARGETS_S:
            limit = SMALL_TARGETS_S[name]
            out.append({"target": f"{name}: < {limit} s", "measured": row["wall_s"], "met": row["wall_s"] < limit})
        elif name.startswith("hourly flatness"):
            out.append({"target": f"{name}: ratio <= 1.2", "measured": row["ratio"], "met": row["ratio"] <= 1.2})
    return out


def print_table(rows: list[dict]) -> None:
    keys = ["wall_s", "peak_rss_mb", "floor_s", "ratio_to_floor", "seconds_per_day", "ms", "ratio"]
    print(f"{'benchmark':<40}" + "".join(f"{k:>16}" for k in keys))
    for row in rows:
        print(f"{row['name']:<40}" + "".join(f"{'' if row.get(k) is None else row[k]:>16}" for k in keys))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--suite", choices=["backbone", "day", "year", "scale", "hourly", "small", "spark", "all"], default="backbone"
    )
    parser.add_argument(
        "--hourly-days", default="30,365", help="history lengths for the hourly suite (the first is the reference)"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "work")
    parser.add_argument("--json", type=Path, help="where the figures go (default bench/out/results-<suite>.json)")
    args = parser.parse_args()
    n = lambda count: max(1000, int(count * args.scale))  # noqa: E731
    args.json = args.json or REPO / "bench" / "out" / f"results-{args.suite}.json"
    day_suite = args.suite in ("day", "scale", "all")
    year_suite = args.suite in ("year", "scale", "all")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []

    def show(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)

    if args.suite in ("hourly", "all"):
        hourly = [bench_hourly(work, int(d), n(100_000)) for d in args.hourly_days.split(",")]
        for row in hourly:
            show(row)
        for row in hourly[1:]:
            show(
                {
                    "name": f"hourly flatness {row['days']} vs {hourly[0]['days']} days",
                    "ratio": round(row["wall_s"] / hourly[0]["wall_s"], 2),
                }
            )
    if args.suite in ("small", "all"):
        for row in bench_small(work, n(2_000)):
            show(row)
    if args.suite == "spark":  # not in "all": it needs the spark extra and Java
        for row in bench_spark(work, max(100, int(300 * args.scale))):
            show(row)
    if args.suite in ("backbone", "all"):
        show(bench_day(work, n(1_000_000), "jsonl", "1M-call day (jsonl)"))
        show(bench_backfill(work, 30, n(100_000), "30-day backfill @100k/day")[0])
    if day_suite:
        # One call rather than none: the stakeholder report refuses a mart with no spend at all,
        # and a single record costs nothing measurable, so this is the fixed cost of a run.
        empty_in = fresh(work / "empty-in")
        empty_wh = fresh(work / "empty-wh")
        write_day(empty_in, DAY, 1, "jsonl")
        write_day(empty_in, DAY + timedelta(days=1), 1, "jsonl")
        show(
            {
                "name": "fixed overhead (1-call day)",
                **costline("run", "--date", DAY.isoformat(), input_dir=empty_in, warehouse_dir=empty_wh),
            }
        )
        # The daily case: the same warehouse the next day (dbt parses only what changed).
        show(
            {
                "name": "fixed overhead, next day",
                **costline(
                    "run", "--date", (DAY + timedelta(days=1)).isoformat(), input_dir=empty_in, warehouse_dir=empty_wh
                ),
            }
        )
        show(bench_day(work, n(10_000_000), "jsonl", "P1 10M-call day (jsonl)"))
        show(bench_day(work, n(10_000_000), "parquet", "P1 10M-call day (parquet)"))
    if year_suite:
        year, inputs, warehouse = bench_backfill(work, 365, n(100_000), "P2 365-day backfill @100k/day")
        show(year)
        next_day = DAY + timedelta(days=1)
        write_day(inputs, next_day, n(100_000), "jsonl", seed=999)
        on_history = costline("run", "--date", next_day.isoformat(), input_dir=inputs, warehouse_dir=warehouse)
        empty_wh = fresh(work / "p3-empty-wh")
        single_in = fresh(work / "p3-in")
        write_day(single_in, DAY, 1, "jsonl")
        write_day(single_in, next_day, n(100_000), "jsonl", seed=999)
        # Warmed by a 1-call day first, as the year's warehouse was by its backfill: both runs
        # then pay the same one-off costs (dbt's first parse into a new warehouse).
        costline("run", "--date", DAY.isoformat(), input_dir=single_in, warehouse_dir=empty_wh)
        on_empty = costline("run", "--date", next_day.isoformat(), input_dir=single_in, warehouse_dir=empty_wh)
        show(
            {
                "name": "P3 daily run on 365 days vs empty",
                "wall_s": on_history["wall_s"],
                "peak_rss_mb": on_history["peak_rss_mb"],
                "floor_s": on_empty["wall_s"],
                "ratio": round(on_history["wall_s"] / on_empty["wall_s"], 2),
            }
        )
        for row in bench_bi_queries(warehouse / "mart.duckdb"):
            show(row)
    print()
    print_table(rows)
    targets = judge_targets(rows)
    if targets:
        print()
        for t in targets:
            print(f"{'met    ' if t['met'] else 'MISSED '} {t['target']} (measured {t['measured']})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"date": time.strftime("%Y-%m-%d %H:%M"), "scale": args.scale, "results": rows, "targets": targets},
            indent=2,
        )
    )
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Today as a partition, hour by hour: a runaway loop caught within the hour, exactly once.

A real scenario through the real CLI (subprocesses, real dbt, a real webhook server), with the
clock replayed by COSTLINE_NOW: eight steady days of history, then a day whose files arrive in
hourly drops (`calls-HH.jsonl`). An agent loop in workspace `search` starts at 09:10. The hourly
run at 09:05 sees nothing of it; the run at 10:05 judges the closed hour 09:00 and alerts once,
naming the loop's request chains; later runs (hourly, `run --date today`, and the daily run the
next morning) alert nothing new. The next morning's daily run gives the same mart as a single
run over the complete day.
"""

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import run_costline

pytestmark = pytest.mark.pipeline

DAY = date(2026, 10, 12)
HISTORY = [DAY - timedelta(days=n) for n in range(8, 0, -1)]
WORKSPACES = ("search", "support")
STEADY_CALL_USD = Decimal("0.10")  # four calls an hour per workspace, every hour
LOOP_CALL_USD = Decimal("1.00")
# Two loop chains: 120 steps of req-loop-a, 40 of req-loop-b, from 09:10 until the fix at 10:50.
LOOPS = {"req-loop-a": 120, "req-loop-b": 40}
LOOP_START, LOOP_END = datetime(2026, 10, 12, 9, 10), datetime(2026, 10, 12, 10, 50)
# Above the linear projection of the steady history (so it is quiet), and half of it crossed by
# the loop's first hour (see the test).
BUDGET_USD = Decimal("300")


def steady_calls(day: date, hour: int) -> list[dict]:
    return [
        {
            "call_id": f"steady-{ws}-{day:%m%d}-{hour:02d}-{n}",
            "request_id": f"req-{ws}-{day:%m%d}-{hour:02d}-{n}",
            "started_at": f"{day}T{hour:02d}:{10 + n * 10:02d}:00Z",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "input_tokens": 1000,
            "output_tokens": 200,
            "cost_usd": str(STEADY_CALL_USD),
            "workspace": ws,
            "feature": "answer",
            "status": "ok",
        }
        for ws in WORKSPACES
        for n in range(4)
    ]


def loop_calls(hour: int) -> list[dict]:
    """The loop's calls that started in `hour` of DAY: each chain's steps spread evenly."""
    out = []
    span = (LOOP_END - LOOP_START).total_seconds()
    for request_id, steps in LOOPS.items():
        for step in range(steps):
            at = LOOP_START + timedelta(seconds=span * step / steps)
            if at.hour == hour:
                out.append(
                    {
                        "call_id": f"{request_id}-{step}",
                        "request_id": request_id,
                        "attempt": 1,
                        "started_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "provider": "openai",
                        "model": "gpt-4o",
                        "input_tokens": 20000,
                        "output_tokens": 500,
                        "cost_usd": str(LOOP_CALL_USD),
                        "workspace": "search",
                        "feature": "triage-agent",
                        "status": "ok",
                    }
                )
    return out


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def drop_hour(input_dir: Path, day: date, hour: int) -> None:
    records = steady_calls(day, hour) + (loop_calls(hour) if day == DAY else [])
    write_jsonl(input_dir / "telemetry" / day.isoformat() / f"calls-{hour:02d}.jsonl", records)


def write_history(input_dir: Path) -> None:
    for day in HISTORY:
        for hour in range(24):
            drop_hour(input_dir, day, hour)
    (input_dir / "budgets.csv").write_text(
        f"workspace,month,monthly_budget_usd,hard_limit\nsearch,2026-10,{BUDGET_USD},false\n"
    )


def costline(*args, input_dir, warehouse_dir, now: str, hook: str):
    env = {"COSTLINE_NOW": now, "COSTLINE_ALERT_WEBHOOK_URL": hook, "COSTLINE_ALERT_WEBHOOK_FORMAT": "json"}
    return run_costline(*args, input_dir=input_dir, warehouse_dir=warehouse_dir, env=env, check=True)


def mart_rows(mart_db: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(mart_db), read_only=True) as con:
        tables = [t for (t,) in con.execute("select table_name from information_schema.tables").fetchall()]
        return {
            t: sorted(con.execute(f'select * from "{t}"').fetchall(), key=repr)
            for t in tables
            if t != "mart_publication"
        }


@pytest.fixture
def webhook(httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return httpserver


def posted_since(httpserver, seen: int) -> list[dict]:
    return [a for request, _ in httpserver.log[seen:] for a in json.loads(request.get_data())["alerts"]]


def test_a_loop_at_0910_is_alerted_by_the_1005_run_exactly_once(tmp_path, webhook):
    input_dir, warehouse = tmp_path / "input", tmp_path / "warehouse"
    hook = webhook.url_for("/hook")
    write_history(input_dir)
    run = lambda *args, now: costline(*args, input_dir=input_dir, warehouse_dir=warehouse, now=now, hook=hook)  # noqa: E731

    run("backfill", "--start", HISTORY[0].isoformat(), "--end", HISTORY[-1].isoformat(), now="2026-10-12T00:20:00Z")
    assert posted_since(webhook, 0) == []  # steady history: nothing to say

    # Files arrive hour by hour; the hourly run five past each hour reads only the new one.
    for hour in range(9):
        drop_hour(input_dir, DAY, hour)
    seen = len(webhook.log)
    nine = run("hourly", now="2026-10-12T09:05:00Z")
    assert "9 new files (0 unchanged" in nine.stderr
    assert posted_since(webhook, seen) == []
    with duckdb.connect(str(warehouse / "mart.duckdb"), read_only=True) as con:
        assert con.execute("select partial_day, is_partial from mart_publication").fetchone() == (DAY, True)
        today = con.execute(
            "select bool_and(is_partial), min(cost_basis), max(cost_basis), sum(cost_usd) from daily_spend where day = ?",
            [DAY],
        ).fetchone()
        assert today == (True, "estimate", "estimate", 9 * 8 * STEADY_CALL_USD)
        assert con.execute("select bool_or(is_partial) from daily_spend where day < ?", [DAY]).fetchone() == (False,)

    drop_hour(input_dir, DAY, 9)
    seen = len(webhook.log)
    ten = run("hourly", now="2026-10-12T10:05:00Z")
    assert "1 new files (9 unchanged" in ten.stderr
    alerts = posted_since(webhook, seen)
    spikes = [a for a in alerts if a["kind"] == "cost_spike"]
    assert len(spikes) == 1, alerts
    spike = spikes[0]
    loop_hour = {rid: sum(1 for c in loop_calls(9) if c["request_id"] == rid) for rid in LOOPS}
    observed = 4 * STEADY_CALL_USD + sum(loop_hour.values()) * LOOP_CALL_USD
    baseline = 4 * STEADY_CALL_USD
    assert spike["facts"]["detected_at"].startswith("2026-10-12T09:00")
    assert Decimal(spike["facts"]["observed"]) == observed
    assert Decimal(spike["facts"]["baseline"]) == baseline
    assert "search" in spike["title"] and "triage-agent" in spike["title"] and "gpt-4o" in spike["title"]
    # The chains that make the loop findable, costliest first, with their calls and cost.
    for rid, calls in loop_hour.items():
        assert rid in spike["text"]
        assert f"{calls} calls" in spike["text"]
    assert spike["text"].index("req-loop-a") < spike["text"].index("req-loop-b")
    # Month to date crossed half the budget with the loop's first hour (and its projection the budget).
    spent = len(HISTORY) * 24 * 4 * STEADY_CALL_USD + 10 * 4 * STEADY_CALL_USD + sum(loop_hour.values()) * LOOP_CALL_USD
    assert spent / BUDGET_USD > Decimal("0.5") > (spent - sum(loop_hour.values()) * LOOP_CALL_USD) / BUDGET_USD
    assert [a["facts"]["threshold"] for a in alerts if a["kind"] == "budget_threshold"] == ["0.5"]
    assert "budget_at_risk" in {a["kind"] for a in alerts}
    # The loop's calls are first attempts: today's retry-rate rule sees no retries in them.
    assert {a["kind"] for a in alerts} <= {"cost_spike", "budget_threshold", "budget_at_risk"}

    # The loop goes on through hour 10: the same episode, nothing new is said.
    drop_hour(input_dir, DAY, 10)
    seen = len(webhook.log)
    run("run", "--date", "today", now="2026-10-12T11:05:00Z")
    assert [a for a in posted_since(webhook, seen) if a["kind"] == "cost_spike"] == []
    with duckdb.connect(str(warehouse / "mart.duckdb"), read_only=True) as con:
        [(spikes_now,)] = con.execute("select count(*) from cost_anomalies where kind = 'cost_spike'").fetchall()
        assert spikes_now == 2  # 09:00 and 10:00, one episode
        before = con.execute("select sum(cost_usd) from daily_spend where day = ?", [DAY]).fetchone()[0]

    # The rest of the day lands; a re-run of today replaces it with the fuller picture.
    for hour in range(11, 24):
        drop_hour(input_dir, DAY, hour)
    run("run", "--date", "today", now="2026-10-12T23:30:00Z")
    with duckdb.connect(str(warehouse / "mart.duckdb"), read_only=True) as con:
        after = con.execute("select sum(cost_usd) from daily_spend where day = ?", [DAY]).fetchone()[0]
    assert after - before == 13 * 8 * STEADY_CALL_USD

    # The next morning the daily run finalises the day and alerts nothing again.
    seen = len(webhook.log)
    run("run", "--date", DAY.isoformat(), now="2026-10-13T02:00:00Z")
    assert posted_since(webhook, seen) == []
    with duckdb.connect(str(warehouse / "mart.duckdb"), read_only=True) as con:
        assert con.execute("select partial_day, is_partial from mart_publication").fetchone() == (None, False)
        assert con.execute("select bool_or(is_partial) from daily_spend").fetchone() == (False,)

    # ... and the mart equals one run over the complete day, number for number.
    whole = tmp_path / "whole"
    run_costline(
        "backfill",
        "--start",
        HISTORY[0].isoformat(),
        "--end",
        DAY.isoformat(),
        input_dir=input_dir,
        warehouse_dir=whole,
        env={"COSTLINE_NOW": "2026-10-13T02:00:00Z"},
        check=True,
    )
    assert mart_rows(warehouse / "mart.duckdb") == mart_rows(whole / "mart.duckdb")


def test_a_future_day_is_one_line_and_today_is_accepted(tmp_path):
    input_dir, warehouse = tmp_path / "input", tmp_path / "warehouse"
    drop_hour(input_dir, DAY, 8)
    env = {"COSTLINE_NOW": "2026-10-12T09:05:00Z"}
    future = run_costline("run", "--date", "2026-10-13", input_dir=input_dir, warehouse_dir=warehouse, env=env)
    assert future.returncode == 2
    assert future.stderr.strip().splitlines() == [
        "costline: error: 2026-10-13 is in the future; today (UTC) is 2026-10-12, "
        "and a run of today publishes it as partial"
    ]
    backfill = run_costline(
        "backfill",
        "--start",
        "2026-10-10",
        "--end",
        "2026-10-14",
        input_dir=input_dir,
        warehouse_dir=warehouse,
        env=env,
    )
    assert backfill.returncode == 2 and "Traceback" not in backfill.stderr
    bad_clock = run_costline(
        "run", "--date", "today", input_dir=input_dir, warehouse_dir=warehouse, env={"COSTLINE_NOW": "noon"}
    )
    assert bad_clock.returncode == 2
    assert (
        bad_clock.stderr.strip().splitlines()[-1].startswith("costline: error: COSTLINE_NOW='noon' is not a timestamp")
    )

"""Hard limits through the real pipeline: the CLI's hourly run (real dbt build, real Dagster
run, the mart published) calling a local LiteLLM admin API and a signed webhook.

A day of hourly drops in which workspaces `search` ($50) and `support` ($2) pass their hard
limits by noon (today's estimates: no bill yet). Dry-run (the default) logs the decisions and
calls nothing; switched on, the LiteLLM teams are blocked once while the webhook answers 500
(retried, then alerted, and the run still succeeds); the next run delivers the webhook's
blocks under the same decisions and calls LiteLLM for nothing; search's raised budget
unblocks search and sends nothing new for support; the first hourly run of November
unblocks support. The admin key and the signing secret appear in no
output and no file under the warehouse.
"""

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import run_costline
from enforcement_gateways import ADMIN_KEY, WEBHOOK_SECRET, FakeLiteLLM, SignedReceiver

pytestmark = pytest.mark.pipeline

WORKSPACES = "provider,project_id,workspace\nlitellm,team-search,search\nlitellm,team-support,support\n"


def budgets(search_limit: str) -> str:
    return f"workspace,month,monthly_budget_usd,hard_limit\nsearch,*,{search_limit},true\nsupport,*,2,true\n"


def drop(input_dir: Path, day: str, hour: int, search_calls: int) -> None:
    """`search_calls` calls of $1.00 for search and two of $0.10 for support in that hour."""
    records = [
        {
            "call_id": f"{ws}-{day}-{hour:02d}-{n}",
            "request_id": f"req-{ws}-{day}-{hour:02d}-{n}",
            "started_at": f"{day}T{hour:02d}:{n % 60:02d}:00Z",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "input_tokens": 1000,
            "output_tokens": 100,
            "cost_usd": cost,
            "workspace": ws,
            "feature": "answer",
            "status": "ok",
        }
        for ws, calls, cost in (("search", search_calls, "1.00"), ("support", 2, "0.10"))
        for n in range(calls)
    ]
    path = input_dir / "telemetry" / day / f"calls-{hour:02d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def log_rows(mart_db: Path) -> list[dict]:
    with duckdb.connect(str(mart_db), read_only=True) as con:
        cursor = con.execute("select * from enforcement_log order by entry_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_a_hard_limit_blocks_at_the_gateway_once_and_lifts_when_raised_or_the_month_turns(tmp_path, httpserver):
    input_dir, warehouse = tmp_path / "input", tmp_path / "warehouse"
    proxy, receiver = FakeLiteLLM(["team-search", "team-support"]), SignedReceiver()
    proxy.install(httpserver)
    receiver.install(httpserver)
    httpserver.expect_request("/alerts", method="POST").respond_with_data("ok")
    (input_dir).mkdir(parents=True)
    (input_dir / "workspaces.csv").write_text(WORKSPACES)
    (input_dir / "budgets.csv").write_text(budgets("50"))
    for hour in range(12):
        drop(input_dir, "2026-10-30", hour, search_calls=5)  # $60 by noon
    gateways = {
        "COSTLINE_LITELLM_URL": httpserver.url_for(""),
        "COSTLINE_LITELLM_ADMIN_KEY": ADMIN_KEY,
        "COSTLINE_ENFORCE_WEBHOOK_URL": httpserver.url_for("/gateway"),
        "COSTLINE_ENFORCE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "COSTLINE_ENFORCE_MAX_ATTEMPTS": "3",
        "COSTLINE_ENFORCE_BACKOFF_S": "0",
        "COSTLINE_ALERT_WEBHOOK_URL": httpserver.url_for("/alerts"),
        "COSTLINE_ALERT_WEBHOOK_FORMAT": "json",
    }
    outputs: list[str] = []

    def hourly(now: str, **env):
        result = run_costline(
            "hourly", input_dir=input_dir, warehouse_dir=warehouse, env={**gateways, "COSTLINE_NOW": now, **env}
        )
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == 0, result.stderr[-4000:]
        return log_rows(warehouse / "mart.duckdb")

    def alerts() -> list[dict]:
        return [
            a
            for request, _ in httpserver.log
            if request.path == "/alerts"
            for a in json.loads(request.get_data())["alerts"]
            if a["kind"] == "enforcement_failed"
        ]

    # 1. Dry-run, the default: decided and logged, nothing called.
    rows = hourly("2026-10-30T12:05:00Z")
    assert [(r["gateway"], r["target"], r["action"], r["result"], r["mode"]) for r in rows] == [
        ("litellm", "team-search", "block", "dry_run", "dry-run"),
        ("webhook", "search", "block", "dry_run", "dry-run"),
        ("litellm", "team-support", "block", "dry_run", "dry-run"),
        ("webhook", "support", "block", "dry_run", "dry-run"),
    ]
    assert rows[0]["reason"] == (
        "month-to-date spend $60.00 reached the hard limit $50.00 of 2026-10 (as of 2026-10-30, today so far, "
        "estimates included)"
    )
    assert proxy.calls == [] and receiver.attempts == 0
    with duckdb.connect(str(warehouse / "mart.duckdb"), read_only=True) as con:
        assert con.execute(
            "select workspace, hard_limit_usd, spend_to_date_usd, is_partial, gateway_action "
            "from hard_limit_status order by workspace"
        ).fetchall() == [
            ("search", Decimal(50), Decimal(60), True, "block"),
            ("support", Decimal(2), Decimal("2.4"), True, "block"),
        ]
        assert con.execute("select * from gateway_teams order by team_id").fetchall() == [
            ("litellm", "team-search", "search"),
            ("litellm", "team-support", "support"),
        ]

    # 2. On, with the webhook down: LiteLLM blocks, the webhook is retried then alerted; run succeeds.
    receiver.fail_with = 500
    rows = hourly("2026-10-30T13:05:00Z", COSTLINE_ENFORCE="on")
    assert proxy.calls == [
        ("/team/block", {"team_id": "team-search"}, f"Bearer {ADMIN_KEY}"),
        ("/team/block", {"team_id": "team-support"}, f"Bearer {ADMIN_KEY}"),
    ]
    assert proxy.blocked == {"team-search": True, "team-support": True}
    assert receiver.attempts == 6  # 3 per workspace
    new = {(r["gateway"], r["target"]): r for r in rows[4:]}
    assert {k: (r["result"], r["attempts"], r["http_status"]) for k, r in new.items()} == {
        ("litellm", "team-search"): ("sent", 1, 200),
        ("litellm", "team-support"): ("sent", 1, 200),
        ("webhook", "search"): ("failed", 3, 500),
        ("webhook", "support"): ("failed", 3, 500),
    }
    failed = {r["target"]: r["decision_id"] for r in rows[4:] if r["result"] == "failed"}
    assert sorted(a["title"] for a in alerts()) == [
        "Could not block workspace search at webhook (search)",
        "Could not block workspace support at webhook (support)",
    ]
    assert {a["facts"]["workspace"]: a["facts"]["decision_id"] for a in alerts()} == failed
    status = run_costline("status", input_dir=input_dir, warehouse_dir=warehouse, env={"COSTLINE_ENFORCE": "on"})
    outputs.append(status.stdout + status.stderr)
    assert "enforcement COSTLINE_ENFORCE=on" in status.stdout
    assert "blocked    litellm/team-search (workspace search, 2026-10)" in status.stdout
    assert f"failing    block webhook/search: tried again next run (decision {failed['search']})" in status.stdout

    # 3. The webhook is back: the same decisions go through; LiteLLM is not called again.
    receiver.fail_with = None
    rows = hourly("2026-10-30T14:05:00Z", COSTLINE_ENFORCE="on")
    assert len(proxy.calls) == 2
    assert sorted((p["action"], p["workspace"], p["decision_id"]) for p in receiver.accepted) == [
        ("block", "search", failed["search"]),
        ("block", "support", failed["support"]),
    ]
    assert len(rows) == 10 and {r["result"] for r in rows[8:]} == {"sent"}
    assert len(alerts()) == 2  # not alerted again

    # 4. search's budget is raised: search unblocked at both; support, still over, gets nothing new.
    (input_dir / "budgets.csv").write_text(budgets("100"))
    rows = hourly("2026-10-30T15:05:00Z", COSTLINE_ENFORCE="on")
    assert proxy.calls[2:] == [("/team/unblock", {"team_id": "team-search"}, f"Bearer {ADMIN_KEY}")]
    assert proxy.blocked == {"team-search": False, "team-support": True}
    assert [(p["action"], p["workspace"]) for p in receiver.accepted[2:]] == [("unblock", "search")]
    assert {(r["workspace"], r["action"], r["reason_code"], r["result"]) for r in rows[10:]} == {
        ("search", "unblock", "limit_raised", "sent")
    }
    assert len(rows) == 12

    # 5. November: the first hourly run of the month unblocks support.
    drop(input_dir, "2026-11-01", 0, search_calls=1)
    rows = hourly("2026-11-01T01:05:00Z", COSTLINE_ENFORCE="on")
    assert proxy.blocked == {"team-search": False, "team-support": False}
    assert [(p["action"], p["workspace"]) for p in receiver.accepted[3:]] == [("unblock", "support")]
    assert {(r["workspace"], r["action"], r["reason_code"], r["month"]) for r in rows[12:]} == {
        ("support", "unblock", "month_turned", "2026-11")
    }
    assert len(proxy.calls) == 4 and len(alerts()) == 2

    # The secrets are nowhere: not in any output, not in any file under the warehouse.
    needles = [ADMIN_KEY.encode(), WEBHOOK_SECRET.encode(), b"CANARY-enforce"]
    assert not [n for n in needles for out in outputs if n.decode() in out]
    files = [p for p in warehouse.rglob("*") if p.is_file() and not p.is_symlink()]
    for own in (warehouse / "enforcement.duckdb", warehouse / ".enforcement.lock"):
        assert own.stat().st_mode & 0o077 == 0, f"{own} is readable by others"
    assert not [f"{p}: {n}" for p in files for n in needles if n in p.read_bytes()]

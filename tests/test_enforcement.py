"""Gateway enforcement on its own: the LiteLLM admin API and the signed webhook over real HTTP
(tests/enforcement_gateways.py speaks LiteLLM 1.110.2's shapes), and the decisions against
the enforcement log on a hand-made published mart. The whole pipeline (real dbt, real
Dagster through the CLI) is tests/test_enforcement_pipeline.py."""

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import pytest
from enforcement_gateways import ADMIN_KEY, WEBHOOK_SECRET, FakeLiteLLM, SignedReceiver

from enforcement import log as enforcement_log
from enforcement.enforce import enforce
from enforcement.gateways import Call, send, signature
from enforcement.settings import EnforceSettings, RetryPolicy
from ingestion.settings import Paths

FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.02)
NOW = datetime(2026, 10, 20, 12, 5, tzinfo=UTC)


def settings(httpserver, mode="on", litellm=True, webhook=True, key=ADMIN_KEY) -> EnforceSettings:
    return EnforceSettings(
        mode=mode,
        litellm_url=httpserver.url_for("").rstrip("/") if litellm else None,
        litellm_admin_key=key if litellm else None,
        webhook_url=httpserver.url_for("/gateway") if webhook else None,
        webhook_secret=WEBHOOK_SECRET if webhook else None,
        retry=FAST,
    )


def call(action="block", target="team-search", gateway="litellm") -> Call:
    return Call(gateway, target, action, "search", "2026-10", "hard_limit_reached", "over", "60.000000", "50.000000", 7)


def test_litellm_block_and_unblock_use_the_admin_api_routes_body_and_key(httpserver):
    proxy = FakeLiteLLM(["team-search"])
    proxy.install(httpserver)
    assert send(call("block"), settings(httpserver), NOW).ok
    assert proxy.blocked == {"team-search": True}
    assert send(call("unblock"), settings(httpserver), NOW).ok
    assert proxy.blocked == {"team-search": False}
    assert proxy.calls == [
        ("/team/block", {"team_id": "team-search"}, f"Bearer {ADMIN_KEY}"),
        ("/team/unblock", {"team_id": "team-search"}, f"Bearer {ADMIN_KEY}"),
    ]


def test_litellm_errors_are_not_retried_and_never_echo_the_key(httpserver):
    proxy = FakeLiteLLM(["team-search"])
    proxy.install(httpserver)
    refused = send(call(), settings(httpserver, key="sk-wrong-CANARY-key"), NOW)
    assert (refused.ok, refused.status_code, refused.attempts) == (False, 401, 1)
    assert "Authentication Error" in refused.error and "CANARY" not in refused.error
    missing = send(call(target="team-gone"), settings(httpserver), NOW)
    assert (missing.ok, missing.status_code, missing.attempts) == (False, 404, 1)
    assert "Team not found, passed team_id=team-gone" in missing.error


def test_a_500_is_retried_with_backoff_then_reported(httpserver):
    proxy = FakeLiteLLM(["team-search"])
    proxy.install(httpserver)
    proxy.fail_with = 500
    failed = send(call(), settings(httpserver), NOW)
    assert (failed.ok, failed.status_code, failed.attempts) == (False, 500, 3)
    assert failed.error.startswith("gave up after 3 attempts: HTTP 500") and "No DB Connected" in failed.error
    assert len(proxy.calls) == 3
    proxy.fail_with = None
    assert send(call(), settings(httpserver), NOW).ok


def test_the_webhook_is_signed_over_the_exact_body(httpserver):
    receiver = SignedReceiver()
    receiver.install(httpserver)
    result = send(call(gateway="webhook", target="search"), settings(httpserver), NOW)
    assert result.ok and receiver.rejected == 0
    [payload] = receiver.accepted
    assert payload == {
        "source": "costline",
        "action": "block",
        "workspace": "search",
        "month": "2026-10",
        "reason_code": "hard_limit_reached",
        "reason": "over",
        "spend_to_date_usd": "60.000000",
        "hard_limit_usd": "50.000000",
        "decision_id": 7,
        "sent_at": "2026-10-20T12:05:00Z",
    }
    # A receiver with another secret refuses it: the signature is what proves the sender.
    impostor = SignedReceiver(secret="another-secret")
    httpserver.clear()
    impostor.install(httpserver)
    assert not send(call(gateway="webhook", target="search"), settings(httpserver), NOW).ok
    assert impostor.rejected == 1
    body = b'{"a":1}'
    assert signature("k", body) == "sha256=" + __import__("hmac").new(b"k", body, "sha256").hexdigest()


# --- decisions against the log, on a hand-made published mart -----------------------------


def write_mart(paths: Paths, statuses: list[tuple], teams: list[tuple]) -> None:
    """statuses: (month, workspace, hard_limit_usd, spend_to_date_usd); teams: (team_id, workspace)."""
    paths.warehouse_dir.mkdir(parents=True, exist_ok=True)
    paths.mart_db.unlink(missing_ok=True)
    with duckdb.connect(str(paths.mart_db)) as con:
        con.execute(
            "create table hard_limit_status (month varchar, workspace varchar, as_of_day date, is_partial boolean, "
            "hard_limit_usd decimal(18,6), spend_to_date_usd decimal(18,6), consumed_pct double, "
            "over_hard_limit boolean, gateway_action varchar)"
        )
        for month, workspace, limit, spend in statuses:
            over = Decimal(spend) >= Decimal(limit) and Decimal(spend) > 0
            con.execute(
                "insert into hard_limit_status values (?, ?, ?, true, ?, ?, null, ?, ?)",
                [month, workspace, f"{month}-20", limit, spend, over, "block" if over else "allow"],
            )
        con.execute("create table gateway_teams (gateway varchar, team_id varchar, workspace varchar)")
        for team, workspace in teams:
            con.execute("insert into gateway_teams values ('litellm', ?, ?)", [team, workspace])


def log_rows(paths: Paths) -> list[dict]:
    with enforcement_log.open_log(paths.warehouse_dir) as con:
        cursor = con.execute(f"select * from {enforcement_log.TABLE} order by entry_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def world(tmp_path, httpserver):
    paths = Paths(tmp_path / "input", tmp_path / "warehouse")
    proxy, receiver = FakeLiteLLM(["team-search", "team-search-batch", "team-support"]), SignedReceiver()
    proxy.install(httpserver)
    receiver.install(httpserver)
    teams = [("team-search", "search"), ("team-search-batch", "search"), ("team-support", "support")]
    return paths, proxy, receiver, teams


def test_over_the_limit_blocks_once_and_back_under_unblocks_once(world, httpserver):
    paths, proxy, receiver, teams = world
    on = settings(httpserver)
    over = [("2026-10", "search", "50", "60.5"), ("2026-10", "support", "1000", "10")]
    write_mart(paths, over, teams)
    first = enforce(paths, on, run_id="r1", now=NOW)
    assert (first.decided, first.sent, first.failed, first.over_limit) == (3, 3, 0, ["search"])
    assert proxy.blocked == {"team-search": True, "team-search-batch": True, "team-support": False}
    assert [p["workspace"] for p in receiver.accepted] == ["search"]
    rows = log_rows(paths)
    assert [(r["gateway"], r["target"], r["action"], r["result"]) for r in rows] == [
        ("litellm", "team-search", "block", "sent"),
        ("litellm", "team-search-batch", "block", "sent"),
        ("webhook", "search", "block", "sent"),
    ]
    assert rows[0]["reason"] == (
        "month-to-date spend $60.50 reached the hard limit $50.00 of 2026-10 (as of 2026-10-20, today so far, "
        "estimates included)"
    )
    assert rows[0]["spend_to_date_usd"] == Decimal("60.5") and rows[0]["hard_limit_usd"] == Decimal("50")

    # A re-run with the same facts sends nothing and writes nothing.
    calls = len(proxy.calls), len(receiver.accepted)
    again = enforce(paths, on, run_id="r2", now=NOW)
    assert (again.decided, again.unchanged) == (0, 3)
    assert (len(proxy.calls), len(receiver.accepted)) == calls and len(log_rows(paths)) == 3

    # The budget is raised: every target of search is unblocked, once.
    write_mart(paths, [("2026-10", "search", "100", "60.5"), ("2026-10", "support", "1000", "10")], teams)
    raised = enforce(paths, on, run_id="r3", now=NOW)
    assert (raised.decided, raised.sent) == (3, 3)
    assert not any(proxy.blocked.values())
    unblocks = log_rows(paths)[3:]
    assert {(r["action"], r["reason_code"]) for r in unblocks} == {("unblock", "limit_raised")}
    assert unblocks[0]["reason"] == ("hard limit raised from $50.00 to $100.00; month-to-date spend $60.50 is under it")
    assert enforce(paths, on, run_id="r4", now=NOW).decided == 0


def test_the_month_turning_unblocks_even_before_the_new_month_has_spend(world, httpserver):
    paths, proxy, receiver, teams = world
    on = settings(httpserver, webhook=False)
    write_mart(paths, [("2026-10", "search", "50", "60")], teams)
    assert enforce(paths, on, run_id="r1", now=NOW).sent == 2
    # 1 November, 00:30: nothing of November is loaded yet, so hard_limit_status is empty.
    write_mart(paths, [], teams)
    turned = enforce(paths, on, run_id="r2", now=datetime(2026, 11, 1, 0, 30, tzinfo=UTC))
    assert (turned.decided, turned.sent) == (2, 2) and not any(proxy.blocked.values())
    last = log_rows(paths)[-1]
    assert (last["reason_code"], last["reason"], last["month"]) == (
        "month_turned",
        "the month turned (2026-10 to 2026-11)",
        "2026-11",
    )


def test_dry_run_calls_nothing_logs_once_and_on_then_acts(world, httpserver):
    paths, proxy, receiver, teams = world
    write_mart(paths, [("2026-10", "search", "50", "60")], teams)
    dry = settings(httpserver, mode="dry-run")
    first = enforce(paths, dry, run_id="r1", now=NOW)
    assert (first.decided, first.dry_run, first.sent) == (3, 3, 0)
    assert proxy.calls == [] and receiver.attempts == 0
    assert {(r["mode"], r["result"], r["attempts"]) for r in log_rows(paths)} == {("dry-run", "dry_run", 0)}
    assert enforce(paths, dry, run_id="r2", now=NOW).decided == 0  # idempotent in dry-run too
    # Switched on: what dry-run only said is now done.
    on = enforce(paths, settings(httpserver), run_id="r3", now=NOW)
    assert (on.decided, on.sent) == (3, 3) and proxy.blocked["team-search"]


def test_a_failed_call_keeps_its_decision_until_it_goes_through(world, httpserver, caplog):
    paths, proxy, receiver, teams = world
    write_mart(paths, [("2026-10", "search", "50", "60")], teams)
    proxy.fail_with = 500
    on = settings(httpserver, webhook=False)
    with caplog.at_level(logging.INFO):
        failed = enforce(paths, on, run_id="r1", now=NOW)
    assert (failed.failed, failed.sent, failed.error) == (2, 0, None)
    assert len(proxy.calls) == 6  # 3 attempts per team
    again = enforce(paths, on, run_id="r2", now=NOW)
    assert again.failed == 2  # still not in place: tried again
    proxy.fail_with = None
    ok = enforce(paths, on, run_id="r3", now=NOW)
    assert ok.sent == 2 and proxy.blocked["team-search"]
    rows = log_rows(paths)
    by_team = {}
    for r in rows:
        by_team.setdefault(r["target"], []).append((r["result"], r["decision_id"], r["attempts"], r["http_status"]))
    for team, history in by_team.items():
        assert [h[0] for h in history] == ["failed", "failed", "sent"], team
        assert len({h[1] for h in history}) == 1  # one decision, retried
        assert history[0][2:] == (3, 500)
    assert ADMIN_KEY not in caplog.text and ADMIN_KEY not in json.dumps(rows, default=str)


def test_a_workspace_without_a_gateway_is_still_decided_once(world, httpserver):
    paths, proxy, receiver, teams = world
    write_mart(paths, [("2026-10", "growth", "5", "9")], teams)
    none = EnforceSettings(mode="on")
    first = enforce(paths, none, run_id="r1", now=NOW)
    assert first.decided == 1 and first.sent == 0
    [row] = log_rows(paths)
    assert (row["gateway"], row["target"], row["result"]) == ("none", "growth", "no_gateway")
    assert enforce(paths, none, run_id="r2", now=NOW).decided == 0


def test_settings_never_show_secrets_and_bad_values_fall_back(monkeypatch):
    env = {
        "COSTLINE_ENFORCE": "yes please",
        "COSTLINE_LITELLM_URL": "http://litellm:4000/",
        "COSTLINE_LITELLM_ADMIN_KEY": ADMIN_KEY,
        "COSTLINE_ENFORCE_WEBHOOK_URL": "https://gw.example/hook",
        "COSTLINE_ENFORCE_MAX_ATTEMPTS": "zero",
    }
    parsed = EnforceSettings.from_env(env)
    assert parsed.mode == "dry-run" and parsed.litellm_url == "http://litellm:4000"
    assert parsed.webhook_url is None  # no secret: not called
    assert parsed.retry.max_attempts == 4
    assert len(parsed.problems) == 3
    assert ADMIN_KEY not in repr(parsed) and ADMIN_KEY not in " ".join(parsed.problems)


def test_a_redirect_is_a_failed_call_and_the_key_does_not_follow_it(httpserver):
    httpserver.expect_request("/team/block", method="POST").respond_with_data(
        "", status=307, headers={"Location": httpserver.url_for("/elsewhere/team/block")}
    )
    moved = send(call(), settings(httpserver), NOW)
    assert (moved.ok, moved.status_code, moved.attempts) == (False, 307, 1)
    assert [request.path for request, _ in httpserver.log] == ["/team/block"]

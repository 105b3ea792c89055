"""Alerts reach a real HTTP server once each, survive webhook failures, and never raise.

The mart is the hand-made fixture (tests/mart_fixture.py); the alert log is delivery's own
store (`<warehouse>/delivery.duckdb`) in a tmp dir; the webhook is pytest-httpserver on localhost.
"""

import json
import logging
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal

import duckdb
import pytest
from mart_fixture import HOSTILE_WORKSPACE, build_mart_fixture, insert_anomalies
from werkzeug import Response

from enforcement import log as enforcement_log
from reporting.alert_log import store_path
from reporting.alert_rules import HINTS, alert_key
from reporting.alerts import AlertSettings, alert_run_failure, send_alerts
from reporting.run_summary import RunSummary
from reporting.webhook import RetryPolicy

FAST = RetryPolicy(connect_timeout_s=1, read_timeout_s=3, max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.02)
HOOK = "/services/T000/B000/sEcReTtOkEn"
LOOKBACK = 40  # the whole fixture: every kind of alert shows up
NOW = datetime(2026, 10, 21, 2, 10)
HOLD_DELIVERY = (
    "import sys, time\nfrom reporting.alert_log import delivery_lock\n"
    "lock = delivery_lock(sys.argv[1], 0)\nlock.acquire()\nprint('holding', flush=True)\ntime.sleep(60)\n"
)


@pytest.fixture
def mart(tmp_path):
    return build_mart_fixture(tmp_path)


def _send(mart, url, run_id="run-1", **kwargs):
    kwargs.setdefault("lookback_days", LOOKBACK)
    return send_alerts(mart.paths, run_id=run_id, webhook_url=url, retry=FAST, now=kwargs.pop("now", NOW), **kwargs)


def _log(mart) -> dict[str, tuple]:
    with duckdb.connect(str(store_path(mart.paths.warehouse_dir)), read_only=True) as con:
        rows = con.execute(
            "select alert_key, kind, status, attempts, first_attempt_at, sent_at, run_id, "
            "last_error, summary from alert_log"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def _posted_keys(httpserver) -> list[str]:
    return [a["key"] for body in _posted(httpserver) for a in body["alerts"]]


def _costline_log_text(caplog) -> str:
    # The test server's own access log prints the path; only costline's lines are ours.
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("costline"))


def _expected_keys(mart, lookback=LOOKBACK) -> set[str]:
    """What the mart calls for, worked out here from the contract columns."""
    with duckdb.connect(str(mart.paths.mart_db), read_only=True) as con:
        latest = con.execute("select max(day) from daily_spend").fetchone()[0]
        since = latest - timedelta(days=lookback - 1)
        # One per episode (a cost_spike run of consecutive hours), at its first hour.
        anomalies = con.execute(
            "select kind, workspace, feature, detected_at from cost_anomalies "
            "where detected_at >= ? and detected_at = episode_started_at",
            [since],
        ).fetchall()
        burn = con.execute(
            """select workspace, month, spend_to_date_usd, monthly_budget_usd, status
                              from budget_burn where day >= ?
                              qualify row_number() over (partition by workspace, month order by day desc) = 1""",
            [since],
        ).fetchall()
    keys = {alert_key("anomaly", k, w, f, d.isoformat()) for k, w, f, d in anomalies}
    for workspace, month, spend, budget, status in burn:
        crossed = [t for t in ("0.5", "0.85", "1") if spend >= Decimal(t) * budget]
        if crossed:
            keys.add(alert_key("budget_threshold", workspace, month, crossed[-1]))
        if status == "at_risk" or (status == "exceeded" and crossed[-1:] != ["1"]):
            keys.add(alert_key("budget_status", workspace, month, status))
    return keys


def test_each_alert_is_sent_exactly_once_across_reruns(mart, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    url = httpserver.url_for(HOOK)
    expected = _expected_keys(mart)
    assert len(expected) >= 6  # the fixture has every kind: thresholds, at risk, three anomaly kinds

    first = _send(mart, url, generic_json=True)
    assert first.ok and first.sent == len(expected) and first.already_delivered == 0
    assert sorted(_posted_keys(httpserver)) == sorted(expected)
    log = _log(mart)
    assert {k for k, row in log.items() if row[1] == "sent"} == expected
    assert all(log[k][2] == 1 and log[k][4] == NOW and log[k][5] == "run-1" for k in expected)

    # The same run again, and the next day's run: nothing new to say, nothing posted.
    for run_id in ("run-1", "run-2"):
        again = _send(mart, url, run_id=run_id, generic_json=True)
        assert again.ok and again.sent == 0 and again.already_delivered == again.decided == first.decided
    assert len(httpserver.log) == 1

    # A new anomaly published later is the only thing sent next time.
    with duckdb.connect(str(mart.paths.mart_db)) as con:
        retry = ("2026-10-20 09:00:00", "retry_rate", "support", "support_bot", "0.12", "0.05", 1.4, "retry rate 12.0%")
        insert_anomalies(con, [(*retry, None, None, "2026-10-20 09:00:00")])
    third = _send(mart, url, run_id="run-3", generic_json=True)
    assert third.sent == 1
    assert _posted_keys(httpserver)[-1:] == [
        alert_key("anomaly", "retry_rate", "support", "support_bot", "2026-10-20T09:00:00")
    ]
    assert len(httpserver.log) == 2


# support's loop of 2026-10-15 (tests/mart_fixture.py): spike hours 14:00 and 15:00, one episode.
LOOP_EPISODE = alert_key("anomaly", "cost_spike", "support", "(all)", "2026-10-15T14:00:00")


def _loop_hour(hour: int, episode_hour: int) -> tuple:
    """A cost_anomalies row of support's loop: spike hour `hour` of the episode from `episode_hour`."""
    return (
        f"2026-10-15 {hour:02d}:00:00",
        "cost_spike",
        "support",
        "(all)",
        "8.000000",
        "2.000000",
        3.0,
        "hour cost $8.00 vs median $2.00",
        "support_bot",
        "gpt-4o",
        f"2026-10-15 {episode_hour:02d}:00:00",
    )


def _spike_keys(httpserver) -> list[str]:
    return [k for k in _posted_keys(httpserver) if k.startswith("anomaly|cost_spike|support|(all)|2026-10-15")]


def test_a_cost_spike_episode_alerts_once_as_it_grows(mart, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    url = httpserver.url_for(HOOK)
    # The hourly run at 15:05: 15:00 is still running, so only 14:00 has been judged.
    with duckdb.connect(str(mart.paths.mart_db)) as con:
        con.execute("delete from cost_anomalies where detected_at = timestamp '2026-10-15 15:00'")
    _send(mart, url, run_id="hourly-15", generic_json=True)
    assert _spike_keys(httpserver) == [LOOP_EPISODE]
    (first,) = [a for a in _posted(httpserver)[0]["alerts"] if a["key"] == LOOP_EPISODE]
    assert first["facts"]["episode_hours"] == 1 and "First hour of the episode." in first["text"]

    # 16:05 and 17:05: the loop still runs, each closed hour joins the episode; the daily run
    # the next morning recomputes the same episode. None of them alerts again.
    for run_id, hour in (("hourly-16", 15), ("hourly-17", 16), ("daily", None)):
        if hour is not None:
            with duckdb.connect(str(mart.paths.mart_db)) as con:
                insert_anomalies(con, [_loop_hour(hour, 14)])
        again = _send(mart, url, run_id=run_id, generic_json=True)
        assert again.ok and again.sent == 0 and again.already_delivered == again.decided, run_id
    assert len(httpserver.log) == 1
    assert [k for k, row in _log(mart).items() if "2026-10-15" in k and "cost_spike" in k] == [LOOP_EPISODE]

    # 17:00 was no spike (the fix), then 18:00 spikes again: a new episode, alerted once.
    with duckdb.connect(str(mart.paths.mart_db)) as con:
        insert_anomalies(con, [_loop_hour(18, 18)])
    for run_id in ("hourly-19", "hourly-20"):
        _send(mart, url, run_id=run_id, generic_json=True)
    new_episode = alert_key("anomaly", "cost_spike", "support", "(all)", "2026-10-15T18:00:00")
    assert _spike_keys(httpserver) == [LOOP_EPISODE, new_episode]


def test_cost_spike_alert_names_workspace_feature_model_and_top_requests(mart, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    _send(mart, httpserver.url_for(HOOK), generic_json=True)
    alerts = {a["key"]: a for body in _posted(httpserver) for a in body["alerts"]}
    alert = alerts[LOOP_EPISODE]
    with duckdb.connect(str(mart.paths.mart_db), read_only=True) as con:
        observed, baseline, top_feature, top_model = con.execute(
            "select observed, baseline, top_feature, top_model from cost_anomalies "
            "where kind = 'cost_spike' and workspace = 'support' and detected_at = timestamp '2026-10-15 14:00'"
        ).fetchone()
        hours, last_hour = con.execute(
            "select count(*), max(detected_at) from cost_anomalies "
            "where workspace = 'support' and episode_started_at = timestamp '2026-10-15 14:00'"
        ).fetchone()
        chains = con.execute(
            "select request_id, feature, model, calls, cost_usd, first_started_at, last_started_at "
            "from cost_spike_requests where workspace = 'support' and detected_at = timestamp '2026-10-15 14:00' "
            "order by request_rank"
        ).fetchall()
    assert (top_feature, top_model, hours) == ("support_bot", "gpt-4o", 2) and len(chains) == 3

    # The title names what spiked; the numbers are the episode's first hour's.
    assert alert["title"] == "Cost spike: support / support_bot on gpt-4o (2026-10-15 14:00 UTC)"
    text = alert["text"]
    assert f"${observed:,.2f} in the hour vs a baseline of ${baseline:,.2f}" in text
    assert f"${observed - baseline:,.2f} more" in text and "$7.40 more" in text
    assert f"Spiking {hours} consecutive hours so far (14:00 to 2026-10-15 15:00 UTC)." in text
    assert "Top requests: req-loop-1 42 calls $5.12; req-2 3 calls $1.20; req-3 1 call $0.50." in text
    facts = alert["facts"]
    assert facts["observed"] == str(observed) and facts["baseline"] == str(baseline)
    assert Decimal(facts["increase_usd"]) == observed - baseline == Decimal("7.4")
    assert (facts["top_feature"], facts["top_model"]) == (top_feature, top_model)
    assert facts["episode_started_at"] == "2026-10-15T14:00:00" and facts["episode_hours"] == hours
    assert facts["episode_last_hour"] == last_hour.isoformat()
    assert facts["top_requests"] == [
        {
            "request_id": request_id,
            "feature": feature,
            "model": model,
            "calls": calls,
            "cost_usd": str(cost),
            "first_started_at": first.isoformat(),
            "last_started_at": last.isoformat(),
        }
        for request_id, feature, model, calls, cost, first, last in chains
    ]
    assert facts["top_requests"][0]["cost_usd"] == "5.123456"  # exact, not the rounded $5.12

    # retry_rate and token_inflation alerts are unchanged: no top feature or model in the title.
    retry = alerts[alert_key("anomaly", "retry_rate", "search", "doc_search", "2026-10-12T00:00:00")]
    assert (
        retry["title"] == "High retry rate: search / doc_search (2026-10-12)" and "top_requests" not in retry["facts"]
    )


def test_cost_spike_alert_from_a_mart_without_cost_spike_requests(mart):
    # A mart published before cost_spike_requests existed still alerts, without the requests.
    with duckdb.connect(str(mart.paths.mart_db)) as con:
        con.execute("drop table cost_spike_requests")
    from reporting.alert_rules import mart_alerts

    with duckdb.connect(str(mart.paths.mart_db), read_only=True) as con:
        alerts = {a.key: a for a in mart_alerts(con, None, LOOKBACK)}
    assert "Top requests" not in alerts[LOOP_EPISODE].text and alerts[LOOP_EPISODE].facts["top_requests"] == []


def test_budget_thresholds_fire_once_each_as_spend_grows(mart, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    url = httpserver.url_for(HOOK)
    with duckdb.connect(str(mart.paths.mart_db)) as con:
        spend = con.execute(
            "select spend_to_date_usd from budget_month_status where workspace = 'support' order by month desc limit 1"
        ).fetchone()[0]

    def set_support_budget(fraction_used: str) -> None:
        with duckdb.connect(str(mart.paths.mart_db)) as con:
            # budget_month_status is what the alerts read (budget_burn's latest row per month).
            con.execute(
                "update budget_month_status set monthly_budget_usd = cast(? as decimal(18, 6)), "
                "status = 'ok' where workspace = 'support'",
                [spend / Decimal(fraction_used)],
            )

    def support_keys() -> list[str]:
        return [k for k in _posted_keys(httpserver) if k.startswith("budget_threshold|support|")]

    set_support_budget("0.4")
    _send(mart, url, generic_json=True)
    assert support_keys() == []
    set_support_budget("0.6")
    _send(mart, url, run_id="run-2", generic_json=True)
    assert support_keys() == ["budget_threshold|support|2026-10|0.5"]
    set_support_budget("0.9")
    _send(mart, url, run_id="run-3", generic_json=True)
    _send(mart, url, run_id="run-4", generic_json=True)
    assert support_keys() == ["budget_threshold|support|2026-10|0.5", "budget_threshold|support|2026-10|0.85"]


def test_stronger_alert_supersedes_weaker_ones_first_seen_together(mart, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    _send(mart, httpserver.url_for(HOOK), generic_json=True)
    keys = _posted_keys(httpserver)
    month = mart.latest_month
    # The hostile workspace is past 100%: one "100% reached" alert, not 50% + 85% + exceeded too.
    assert alert_key("budget_threshold", HOSTILE_WORKSPACE, month, "1") in keys
    for weaker in (
        alert_key("budget_threshold", HOSTILE_WORKSPACE, month, "0.5"),
        alert_key("budget_status", HOSTILE_WORKSPACE, month, "exceeded"),
    ):
        assert weaker not in keys
        assert _log(mart)[weaker][1] == "superseded"


def test_retry_on_500_then_success(mart, httpserver):
    httpserver.expect_ordered_request(HOOK, method="POST").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request(HOOK, method="POST").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "0"})
    )
    httpserver.expect_ordered_request(HOOK, method="POST").respond_with_data("ok")
    summary = _send(mart, httpserver.url_for(HOOK))
    assert summary.ok and summary.sent == summary.decided > 0
    assert len(httpserver.log) == 3
    bodies = _posted(httpserver)
    assert bodies[0] == bodies[1] == bodies[2]  # the same message, retried
    assert all(row[1] == "sent" for row in _log(mart).values() if row[1] != "superseded")
    httpserver.check_assertions()


def test_failed_webhook_is_recorded_and_retried_next_run(mart, httpserver, caplog):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("no_service", status=503)
    url = httpserver.url_for(HOOK)
    with caplog.at_level(logging.INFO, logger="costline"):
        failed = _send(mart, url)
    assert failed.failed == failed.decided > 0 and failed.sent == 0 and not failed.ok
    assert len(httpserver.log) == FAST.max_attempts
    log = _log(mart)
    assert {row[1] for row in log.values()} <= {"failed", "superseded"}
    failed_rows = [row for row in log.values() if row[1] == "failed"]
    assert all(row[2] == 1 and row[4] is None and "503" in row[6] for row in failed_rows)

    httpserver.clear()
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    later = NOW + timedelta(days=1)
    retried = _send(mart, url, run_id="run-2", now=later)
    assert retried.ok and retried.sent == failed.failed
    log = _log(mart)
    for key in failed.failed_keys:
        kind, status, attempts, first_attempt_at, sent_at, run_id, error, _ = log[key]
        assert (status, attempts, first_attempt_at, sent_at, run_id, error) == ("sent", 2, NOW, later, "run-2", None)
    # The webhook URL is a credential: never in costline's log output or the alert log.
    assert "sEcReTtOkEn" not in _costline_log_text(caplog)
    assert not any("sEcReTtOkEn" in str(row) for row in log.values())


def test_unreachable_webhook_never_raises(mart, caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with caplog.at_level(logging.INFO, logger="costline"):
        summary = _send(mart, f"http://127.0.0.1:{port}{HOOK}")
        broken = _send(mart, "not a url at all/sEcReTtOkEn", run_id="run-2")
    assert summary.failed == summary.decided > 0
    assert broken.failed == broken.decided and broken.error is None
    text = _costline_log_text(caplog)
    assert "sEcReTtOkEn" not in text and "ConnectionError" in text


def test_slack_payload_shape(mart, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    _send(mart, httpserver.url_for(HOOK))
    (body,) = _posted(httpserver)
    assert set(body) == {"text", "blocks"} and body["text"].startswith("costline: ")
    blocks = body["blocks"]
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["type"] == "plain_text"
    assert blocks[-1]["type"] == "context"
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(blocks) <= 50 and len(sections) == len(_expected_keys(mart))
    assert all(b["text"]["type"] == "mrkdwn" and len(b["text"]["text"]) <= 3000 for b in sections)
    everything = json.dumps(body)
    # Slack control characters in data are escaped, so a name cannot become a link or mention.
    assert "<script>" not in everything and "&lt;script&gt;" in everything
    with duckdb.connect(str(mart.paths.mart_db), read_only=True) as con:
        spike = con.execute(
            "select observed, baseline from cost_anomalies where kind = 'cost_spike' "
            "and detected_at = episode_started_at order by detected_at desc limit 1"
        ).fetchone()
    spike_text = next(
        b["text"]["text"] for b in sections if "Cost spike" in b["text"]["text"] and "2026-10-15" in b["text"]["text"]
    )
    assert f"${spike[0]:,.2f}" in spike_text and f"${spike[1]:,.2f}" in spike_text
    assert "Cost spike: support / support_bot on gpt-4o" in spike_text and "req-loop-1 42 calls $5.12" in spike_text
    for kind in ("cost_spike", "retry_rate", "token_inflation"):
        assert any(HINTS[kind].replace("&", "&amp;") in b["text"]["text"] for b in sections), kind


def test_generic_json_option_carries_exact_numbers(mart, httpserver, monkeypatch):
    monkeypatch.setenv("COSTLINE_ALERT_WEBHOOK_FORMAT", "json")
    monkeypatch.setenv("COSTLINE_ALERT_WEBHOOK_URL", httpserver.url_for(HOOK))
    settings = AlertSettings.from_env()
    assert settings.generic_json and "sEcReTtOkEn" not in repr(settings)
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    send_alerts(
        mart.paths,
        run_id="run-1",
        webhook_url=settings.webhook_url,
        generic_json=settings.generic_json,
        lookback_days=LOOKBACK,
        retry=FAST,
    )
    (body,) = _posted(httpserver)
    assert body["source"] == "costline" and body["run_id"] == "run-1"
    alerts = {a["key"]: a for a in body["alerts"]}
    assert set(alerts) == _expected_keys(mart)
    assert all({"kind", "severity", "title", "text", "hint", "facts"} <= set(a) for a in alerts.values())
    with duckdb.connect(str(mart.paths.mart_db), read_only=True) as con:
        spend, budget = con.execute(
            "select spend_to_date_usd, monthly_budget_usd from budget_burn "
            "where workspace = 'search' order by day desc limit 1"
        ).fetchone()
    at_risk = alerts[alert_key("budget_status", "search", mart.latest_month, "at_risk")]
    assert at_risk["kind"] == "budget_at_risk"
    assert Decimal(at_risk["facts"]["spend_to_date_usd"]) == spend
    assert Decimal(at_risk["facts"]["monthly_budget_usd"]) == budget


def test_no_url_means_logged_only_and_once(mart, caplog):
    with caplog.at_level(logging.WARNING, logger="costline.alerts"):
        first = _send(mart, None)
    assert first.logged == first.decided == len(_expected_keys(mart)) and first.sent == 0
    alert_lines = [r for r in caplog.records if r.getMessage().startswith("alert [")]
    assert len(alert_lines) == first.logged
    assert any("Token inflation" in r.getMessage() and HINTS["token_inflation"] in r.getMessage() for r in alert_lines)
    assert {row[1] for row in _log(mart).values()} == {"logged", "superseded"}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="costline.alerts"):
        second = _send(mart, None, run_id="run-2")
    assert second.logged == 0 and not [r for r in caplog.records if r.getMessage().startswith("alert [")]


def test_lookback_keeps_old_facts_out(mart):
    summary = _send(mart, None, lookback_days=7)
    assert set(summary.delivered_keys) == _expected_keys(mart, lookback=7)
    assert not any("2026-09-28" in key for key in summary.delivered_keys)


def test_thresholds_from_env(mart, monkeypatch, caplog):
    monkeypatch.setenv("COSTLINE_BUDGET_ALERT_THRESHOLDS", "0.25, 0.4")
    summary = _send(mart, None)
    assert alert_key("budget_threshold", "support", mart.latest_month, "0.4") in summary.delivered_keys
    monkeypatch.setenv("COSTLINE_BUDGET_ALERT_THRESHOLDS", "half")
    with caplog.at_level(logging.ERROR, logger="costline.alerts"):
        _send(mart, None, run_id="run-2")
    assert "COSTLINE_BUDGET_ALERT_THRESHOLDS" in caplog.text and "using the defaults" in caplog.text


def test_busy_delivery_delays_alerts_without_raising(mart, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    url = httpserver.url_for(HOOK)
    # Another delivery (the daemon's sensor on the same run) holds the alert log.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_DELIVERY, str(mart.paths.warehouse_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        busy = _send(mart, url, lock_wait_s=0.5)
    finally:
        holder.kill()
        holder.wait(10)
    assert busy.sent == 0 and "alert log" in busy.error and len(httpserver.log) == 0
    later = _send(mart, url, run_id="run-2")
    assert later.ok and later.sent == later.decided > 0


def test_gate_failure_alert_names_the_check_and_the_published_mart(mart, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    url = httpserver.url_for(HOOK)
    check = "cost_equals_bill on marts/daily_spend (openai 2026-10-20: billed 10.00, cost 9.50)"
    run = RunSummary(run_id="run-9", status="FAILURE", failed_checks=(check,))
    summary = alert_run_failure(
        mart.paths, run, settings=AlertSettings(webhook_url=url, generic_json=True), retry=FAST, now=NOW
    )
    assert summary.ok and summary.sent == 1
    (alert,) = _posted(httpserver)[0]["alerts"]
    assert alert["kind"] == "gate_failure" and alert["severity"] == "critical"
    assert check in alert["text"] and "still published" in alert["text"]
    assert str(mart.paths.mart_db) in alert["text"] and "fixture-run" in alert["text"]
    # The CLI and the daemon's sensor may both report the same run: it alerts once.
    again = alert_run_failure(mart.paths, run, settings=AlertSettings(webhook_url=url), retry=FAST)
    assert again.sent == 0 and again.already_delivered == 1 and len(httpserver.log) == 1


def test_gate_failure_before_any_publication(tmp_path):
    from ingestion.settings import Paths

    paths = Paths(tmp_path / "in", tmp_path / "wh")
    run = RunSummary(run_id="run-1", status="FAILURE", failed_checks=("money_non_negative on marts/daily_spend",))
    summary = alert_run_failure(paths, run, settings=AlertSettings(webhook_url=None))
    assert summary.logged == 1
    assert not paths.warehouse_db.exists(), "delivery never creates or opens the warehouse"
    with duckdb.connect(str(store_path(paths.warehouse_dir)), read_only=True) as con:
        assert "no mart has been published yet" in con.execute("select summary from alert_log").fetchone()[0]


def test_failure_sensor_alerts_a_failed_daily_run(mart, httpserver, monkeypatch):
    """The real sensor over a real failed run: a blocking check failed, nothing published."""
    import dagster as dg

    from orchestration.automation import DAILY_JOB
    from orchestration.delivery import run_failure_alert_sensor
    from orchestration.resources import CostlinePaths
    from orchestration.run_records import run_summary

    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    monkeypatch.setenv("COSTLINE_ALERT_WEBHOOK_URL", httpserver.url_for(HOOK))
    monkeypatch.setenv("COSTLINE_ALERT_WEBHOOK_FORMAT", "json")

    @dg.asset(key=["marts", "daily_spend"])
    def daily_spend():
        return None

    @dg.asset_check(asset=daily_spend, name="money_non_negative", blocking=True)
    def money_non_negative():
        return dg.AssetCheckResult(passed=False, description="2 rows with negative cost_usd")

    @dg.asset(key=["published_mart"], deps=[daily_spend])
    def published_mart():
        return None

    job = dg.define_asset_job(DAILY_JOB, selection=dg.AssetSelection.all())
    defs = dg.Definitions(assets=[daily_spend, published_mart], asset_checks=[money_non_negative], jobs=[job])
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(DAILY_JOB).execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        summary = run_summary(instance, result.run_id)
        assert summary.failed_checks == ("money_non_negative on marts/daily_spend (2 rows with negative cost_usd)",)
        assert summary.failed_steps and not summary.published and not summary.success
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources={
                "costline": CostlinePaths(
                    input_dir=str(mart.paths.input_dir), warehouse_dir=str(mart.paths.warehouse_dir)
                )
            },
        ).for_run_failure()
        run_failure_alert_sensor(context)
    (alert,) = _posted(httpserver)[0]["alerts"]
    assert alert["key"] == alert_key("run_failure", result.run_id) and alert["kind"] == "gate_failure"
    assert "money_non_negative" in alert["text"] and "still published" in alert["text"]


def test_delivery_assets_materialize_after_publish(mart, monkeypatch, caplog):
    """alerts_sent and stakeholder_report as Dagster runs them (no webhook configured)."""
    import dagster as dg

    from orchestration.delivery import alerts_sent, report_path, stakeholder_report
    from orchestration.resources import CostlinePaths

    monkeypatch.delenv("COSTLINE_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("COSTLINE_ALERT_LOOKBACK_DAYS", str(LOOKBACK))
    resources = {
        "costline": CostlinePaths(input_dir=str(mart.paths.input_dir), warehouse_dir=str(mart.paths.warehouse_dir))
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [alerts_sent, stakeholder_report], partition_key="2026-10-20", resources=resources, instance=instance
        )
        assert result.success
        metadata = {
            event.asset_key.path[-1]: event.event_specific_data.materialization.metadata
            for event in result.get_asset_materialization_events()
        }
    assert metadata["alerts_sent"]["logged"].value == len(_expected_keys(mart))
    assert metadata["alerts_sent"]["webhook"].value == "not configured (alerts logged only)"
    assert report_path(mart.paths).stat().st_size == metadata["stakeholder_report"]["bytes"].value


def test_a_failed_gateway_call_alerts_once_per_decision_until_it_goes_through(mart, httpserver):
    """enforcement_log rows (enforcement/log.py's columns): decision 3 failed twice, decision 5
    failed then went through on a retry. Only decision 3 alerts, once across runs."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    rows = [
        (1, "2026-10-20 10:05:00", 3, "webhook", "search", "block", "failed", "HTTP 500: upstream down"),
        (2, "2026-10-20 11:05:00", 3, "webhook", "search", "block", "failed", "HTTP 503"),
        (3, "2026-10-20 10:05:00", 5, "litellm", "team-search", "block", "failed", "HTTP 500"),
        (4, "2026-10-20 11:05:00", 5, "litellm", "team-search", "block", "sent", None),
    ]
    with duckdb.connect(str(mart.paths.mart_db)) as con:
        con.execute(f"create table enforcement_log ({enforcement_log.COLUMNS})")
        con.executemany(
            "insert into enforcement_log values (?, ?, 'run', ?, '2026-10', 'search', ?, ?, ?, 'hard_limit_reached', "
            "'month-to-date spend $60.00 reached the hard limit $50.00', 'on', ?, 3, 500, ?, 60, 50)",
            [list(r) for r in rows],
        )
    _send(mart, httpserver.url_for("/hook"), generic_json=True)
    failed = [a for body in _posted(httpserver) for a in body["alerts"] if a["kind"] == "enforcement_failed"]
    assert [(a["key"], a["severity"], a["title"]) for a in failed] == [
        (alert_key("enforcement_failed", 3), "critical", "Could not block workspace search at webhook (search)")
    ]
    assert failed[0]["text"].startswith("HTTP 503 (3 attempts, 2026-10-20 11:05 UTC). Why: month-to-date spend")
    assert failed[0]["hint"] == HINTS["enforcement_failed"]
    seen = len(httpserver.log)
    _send(mart, httpserver.url_for("/hook"), run_id="run-2", generic_json=True)
    assert [a["kind"] for body in _posted(httpserver)[seen:] for a in body["alerts"]] == []

"""Alerts after each run: decide from the published mart, deliver once, remember in the warehouse.

Configuration (environment):
- `COSTLINE_ALERT_WEBHOOK_URL`: where to POST. Unset: alerts are only logged
  (`costline.alerts` logger) and recorded as `logged`. The URL is a secret (Slack's path is the
  credential): it is never logged, stored or put in an error message.
- `COSTLINE_ALERT_WEBHOOK_FORMAT`: `slack` (default; `text` + `blocks`, what Slack incoming
  webhooks accept) or `json` (`{"source": "costline", "run_id": ..., "alerts": [...]}`).
- `COSTLINE_BUDGET_ALERT_THRESHOLDS`: fractions of the monthly budget, default `0.5,0.85,1.0`.
- `COSTLINE_ALERT_LOOKBACK_DAYS`: how far back from the mart's latest day facts still alert
  (default 7).

Exactly once: `ops.alert_log` (see alert_log.py) holds one row per alert key. The warehouse is
opened read-write twice, briefly (read the log; write the outcomes), never while POSTing:
DuckDB allows one writer process per file and the caller holds the costline lock. If a
process dies between a POST and the write, that alert is sent again next run (at least once
in that window, exactly once otherwise).

Nothing here raises into the pipeline: every failure is logged and returned in the summary.
"""
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

import duckdb

from ingestion.settings import Paths
from ingestion.warehouse import connect
from reporting.alert_log import LogEntry, done_keys, ensure_alert_log, record
from reporting.alert_rules import (Alert, lookback_from_env, mart_alerts, run_failure_alert,
                                   thresholds_from_env)
from reporting.webhook import RetryPolicy, post_json

log = logging.getLogger("costline.alerts")

WEBHOOK_URL_ENV = "COSTLINE_ALERT_WEBHOOK_URL"
WEBHOOK_FORMAT_ENV = "COSTLINE_ALERT_WEBHOOK_FORMAT"
# Slack allows 50 blocks per message; 20 alerts + header + context stay well inside it.
ALERTS_PER_MESSAGE = 20
SEVERITY_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = field(repr=False)
    generic_json: bool = False

    @classmethod
    def from_env(cls, environ=os.environ) -> "AlertSettings":
        fmt = environ.get(WEBHOOK_FORMAT_ENV, "slack").strip().lower() or "slack"
        if fmt not in ("slack", "json"):
            log.error("%s=%r: expected slack or json; using slack", WEBHOOK_FORMAT_ENV, fmt)
        return cls(webhook_url=environ.get(WEBHOOK_URL_ENV, "").strip() or None, generic_json=fmt == "json")


@dataclass
class AlertSummary:
    run_id: str
    decided: int = 0                 # alerts the mart calls for (before dedup)
    already_delivered: int = 0       # skipped: sent or logged by an earlier run
    sent: int = 0
    logged: int = 0
    failed: int = 0
    delivered_keys: list[str] = field(default_factory=list)
    failed_keys: list[str] = field(default_factory=list)
    error: str | None = None         # why nothing was delivered, when that happened

    @property
    def ok(self) -> bool:
        return self.error is None and self.failed == 0


def send_alerts(paths: Paths, *, run_id: str, webhook_url: str | None, generic_json: bool = False,
                now: datetime | None = None, thresholds: tuple[Decimal, ...] | None = None,
                lookback_days: int | None = None, retry: RetryPolicy = RetryPolicy()) -> AlertSummary:
    """Budget and anomaly alerts for the mart just published; never raises."""
    summary = AlertSummary(run_id=run_id)
    try:
        if not paths.mart_db.exists():
            summary.error = f"no published mart at {paths.mart_db}; nothing to alert on"
            log.warning("alerts: %s", summary.error)
            return summary
        with duckdb.connect(str(paths.mart_db), read_only=True) as con:
            alerts = mart_alerts(con, thresholds or thresholds_from_env(),
                                 lookback_days or lookback_from_env())
        return _deliver(paths, alerts, summary, webhook_url, generic_json, now, retry)
    except Exception as exc:  # alerts never block the pipeline
        summary.error = f"alerts not evaluated: {type(exc).__name__}: {_scrub(str(exc), webhook_url)}"
        log.error("%s", summary.error)
        return summary


def alert_gate_failure(paths: Paths, *, run_id: str, failed_checks: list[str], webhook_url: str | None,
                       generic_json: bool = False, failed_steps: list[str] | None = None,
                       now: datetime | None = None, retry: RetryPolicy = RetryPolicy()) -> AlertSummary:
    """A run that failed (a blocking check, or a step): say which, and what readers see now."""
    summary = AlertSummary(run_id=run_id)
    try:
        alert = run_failure_alert(run_id, list(failed_checks), list(failed_steps or []),
                                  _publication(paths, run_id))
        return _deliver(paths, [alert], summary, webhook_url, generic_json, now, retry)
    except Exception as exc:
        summary.error = f"failure alert not sent: {type(exc).__name__}: {_scrub(str(exc), webhook_url)}"
        log.error("%s", summary.error)
        return summary


def _publication(paths: Paths, failed_run_id: str) -> str:
    """What BI readers see now, in words."""
    if not paths.mart_db.exists():
        return "No mart has been published yet."
    try:
        with duckdb.connect(str(paths.mart_db), read_only=True) as con:
            published_at, run_id = con.execute(
                "select published_at, run_id from mart_publication order by published_at desc limit 1").fetchone()
    except Exception:  # an older mart without the publication table is still the published one
        return f"The previous mart is still published at {paths.mart_db}."
    if run_id == failed_run_id:
        return f"This run had already published the new mart at {paths.mart_db}."
    return (f"The previous mart is still published at {paths.mart_db} "
            f"(published {published_at:%Y-%m-%d %H:%M} UTC by run {run_id}).")


def _deliver(paths: Paths, alerts: list[Alert], summary: AlertSummary, webhook_url: str | None,
             generic_json: bool, now: datetime | None, retry: RetryPolicy) -> AlertSummary:
    summary.decided = len(alerts)
    if not alerts:
        return summary
    superseded = {key for a in alerts for key in a.supersedes}
    try:
        with connect(paths.warehouse_db) as con:
            ensure_alert_log(con)
            done = done_keys(con, [a.key for a in alerts] + sorted(superseded))
    except Exception as exc:
        summary.error = (f"alert log {paths.warehouse_db} unavailable ({type(exc).__name__}); "
                         f"{len(alerts)} alerts not delivered this run, tried again next run")
        log.error("%s", summary.error)
        return summary

    pending = [a for a in alerts if a.key not in done and a.key not in superseded]
    summary.already_delivered = len(alerts) - len(pending)
    entries: list[LogEntry] = []
    if not webhook_url:
        for alert in pending:
            log.warning("alert [%s] %s%s", alert.severity, alert.summary,
                        f" Hint: {alert.hint}" if alert.hint else "")
            entries.append(LogEntry(alert.key, alert.kind, alert.summary, "logged"))
    else:
        for start in range(0, len(pending), ALERTS_PER_MESSAGE):
            batch = pending[start:start + ALERTS_PER_MESSAGE]
            body = (generic_payload(batch, summary.run_id) if generic_json
                    else slack_payload(batch, summary.run_id))
            delivery = post_json(webhook_url, body, retry)
            status = "sent" if delivery.ok else "failed"
            if not delivery.ok:
                log.error("webhook refused %d alerts (%s); they are retried next run",
                          len(batch), delivery.error)
            entries.extend(LogEntry(a.key, a.kind, a.summary, status, delivery.error) for a in batch)
    delivered = {e.alert_key for e in entries if e.status in ("sent", "logged")}
    entries.extend(LogEntry(key, key.split("|", 1)[0], "covered by a stronger alert", "superseded")
                   for key in sorted(superseded - done)
                   if any(key in a.supersedes for a in pending if a.key in delivered))

    summary.sent = sum(e.status == "sent" for e in entries)
    summary.logged = sum(e.status == "logged" for e in entries)
    summary.failed = sum(e.status == "failed" for e in entries)
    summary.delivered_keys = [e.alert_key for e in entries if e.status in ("sent", "logged")]
    summary.failed_keys = [e.alert_key for e in entries if e.status == "failed"]
    try:
        with connect(paths.warehouse_db) as con:
            ensure_alert_log(con)
            record(con, entries, summary.run_id, now or datetime.now(timezone.utc))
    except Exception as exc:
        summary.error = (f"alerts delivered but not recorded in {paths.warehouse_db} "
                         f"({type(exc).__name__}); they may be sent again next run")
        log.error("%s", summary.error)
    log.info("alerts: %d decided, %d already delivered, %d sent, %d logged, %d failed",
             summary.decided, summary.already_delivered, summary.sent, summary.logged, summary.failed)
    return summary


def slack_payload(alerts: list[Alert], run_id: str) -> dict:
    """Slack incoming-webhook body: `text` is the notification fallback, `blocks` the message."""
    critical = sum(a.severity == "critical" for a in alerts)
    headline = f"costline: {len(alerts)} new alert{'s' if len(alerts) != 1 else ''}" + \
        (f" ({critical} critical)" if critical else "")
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": headline[:150]}}]
    for alert in alerts:
        body = f"{SEVERITY_EMOJI[alert.severity]} *{_mrkdwn(alert.title)}*\n{_mrkdwn(alert.text)}"
        if alert.hint:
            body += f"\n_{_mrkdwn(alert.hint)}_"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"run {_mrkdwn(run_id)}"}]})
    text = headline + ": " + "; ".join(_mrkdwn(a.title) for a in alerts)
    return {"text": text[:3000], "blocks": blocks}


def generic_payload(alerts: list[Alert], run_id: str) -> dict:
    return {"source": "costline", "run_id": run_id, "alerts": [
        {"key": a.key, "kind": a.kind, "severity": a.severity, "title": a.title, "text": a.text,
         "hint": a.hint, "facts": a.facts} for a in alerts]}


def _mrkdwn(text: str) -> str:
    # Slack reads &, < and > as control characters (links, mentions); everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret and text else text

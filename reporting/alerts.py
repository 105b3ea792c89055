"""Alerts after each run: decide from the published mart, deliver once, remember in delivery.duckdb.

Configuration (environment):
- `COSTLINE_ALERT_WEBHOOK_URL`: where to POST. Unset: alerts are only logged
  (`costline.alerts` logger) and recorded as `logged`. The URL is a secret (Slack's path is the
  credential): it is never logged, stored or put in an error message.
- `COSTLINE_ALERT_WEBHOOK_FORMAT`: `slack` (default; `text` + `blocks`, what Slack incoming
  webhooks accept) or `json` (`{"source": "costline", "run_id": ..., "alerts": [...]}`).
- `COSTLINE_BUDGET_ALERT_THRESHOLDS`: fractions of the monthly budget, default 0.5, the mart's
  `budget_at_risk_pct` (0.85) and 1.0.
- `COSTLINE_ALERT_LOOKBACK_DAYS`: how far back from the mart's latest day facts still alert
  (default 7).

Exactly once: the alert log (alert_log.py, `<warehouse>/delivery.duckdb`) holds one row per
alert key. Delivery holds the delivery lock from reading the log to recording the outcomes, so
two processes reporting the same run post it once; it reads the published mart and never
touches warehouse.duckdb or the warehouse lock. If a process dies between a POST and the
write, that alert is sent again next run (at least once in that window, exactly once
otherwise).

Failure alerts leave from one door, `alert_run_failure`: the CLI and the daemon's run-failure
sensor both call it with the run's RunSummary, and share the key `run_failure|<run_id>`.

Nothing here raises into the pipeline: every failure is logged and returned in the summary.
"""

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
from filelock import Timeout

from ingestion.settings import Paths
from reporting.alert_log import LogEntry, delivery_lock, done_keys, open_alert_log, record, store_path
from reporting.alert_rules import Alert, lookback_from_env, mart_alerts, run_failure_alert
from reporting.publication import publication_sentence
from reporting.run_summary import RunSummary
from reporting.webhook import RetryPolicy, post_json

log = logging.getLogger("costline.alerts")

WEBHOOK_URL_ENV = "COSTLINE_ALERT_WEBHOOK_URL"
WEBHOOK_FORMAT_ENV = "COSTLINE_ALERT_WEBHOOK_FORMAT"
# Slack allows 50 blocks per message; 20 alerts + header + context stay well inside it.
ALERTS_PER_MESSAGE = 20
# Another delivery (the CLI and the sensor on the same failed run) holds the log at most for
# its POSTs; after this long the alerts wait for the next run instead.
DELIVERY_LOCK_WAIT_S = 30.0
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
    decided: int = 0  # alerts the mart calls for (before dedup)
    already_delivered: int = 0  # skipped: sent or logged by an earlier run
    sent: int = 0
    logged: int = 0
    failed: int = 0
    delivered_keys: list[str] = field(default_factory=list)
    failed_keys: list[str] = field(default_factory=list)
    error: str | None = None  # why nothing was delivered, when that happened

    @property
    def ok(self) -> bool:
        return self.error is None and self.failed == 0


def send_alerts(
    paths: Paths,
    *,
    run_id: str,
    webhook_url: str | None,
    generic_json: bool = False,
    now: datetime | None = None,
    thresholds: tuple[Decimal, ...] | None = None,
    lookback_days: int | None = None,
    retry: RetryPolicy = RetryPolicy(),
    lock_wait_s: float = DELIVERY_LOCK_WAIT_S,
) -> AlertSummary:
    """Budget and anomaly alerts for the mart just published; never raises."""
    summary = AlertSummary(run_id=run_id)
    try:
        if not paths.mart_db.exists():
            summary.error = f"no published mart at {paths.mart_db}; nothing to alert on"
            log.warning("alerts: %s", summary.error)
            return summary
        with duckdb.connect(str(paths.mart_db), read_only=True) as con:
            alerts = mart_alerts(con, thresholds, lookback_days or lookback_from_env())
        return _deliver(paths, alerts, summary, webhook_url, generic_json, now, retry, lock_wait_s)
    except Exception as exc:  # alerts never block the pipeline
        summary.error = f"alerts not evaluated: {type(exc).__name__}: {_scrub(str(exc), webhook_url)}"
        log.error("%s", summary.error)
        return summary


def alert_run_failure(
    paths: Paths,
    run: RunSummary,
    *,
    settings: AlertSettings | None = None,
    now: datetime | None = None,
    retry: RetryPolicy = RetryPolicy(),
    lock_wait_s: float = DELIVERY_LOCK_WAIT_S,
) -> AlertSummary:
    """The one door for failure alerts (the CLI and the sensor): say what failed, in the run
    summary's words, and what readers see now. Never raises; a run alerts once."""
    settings = settings or AlertSettings.from_env()
    summary = AlertSummary(run_id=run.run_id)
    try:
        alert = run_failure_alert(run, publication_sentence(paths.mart_db, run.run_id))
        return _deliver(paths, [alert], summary, settings.webhook_url, settings.generic_json, now, retry, lock_wait_s)
    except Exception as exc:
        summary.error = f"failure alert not sent: {type(exc).__name__}: {_scrub(str(exc), settings.webhook_url)}"
        log.error("%s", summary.error)
        return summary


def _deliver(
    paths: Paths,
    alerts: list[Alert],
    summary: AlertSummary,
    webhook_url: str | None,
    generic_json: bool,
    now: datetime | None,
    retry: RetryPolicy,
    lock_wait_s: float,
) -> AlertSummary:
    summary.decided = len(alerts)
    if not alerts:
        return summary
    lock = delivery_lock(paths.warehouse_dir, lock_wait_s)
    try:
        lock.acquire()
    except Timeout:
        summary.error = (
            f"alert log {store_path(paths.warehouse_dir)} busy with another delivery for "
            f"{lock_wait_s:.0f}s; {len(alerts)} alerts not delivered this run, tried again next run"
        )
        log.error("%s", summary.error)
        return summary
    try:
        return _deliver_locked(paths, alerts, summary, webhook_url, generic_json, now, retry)
    finally:
        lock.release()


def _deliver_locked(
    paths: Paths,
    alerts: list[Alert],
    summary: AlertSummary,
    webhook_url: str | None,
    generic_json: bool,
    now: datetime | None,
    retry: RetryPolicy,
) -> AlertSummary:
    store = store_path(paths.warehouse_dir)
    superseded = {key for a in alerts for key in a.supersedes}
    try:
        with open_alert_log(paths.warehouse_dir) as con:
            done = done_keys(con, [a.key for a in alerts] + sorted(superseded))
    except Exception as exc:
        summary.error = (
            f"alert log {store} unavailable ({type(exc).__name__}); "
            f"{len(alerts)} alerts not delivered this run, tried again next run"
        )
        log.error("%s", summary.error)
        return summary

    pending = [a for a in alerts if a.key not in done and a.key not in superseded]
    summary.already_delivered = len(alerts) - len(pending)
    entries: list[LogEntry] = []
    if not webhook_url:
        for alert in pending:
            log.warning("alert [%s] %s%s", alert.severity, alert.summary, f" Hint: {alert.hint}" if alert.hint else "")
            entries.append(LogEntry(alert.key, alert.kind, alert.summary, "logged"))
    else:
        for start in range(0, len(pending), ALERTS_PER_MESSAGE):
            batch = pending[start : start + ALERTS_PER_MESSAGE]
            body = generic_payload(batch, summary.run_id) if generic_json else slack_payload(batch, summary.run_id)
            delivery = post_json(webhook_url, body, retry)
            status = "sent" if delivery.ok else "failed"
            if not delivery.ok:
                log.error("webhook refused %d alerts (%s); they are retried next run", len(batch), delivery.error)
            entries.extend(LogEntry(a.key, a.kind, a.summary, status, delivery.error) for a in batch)
    delivered = {e.alert_key for e in entries if e.status in ("sent", "logged")}
    entries.extend(
        LogEntry(key, key.split("|", 1)[0], "covered by a stronger alert", "superseded")
        for key in sorted(superseded - done)
        if any(key in a.supersedes for a in pending if a.key in delivered)
    )

    summary.sent = sum(e.status == "sent" for e in entries)
    summary.logged = sum(e.status == "logged" for e in entries)
    summary.failed = sum(e.status == "failed" for e in entries)
    summary.delivered_keys = [e.alert_key for e in entries if e.status in ("sent", "logged")]
    summary.failed_keys = [e.alert_key for e in entries if e.status == "failed"]
    try:
        with open_alert_log(paths.warehouse_dir) as con:
            record(con, entries, summary.run_id, now or datetime.now(UTC))
    except Exception as exc:
        summary.error = (
            f"alerts delivered but not recorded in {store} ({type(exc).__name__}); they may be sent again next run"
        )
        log.error("%s", summary.error)
    log.info(
        "alerts: %d decided, %d already delivered, %d sent, %d logged, %d failed",
        summary.decided,
        summary.already_delivered,
        summary.sent,
        summary.logged,
        summary.failed,
    )
    return summary


def slack_payload(alerts: list[Alert], run_id: str) -> dict:
    """Slack incoming-webhook body: `text` is the notification fallback, `blocks` the message."""
    critical = sum(a.severity == "critical" for a in alerts)
    headline = f"costline: {len(alerts)} new alert{'s' if len(alerts) != 1 else ''}" + (
        f" ({critical} critical)" if critical else ""
    )
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
    return {
        "source": "costline",
        "run_id": run_id,
        "alerts": [
            {
                "key": a.key,
                "kind": a.kind,
                "severity": a.severity,
                "title": a.title,
                "text": a.text,
                "hint": a.hint,
                "facts": a.facts,
            }
            for a in alerts
        ],
    }


def _mrkdwn(text: str) -> str:
    # Slack reads &, < and > as control characters (links, mentions); everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret and text else text

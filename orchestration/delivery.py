"""Getting the published mart to people: alerts and the stakeholder report, as Dagster pieces.

- `alerts_sent`: after `published_mart`, budget and anomaly alerts to the webhook (or the log).
- `stakeholder_report`: after `published_mart`, `$COSTLINE_WAREHOUSE_DIR/report.html`.
- `run_failure_alert_sensor`: a failed daily run (blocking check or step) alerts, for runs the
  daemon launched (`dagster dev`). The CLI calls `notify_run_failure` itself; both share the
  alert key `run_failure|<run_id>`, so a run seen by both alerts once.

Alerts never fail a run: delivery problems are logged and shown in the asset's metadata.
"""
import logging
from pathlib import Path

import dagster as dg
from filelock import Timeout

from ingestion.settings import Paths
from orchestration.automation import DAILY_JOB, costline_daily_job
from orchestration.partitions import daily_partitions
from orchestration.resources import CostlinePaths
from orchestration.locks import warehouse_lock
from reporting.alerts import AlertSettings, AlertSummary, alert_gate_failure, send_alerts
from reporting.report import ReportError, write_report
from reporting.report_data import EmptyMartError

log = logging.getLogger("costline.alerts")

PUBLISHED_MART = dg.AssetKey(["published_mart"])
REPORT_FILE = "report.html"
# The failure sensor runs outside the run's process; it waits this long for a CLI run that
# holds the warehouse before giving up on the alert (the Dagster UI still shows the failure).
SENSOR_LOCK_WAIT_S = 30.0


def report_path(paths: Paths) -> Path:
    return paths.warehouse_dir / REPORT_FILE


def report_command(paths: Paths, month: str | None = None, out: Path | None = None) -> Path:
    """`costline report [--month YYYY-MM] [--out FILE]`: raises ReportError with a one-line reason."""
    return write_report(paths, Path(out) if out else report_path(paths), month)


def notify_run_failure(paths: Paths, run_id: str, failed_checks: list[str], failed_steps: list[str],
                       lock_wait_s: float = SENSOR_LOCK_WAIT_S) -> AlertSummary:
    """Alert a failed run once. Takes the costline lock: call it after the run released it."""
    settings = AlertSettings.from_env()
    try:
        with warehouse_lock(paths, lock_wait_s):
            return alert_gate_failure(paths, run_id=run_id, failed_checks=failed_checks,
                                      failed_steps=failed_steps, webhook_url=settings.webhook_url,
                                      generic_json=settings.generic_json)
    except Timeout:
        summary = AlertSummary(run_id=run_id, error=f"the warehouse stayed busy for {lock_wait_s:.0f}s; "
                                                    f"failure alert for run {run_id} not sent")
        log.error("%s", summary.error)
        return summary


def _summary_metadata(summary: AlertSummary, settings: AlertSettings) -> dict:
    return {
        "decided": summary.decided, "already_delivered": summary.already_delivered,
        "sent": summary.sent, "logged": summary.logged, "failed": summary.failed,
        "webhook": ("json" if settings.generic_json else "slack") if settings.webhook_url
        else "not configured (alerts logged only)",
        **({"error": summary.error} if summary.error else {}),
        **({"failed_keys": dg.MetadataValue.json(summary.failed_keys)} if summary.failed_keys else {}),
    }


@dg.asset(key=["alerts_sent"], deps=[PUBLISHED_MART], partitions_def=daily_partitions,
          backfill_policy=dg.BackfillPolicy.single_run(), group_name="delivery",
          description="Budget thresholds, at-risk workspaces and new anomalies from the published mart, "
                      "posted once each to COSTLINE_ALERT_WEBHOOK_URL (or logged); remembered in "
                      "ops.alert_log.")
def alerts_sent(context: dg.AssetExecutionContext, costline: CostlinePaths) -> dg.MaterializeResult:
    settings = AlertSettings.from_env()
    summary = send_alerts(costline.paths(), run_id=context.run_id, webhook_url=settings.webhook_url,
                          generic_json=settings.generic_json)
    if summary.error or summary.failed:
        context.log.warning(f"alerts: {summary.error or f'{summary.failed} not delivered, retried next run'}")
    return dg.MaterializeResult(metadata=_summary_metadata(summary, settings))


@dg.asset(key=["stakeholder_report"], deps=[PUBLISHED_MART], partitions_def=daily_partitions,
          backfill_policy=dg.BackfillPolicy.single_run(), group_name="delivery", kinds={"html"},
          description="report.html next to the mart: one self-contained page (headline numbers, six "
                      "charts, anomalies and budgets) for the latest month, readable offline.")
def stakeholder_report(context: dg.AssetExecutionContext, costline: CostlinePaths) -> dg.MaterializeResult:
    paths = costline.paths()
    try:
        out = write_report(paths, report_path(paths))
    except EmptyMartError as empty:
        # A day with no spend is valid input: there is simply nothing to report yet.
        context.log.warning(str(empty))
        return dg.MaterializeResult(metadata={"skipped": str(empty)})
    except ReportError as error:
        raise dg.Failure(description=str(error)) from None
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(out)),
                                          "bytes": out.stat().st_size})


def failure_details(instance: dg.DagsterInstance, run_id: str) -> tuple[list[str], list[str], bool]:
    """Failed blocking checks, failed steps, and whether the run published the mart."""
    checks, steps, published = [], [], False
    records = instance.get_records_for_run(run_id, of_type={
        dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.ASSET_MATERIALIZATION}).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                line = f"{evaluation.check_name} on {evaluation.asset_key.to_user_string()}"
                checks.append(line + (f" ({evaluation.description[:300]})" if evaluation.description else ""))
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            message = (error.message if error else "failed").strip().splitlines()
            steps.append(f"{event.step_key}: {message[0] if message else 'failed'}")
        elif event.asset_key == PUBLISHED_MART:
            published = True
    return checks, steps, published


@dg.run_failure_sensor(name="run_failure_alert_sensor", monitored_jobs=[costline_daily_job],
                       default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Alerts when a daily run fails: which blocking check or step, and that "
                                   "the previous mart is still published.")
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, costline: CostlinePaths):
    run = context.dagster_run
    if run.job_name != DAILY_JOB:
        return dg.SkipReason(f"{run.job_name} is not the daily job")
    checks, steps, published = failure_details(context.instance, run.run_id)
    if published:
        # The mart went out; what failed came after it (the report, say): still worth a line.
        steps = [f"after publishing the new mart: {step}" for step in steps] or ["after publishing"]
    summary = notify_run_failure(costline.paths(), run.run_id, checks, steps)
    if summary.error:
        return dg.SkipReason(summary.error)
    return None


delivery_assets = [alerts_sent, stakeholder_report]
delivery_sensors = [run_failure_alert_sensor]

"""Getting the published mart to people: alerts and the stakeholder report, as Dagster pieces.

- `alerts_sent`: after `published_mart` and `gateway_enforcement`, budget, anomaly and failed
  enforcement alerts to the webhook (or the log).
- `stakeholder_report`: after `published_mart`, `$COSTLINE_WAREHOUSE_DIR/report.html`.
- `run_failure_alert_sensor`: a failed daily run (blocking check or step) alerts, for runs the
  daemon launched (`dagster dev`). The CLI and the sensor both read the run's RunSummary
  (orchestration/run_records.py) and send it through the one door,
  `reporting.alerts.alert_run_failure`; its key `run_failure|<run_id>` makes a run seen by
  both alert once.

Delivery reads the published mart and keeps its own state (delivery.duckdb): it never opens
warehouse.duckdb nor takes the warehouse lock, so it can run beside the next pipeline run.
Alerts never fail a run: delivery problems are logged and shown in the asset's metadata.
"""

import logging
from pathlib import Path

import dagster as dg

from ingestion.settings import Paths
from orchestration.automation import DAILY_JOB, HOURLY_JOB, costline_daily_job, costline_hourly_job
from orchestration.enforcement import GATEWAY_ENFORCEMENT
from orchestration.partitions import daily_partitions
from orchestration.publish import PUBLISHED_MART
from orchestration.resources import CostlinePaths
from orchestration.run_records import run_summary
from reporting.alerts import AlertSettings, AlertSummary, alert_run_failure, send_alerts
from reporting.report import ReportError, write_report
from reporting.report_data import EmptyMartError

log = logging.getLogger("costline.alerts")

REPORT_FILE = "report.html"


def report_path(paths: Paths) -> Path:
    return paths.warehouse_dir / REPORT_FILE


def report_command(paths: Paths, month: str | None = None, out: Path | None = None) -> Path:
    """`costline report [--month YYYY-MM] [--out FILE]`: raises ReportError with a one-line reason."""
    return write_report(paths, Path(out) if out else report_path(paths), month)


def _summary_metadata(summary: AlertSummary, settings: AlertSettings) -> dict:
    return {
        "decided": summary.decided,
        "already_delivered": summary.already_delivered,
        "sent": summary.sent,
        "logged": summary.logged,
        "failed": summary.failed,
        "webhook": ("json" if settings.generic_json else "slack")
        if settings.webhook_url
        else "not configured (alerts logged only)",
        **({"error": summary.error} if summary.error else {}),
        **({"failed_keys": dg.MetadataValue.json(summary.failed_keys)} if summary.failed_keys else {}),
    }


@dg.asset(
    key=["alerts_sent"],
    # After enforcement: a gateway call that failed is in the mart's enforcement_log by then.
    deps=[PUBLISHED_MART, GATEWAY_ENFORCEMENT],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="delivery",
    description="Budget thresholds, at-risk workspaces and new anomalies from the published mart, "
    "posted once each to COSTLINE_ALERT_WEBHOOK_URL (or logged); remembered in "
    "delivery.duckdb beside the mart.",
)
def alerts_sent(context: dg.AssetExecutionContext, costline: CostlinePaths) -> dg.MaterializeResult:
    settings = AlertSettings.from_env()
    summary = send_alerts(
        costline.paths(), run_id=context.run_id, webhook_url=settings.webhook_url, generic_json=settings.generic_json
    )
    if summary.error or summary.failed:
        context.log.warning(f"alerts: {summary.error or f'{summary.failed} not delivered, retried next run'}")
    return dg.MaterializeResult(metadata=_summary_metadata(summary, settings))


@dg.asset(
    key=["stakeholder_report"],
    deps=[PUBLISHED_MART],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="delivery",
    kinds={"html"},
    description="report.html next to the mart: one self-contained page (headline numbers, six "
    "charts, anomalies and budgets) for the latest month, readable offline.",
)
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
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(out)), "bytes": out.stat().st_size})


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    monitored_jobs=[costline_daily_job, costline_hourly_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts when a daily or hourly run fails: which blocking check or step, and that "
    "the previous mart is still published.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, costline: CostlinePaths):
    run = context.dagster_run
    if run.job_name not in (DAILY_JOB, HOURLY_JOB):
        return dg.SkipReason(f"{run.job_name} is not a costline pipeline job")
    # A run that published and then failed (the report, say) is still worth a line: the
    # summary's words say the new mart went out.
    summary = alert_run_failure(costline.paths(), run_summary(context.instance, run.run_id))
    if summary.error:
        return dg.SkipReason(summary.error)
    return None


delivery_assets = [alerts_sent, stakeholder_report]
delivery_sensors = [run_failure_alert_sensor]

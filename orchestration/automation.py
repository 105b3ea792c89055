"""The daily and hourly jobs and their schedules.

- `costline_daily_schedule`, 02:00 UTC: yesterday's partition, whole. Late uploads of the
  previous evening have landed by then; this run finalises the day (no longer partial).
- `costline_hourly_schedule`, five past each hour: the partition of the hour that just
  closed (today; yesterday at 00:05). The day folders give only their new files
  (ingestion/day_folders.py), dbt rebuilds that day, and the alerts judge the closed hour,
  month-to-date budgets and today's retry rate. No report: the daily run writes it.

Both runs take the one warehouse lock; the hourly tick also stands aside while a daily run
is queued or running, so the two never overlap.
"""

from datetime import timedelta

import dagster as dg

from orchestration.partitions import daily_partitions

DAILY_JOB = "costline_daily_job"
HOURLY_JOB = "costline_hourly_job"
DAILY_SCHEDULE, HOURLY_SCHEDULE = "costline_daily_schedule", "costline_hourly_schedule"
HOURLY_MINUTE = 5  # files of the hour just closed have a few minutes to land
# The stakeholder report is a daily page; the hourly run leaves it to the daily one.
REPORT_ASSET = dg.AssetKey(["stakeholder_report"])
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

# Every asset and check, one partition (or a range of them, as one run) at a time. The
# in-process executor: DuckDB is one writer, and re-importing the code per step costs ~4.5 s.
costline_daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Load the day's inputs, build the dbt models, run the quality gate, publish the mart, "
    "enforce hard limits at the gateway, deliver alerts and the report.",
)

costline_hourly_job = dg.define_asset_job(
    HOURLY_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(REPORT_ASSET),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Today so far: the files that arrived since the last run, the day rebuilt, the gate, "
    "the mart published with today marked partial, hard limits enforced, and the intraday alerts.",
)


def yesterday_key(scheduled: dg.ScheduleEvaluationContext) -> str:
    return (scheduled.scheduled_execution_time - timedelta(days=1)).date().isoformat()


def closed_hour_key(scheduled_time) -> str:
    """The partition of the hour that ended just before the tick (the day at 00:05 is yesterday)."""
    closed = scheduled_time.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return closed.date().isoformat()


@dg.schedule(
    name=DAILY_SCHEDULE,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    job=costline_daily_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Yesterday, whole, at 02:00 UTC: the day is final from this run on.",
)
def costline_daily_schedule(context: dg.ScheduleEvaluationContext):
    day = yesterday_key(context)
    return dg.RunRequest(run_key=f"daily-{day}", partition_key=day)


@dg.schedule(
    name=HOURLY_SCHEDULE,
    cron_schedule=f"{HOURLY_MINUTE} * * * *",
    execution_timezone="UTC",
    job=costline_hourly_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Five past each hour: today's new files, the mart with today partial, the intraday alerts.",
)
def costline_hourly_schedule(context: dg.ScheduleEvaluationContext):
    busy = context.instance.get_runs(filters=dg.RunsFilter(job_name=DAILY_JOB, statuses=ACTIVE_STATUSES), limit=1)
    if busy:
        return dg.SkipReason(f"daily run {busy[0].run_id} is queued or running; the next hourly tick catches up")
    hour = context.scheduled_execution_time.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return dg.RunRequest(
        run_key=f"hourly-{hour:%Y-%m-%dT%H}", partition_key=closed_hour_key(context.scheduled_execution_time)
    )

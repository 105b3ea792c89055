"""The daily job and its schedule."""

import dagster as dg

from orchestration.partitions import daily_partitions

DAILY_JOB = "costline_daily_job"

# Every asset and check, one partition (or a range of them, as one run) at a time. The
# in-process executor: DuckDB is one writer, and re-importing the code per step costs ~4.5 s.
costline_daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Load the day's inputs, build the dbt models, run the quality gate, publish the mart.",
)

# 02:00 UTC for the day before: late uploads of the previous evening have landed by then.
costline_daily_schedule = dg.build_schedule_from_partitioned_job(
    costline_daily_job,
    hour_of_day=2,
    minute_of_hour=0,
    name="costline_daily_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

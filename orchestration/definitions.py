"""The costline code location: `dagster dev` (workspace.yaml) and the `costline` CLI load this."""

import dagster as dg

from orchestration.automation import (
    costline_daily_job,
    costline_daily_schedule,
    costline_hourly_job,
    costline_hourly_schedule,
)
from orchestration.delivery import delivery_assets, delivery_sensors
from orchestration.enforcement import build_gateway_enforcement
from orchestration.postgres_publish import build_postgres_mart
from orchestration.publish import build_published_mart
from orchestration.quality import quality_checks
from orchestration.resources import CostlinePaths, WarehouseLock
from orchestration.sources import source_assets, writers_by_table
from orchestration.spark_engine import dbt_engine
from orchestration.transform import build_dbt_assets, dbt_resource, mart_model_names, prepare_dbt_manifest


@dg.definitions
def defs() -> dg.Definitions:
    engine = dbt_engine()
    manifest = prepare_dbt_manifest(engine)
    paths = CostlinePaths()
    mart_tables = mart_model_names(manifest)
    return dg.Definitions(
        assets=[
            *source_assets,
            build_dbt_assets(manifest, writers_by_table(), engine),
            build_published_mart(mart_tables),
            build_postgres_mart(mart_tables),
            build_gateway_enforcement(mart_tables),
            *delivery_assets,
        ],
        asset_checks=quality_checks,
        jobs=[costline_daily_job, costline_hourly_job],
        schedules=[costline_daily_schedule, costline_hourly_schedule],
        sensors=delivery_sensors,
        # warehouse_lock: one writer per warehouse, held for the whole run by every run that
        # opens warehouse.duckdb, whoever launched it (CLI, schedule, UI, daemon).
        resources={"dbt": dbt_resource(), "costline": paths, "warehouse_lock": WarehouseLock(costline=paths)},
        executor=dg.in_process_executor,
    )

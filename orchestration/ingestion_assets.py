"""Raw-layer assets: each input source lands in `raw.*` of the warehouse, one day at a time."""
import logging
import time

import dagster as dg

from ingestion.outcomes import load_outcomes_folder
from ingestion.prices import refresh_model_prices
from ingestion.reference import load_reference_inputs
from ingestion.telemetry import load_telemetry_folder
from ingestion.warehouse import connect
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import CostlinePaths

log = logging.getLogger("costline.ingestion")

RAW_GROUP = "raw"
_partitioned = dict(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=RAW_GROUP,
    kinds={"duckdb", "python"},
)


@dg.asset(key=["raw", "telemetry_calls"], **_partitioned,
          description="Telemetry call records of the day folders in the run window, validated, "
                      "deduplicated on call_id; bad records go to raw.quarantine.")
def raw_telemetry_calls(context: dg.AssetExecutionContext, costline: CostlinePaths) -> dg.MaterializeResult:
    paths = costline.paths()
    days = window_days(context.partition_time_window)
    totals = dict(files=0, records_read=0, accepted=0, quarantined=0, duplicates=0)
    event_days: list = []
    with connect(paths.warehouse_db) as con:
        for day in days:
            started = time.monotonic()
            folder = load_telemetry_folder(con, paths, day, context.run_id)
            totals["files"] += len(folder.files)
            for key in ("records_read", "accepted", "quarantined", "duplicates"):
                totals[key] += getattr(folder, key)
            event_days += [d for d in (folder.min_event_day, folder.max_event_day) if d]
            log.info("telemetry %s: %d files, %d records (%d accepted, %d quarantined, %d duplicates) in %.1fs",
                     day, len(folder.files), folder.records_read, folder.accepted, folder.quarantined,
                     folder.duplicates, time.monotonic() - started)
    metadata = {**totals}
    if event_days:
        metadata["first_event_day"] = min(event_days).isoformat()
        metadata["last_event_day"] = max(event_days).isoformat()
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(key=["raw", "outcomes"], deps=[raw_telemetry_calls], **_partitioned,
          description="Outcome records (thumbs, resolutions, evals) of the day folders in the run window.")
def raw_outcomes(context: dg.AssetExecutionContext, costline: CostlinePaths) -> dg.MaterializeResult:
    paths = costline.paths()
    totals = dict(files=0, records_read=0, accepted=0, quarantined=0, duplicates=0)
    with connect(paths.warehouse_db) as con:
        for day in window_days(context.partition_time_window):
            folder = load_outcomes_folder(con, paths, day, context.run_id)
            totals["files"] += len(folder.files)
            for key in ("records_read", "accepted", "quarantined", "duplicates"):
                totals[key] += getattr(folder, key)
    log.info("outcomes: %d files, %d records (%d accepted, %d quarantined)", totals["files"],
             totals["records_read"], totals["accepted"], totals["quarantined"])
    return dg.MaterializeResult(metadata=totals)


@dg.multi_asset(
    specs=[dg.AssetSpec(["raw", name], kinds={"duckdb", "csv"}, group_name=RAW_GROUP,
                        partitions_def=daily_partitions)
           for name in ("deployments", "budgets", "workspaces")],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="deployments, budgets.csv and workspaces.csv, replaced whole each run.",
)
def raw_reference_inputs(context: dg.AssetExecutionContext, costline: CostlinePaths):
    paths = costline.paths()
    with connect(paths.warehouse_db) as con:
        loaded = load_reference_inputs(con, paths, context.run_id)
    log.info("reference inputs: %d deployments, %d budgets, %d workspace mappings, %d quarantined",
             loaded.deployments, loaded.budgets, loaded.workspaces, loaded.quarantined)
    for name in ("deployments", "budgets", "workspaces"):
        yield dg.MaterializeResult(asset_key=["raw", name],
                                   metadata={"rows": getattr(loaded, name), "quarantined": loaded.quarantined})


@dg.asset(key=["raw", "model_prices"], deps=[raw_telemetry_calls], **_partitioned,
          description="Effective-dated list prices (genai-prices data) for every model seen in telemetry.")
def raw_model_prices(context: dg.AssetExecutionContext, costline: CostlinePaths) -> dg.MaterializeResult:
    paths = costline.paths()
    overrides = paths.input_dir / "prices.csv"
    with connect(paths.warehouse_db) as con:
        refresh = refresh_model_prices(con, overrides if overrides.exists() else None, load_id=context.run_id)
    if refresh.unpriced:
        log.warning("no price for %s: priced at zero until prices.csv or genai-prices knows them",
                    ", ".join(f"{p}/{m}" for p, m in refresh.unpriced))
    return dg.MaterializeResult(metadata={
        "models_seen": refresh.models_seen,
        "models_priced": refresh.models_priced,
        "unpriced": ", ".join(f"{p}/{m}" for p, m in refresh.unpriced) or "none",
        "price_data_version": refresh.price_data_version,
    })


ingestion_assets = [raw_telemetry_calls, raw_outcomes, raw_reference_inputs, raw_model_prices]

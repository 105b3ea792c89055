"""Raw-layer assets: one per source of the registry, each keyed `raw/<source name>`.

The wiring is generic: what a source reads, which raw tables it writes and which sources it
loads after all come from `ingestion/sources/`. `writers_by_table` hands the same facts to
the dbt translator, so every dbt source is drawn as the asset that writes it.
"""

import logging

import dagster as dg

from ingestion.sources.base import Source
from ingestion.sources.registry import SOURCES, check_registry, writers_of
from ingestion.warehouse import connect
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import CostlinePaths, WarehouseLock

log = logging.getLogger("costline.ingestion")

RAW_GROUP = "raw"


def source_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey([RAW_GROUP, source.name])


def source_asset(source: Source) -> dg.AssetsDefinition:
    key = source_key(source)
    checks = (
        [
            dg.AssetCheckSpec(
                source.warning_check,
                asset=key,
                description=f"{source.name} loaded without problems (a failure publishes "
                "what the other sources gave and says why here).",
            )
        ]
        if source.warning_check
        else []
    )

    @dg.asset(
        key=key,
        deps=[dg.AssetKey([RAW_GROUP, name]) for name in source.after],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=RAW_GROUP,
        kinds={"duckdb", *source.asset_kinds},
        check_specs=checks,
        description=f"{source.description} Writes raw.{', raw.'.join(source.writes)}.",
    )
    def _load(context: dg.AssetExecutionContext, costline: CostlinePaths, warehouse_lock: WarehouseLock):
        paths = costline.paths()
        with connect(paths.warehouse_db) as con:
            loaded = source.load(con, paths, window_days(context.partition_time_window), context.run_id)
        yield dg.MaterializeResult(metadata={"rows": loaded.rows, "quarantined": loaded.quarantined, **loaded.metadata})
        if source.warning_check:
            yield dg.AssetCheckResult(
                check_name=source.warning_check,
                passed=not loaded.warnings,
                severity=dg.AssetCheckSeverity.WARN,
                description="; ".join(loaded.warnings) or None,
            )

    return _load


def writers_by_table() -> dict[str, list[dg.AssetKey]]:
    """Raw table -> the asset keys of the sources that write it (for the dbt translator)."""
    tables = dict.fromkeys(table for source in SOURCES for table in source.writes)
    return {table: [source_key(s) for s in writers_of(table)] for table in tables}


check_registry()
source_assets = [source_asset(source) for source in SOURCES]

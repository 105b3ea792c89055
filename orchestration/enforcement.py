"""Hard limits enforced at the gateway, as a Dagster step after publication.

`gateway_enforcement` runs after `published_mart` in the daily and hourly jobs: it calls
`enforcement.enforce` (plain Python: the published `hard_limit_status` against the
enforcement log, then the LiteLLM / webhook calls) and, when it wrote log rows, publishes the
mart again so `enforcement_log` in the mart holds this run's decisions. Enforcement never
fails a run: a gateway that refuses is a `failed` row, which `alerts_sent` (after this step)
raises as an alert, and the next run tries again. No secret reaches the metadata.
"""

import dagster as dg

from enforcement.enforce import enforce
from enforcement.settings import EnforceSettings
from orchestration.partitions import daily_partitions
from orchestration.publish import PUBLISHED_MART, publish_mart
from orchestration.resources import CostlinePaths, WarehouseLock

GATEWAY_ENFORCEMENT = dg.AssetKey(["gateway_enforcement"])


def build_gateway_enforcement(mart_tables: list[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=GATEWAY_ENFORCEMENT,
        deps=[PUBLISHED_MART],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="enforcement",
        description="Hard limits at the gateway: workspaces over their hard limit (hard_limit_status) "
        "blocked at LiteLLM or a signed webhook, unblocked when back under it; dry-run unless "
        "COSTLINE_ENFORCE=on; every decision and call in enforcement_log.",
    )
    def gateway_enforcement(
        context: dg.AssetExecutionContext, costline: CostlinePaths, warehouse_lock: WarehouseLock
    ) -> dg.MaterializeResult:
        paths = costline.paths()
        summary = enforce(paths, EnforceSettings.from_env(), run_id=context.run_id)
        republished = "no (nothing new in the log)"
        if summary.logged:
            # The log changed after the mart went out: publish again (the warehouse is this
            # run's, unchanged since), so readers see the decisions with the numbers behind them.
            try:
                publish_mart(paths, mart_tables, context.run_id)
                republished = "yes"
            except Exception as exc:  # the calls are made and logged; the next publish carries them
                republished = f"failed ({type(exc).__name__}); the next run publishes the log"
                context.log.warning(f"enforcement: mart not published again: {republished}")
        for problem in summary.problems:
            context.log.warning(f"enforcement: {problem}")
        if summary.error:
            context.log.warning(f"enforcement: {summary.error}")
        if summary.failed:
            context.log.warning(f"enforcement: {summary.failed} gateway calls failed; alerted, retried next run")
        return dg.MaterializeResult(
            metadata={
                "mode": summary.mode,
                "gateways": ", ".join(summary.gateways) or "none configured",
                "over_hard_limit": ", ".join(summary.over_limit) or "none",
                "decided": summary.decided,
                "dry_run": summary.dry_run,
                "sent": summary.sent,
                "failed": summary.failed,
                "unchanged": summary.unchanged,
                "republished": republished,
                **({"error": summary.error} if summary.error else {}),
            }
        )

    return gateway_enforcement

"""The costline code location: `dagster dev` (workspace.yaml) and the `costline` CLI load this."""
import dagster as dg

from orchestration.automation import costline_daily_job, costline_daily_schedule
from orchestration.billing_assets import billing_assets, billing_resources
from orchestration.delivery import delivery_assets, delivery_sensors
from orchestration.ingestion_assets import ingestion_assets
from orchestration.postgres_publish import build_postgres_mart
from orchestration.publish import build_published_mart
from orchestration.quality import quality_checks
from orchestration.resources import CostlinePaths
from orchestration.transform import build_dbt_assets, dbt_resource, mart_model_names, prepare_dbt_manifest


@dg.definitions
def defs() -> dg.Definitions:
    manifest = prepare_dbt_manifest()
    mart_tables = mart_model_names(manifest)
    return dg.Definitions(
        assets=[*ingestion_assets, *billing_assets, build_dbt_assets(manifest, _writers_by_table()),
                build_published_mart(mart_tables), build_postgres_mart(mart_tables), *delivery_assets],
        asset_checks=quality_checks,
        jobs=[costline_daily_job],
        schedules=[costline_daily_schedule],
        sensors=delivery_sensors,
        resources={"dbt": dbt_resource(), "costline": CostlinePaths(), **billing_resources},
        executor=dg.in_process_executor,
    )


def _writers_by_table() -> dict[str, list[dg.AssetKey]]:
    # Interim: which raw tables each ingestion asset writes (replaced by the source registry).
    telemetry, outcomes, prices = (dg.AssetKey(["raw", n]) for n in ("telemetry_calls", "outcomes", "model_prices"))
    reference = [dg.AssetKey(["raw", n]) for n in ("deployments", "budgets", "workspaces")]
    billing = dg.AssetKey(["raw", "billing_costs"])
    ledger = [telemetry, outcomes, reference[0], prices, billing]
    return {"telemetry_calls": [telemetry], "outcomes": [outcomes], "model_prices": [prices],
            **{key.path[-1]: [key] for key in reference},
            "billing_costs": [billing], "billing_usage": [dg.AssetKey(["raw", "billing_usage"])],
            "quarantine": ledger, "source_files": ledger}

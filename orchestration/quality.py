"""The quality gate: great-expectations 1.x validations in Dagster asset checks.

Each check has one owner. Row rules (not null, non-negative money, unique grain, accepted
values) are dbt tests next to the models; a failing one fails the dbt step, so nothing after
it is published. This gate owns what no single model can see: the file ledger and the
cross-table reconciliations (daily = hourly = the attributed calls; cost = the bill). Usage
and credits are checked apart: usage cost (never negative) equals the bill's usage lines and
credits equal its credit lines, so a legitimate credit, however large, never blocks.

Each check queries a narrow, aggregated frame for the days this run rebuilt (never the whole
history, never the full call table in pandas) and validates it with GX. Blocking checks stop
`published_mart`, so the previous mart stays published when one fails.
"""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from ingestion.warehouse import connect
from orchestration.partitions import window_days
from orchestration.resources import CostlinePaths, WarehouseLock
from orchestration.run_window import event_days_loaded_by, rebuild_window

# Check names are constants: the CLI and tests name failed checks with them.
LEDGER_BALANCED = "telemetry_ledger_balanced"
COST_TOTALS_RECONCILE = "cost_totals_reconcile"
BILL_EQUALS_COST = "cost_equals_bill"
CREDITS_EQUAL_BILL = "credits_equal_bill"
CALLS_PRICED = "every_call_priced"

DAILY_SPEND = dg.AssetKey(["marts", "daily_spend"])
TELEMETRY = dg.AssetKey(["raw", "telemetry_files"])
# The stored per-call table (int_calls_priced is a view that would price the window again).
CALLS_PRICED_ASSET = dg.AssetKey(["intermediate", "int_calls_attributed"])


@dataclass(frozen=True)
class Expectation:
    """A GX expectation by class name and arguments: built fresh for every suite."""

    type: str
    kwargs: dict


@dataclass(frozen=True)
class Validation:
    success: bool
    failures: list[str]


def validate_frame(name: str, frame: pd.DataFrame, expectations: list[Expectation]) -> Validation:
    """Run GX expectations on a small frame; return success and a readable list of failures."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx  # 4-5 s to import: only when a check runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(f"costline_{name}")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("run_window")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name=name)
    for spec in expectations:
        suite.add_expectation(getattr(gx.expectations, spec.type)(**spec.kwargs))
    result = batch.validate(suite)
    failures = []
    for item in result.results:
        if not item.success:
            detail = item.result or {}
            examples = detail.get("partial_unexpected_list") or detail.get("observed_value")
            failures.append(
                f"{item.expectation_config.type}"
                f"({', '.join(f'{k}={v}' for k, v in item.expectation_config.kwargs.items() if k not in ('batch_id',))})"
                f": unexpected {examples}"
            )
    return Validation(bool(result.success), failures)


def check_window(context: dg.AssetCheckExecutionContext, warehouse_db: Path) -> tuple[date, date]:
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure("the quality gate runs inside a partitioned run (a day or a range of days)")
    partition_days = window_days(context.partition_time_window)
    return rebuild_window(partition_days, event_days_loaded_by(context.run.run_id, warehouse_db))


def _frame(warehouse_db: Path, sql: str, params: list) -> pd.DataFrame:
    with connect(warehouse_db, read_only=True) as con:
        return con.execute(sql, params).df()


@dg.asset_check(
    asset=TELEMETRY,
    name=LEDGER_BALANCED,
    blocking=True,
    description="Per telemetry file loaded in this run: records read = accepted + quarantined "
    "+ duplicates, and accepted equals the rows in raw.telemetry_calls.",
)
def telemetry_ledger_balanced(
    context: dg.AssetCheckExecutionContext, costline: CostlinePaths, warehouse_lock: WarehouseLock
):
    paths = costline.paths()
    frame = _frame(
        paths.warehouse_db,
        """
        select f.source_file,
               f.records_read - f.accepted - f.quarantined - f.duplicates as unaccounted,
               f.accepted - coalesce(c.rows_loaded, 0) as accepted_minus_loaded
        from raw.source_files f
        left join (select source_file, count(*) as rows_loaded from raw.telemetry_calls group by 1) c
          using (source_file)
        where f.input = 'telemetry' and f.load_id = ?""",
        [context.run.run_id],
    )
    validation = validate_frame(
        LEDGER_BALANCED,
        frame,
        [
            Expectation("ExpectColumnValuesToBeBetween", dict(column="unaccounted", min_value=0, max_value=0)),
            Expectation(
                "ExpectColumnValuesToBeBetween", dict(column="accepted_minus_loaded", min_value=0, max_value=0)
            ),
        ],
    )
    return dg.AssetCheckResult(
        passed=validation.success,
        description="; ".join(validation.failures) or None,
        metadata={"files_checked": len(frame)},
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            COST_TOTALS_RECONCILE,
            asset=DAILY_SPEND,
            blocking=True,
            description="Per day: daily_spend, hourly_spend and the attributed calls (plus "
            "unattributed billed spend) total the same cost_usd exactly, and "
            "daily and hourly count the same calls and requests.",
        ),
        dg.AssetCheckSpec(
            BILL_EQUALS_COST,
            asset=DAILY_SPEND,
            blocking=True,
            description="Per billed day and provider: sum(cost_usd) equals the bill's usage lines exactly.",
        ),
        dg.AssetCheckSpec(
            CREDITS_EQUAL_BILL,
            asset=DAILY_SPEND,
            blocking=True,
            description="Per billed day and provider: sum(credits_usd) equals the bill's credit lines "
            "exactly (credits spread apart from usage; a negative net is legitimate).",
        ),
        dg.AssetCheckSpec(
            CALLS_PRICED,
            asset=CALLS_PRICED_ASSET,
            blocking=False,
            description="Every call has a price (or a caller-reported cost). Unknown models "
            "are priced at zero: add them to prices.csv.",
        ),
    ],
)
def spend_gate(context: dg.AssetCheckExecutionContext, costline: CostlinePaths, warehouse_lock: WarehouseLock):
    paths = costline.paths()
    window = check_window(context, paths.warehouse_db)
    params = [window[0], window[1]]

    # Exact: every amount is DECIMAL(18, 6) and the bill split assigns whole micro-dollars.
    totals = _frame(
        paths.warehouse_db,
        """
        with d as (select day, sum(cost_usd) as c, sum(api_calls) as calls, sum(requests) as requests,
                          sum(credits_usd) as credits
                   from marts.daily_spend where day between ? and ? group by 1),
             h as (select cast(hour as date) as day, sum(cost_usd) as c, sum(api_calls) as calls,
                          sum(requests) as requests, sum(credits_usd) as credits
                   from marts.hourly_spend where cast(hour as date) between ? and ? group by 1),
             calls as (select day, sum(cost_usd) as c from intermediate.int_calls_attributed
                       where day between ? and ? group by 1),
             unattributed as (select day, sum(cost_usd) as c from intermediate.int_billing_costs_unattributed
                              where day between ? and ? group by 1),
             credits as (select day, sum(credits_usd) as c from intermediate.int_billing_credits_allocated
                         where day between ? and ? group by 1)
        select day,
               coalesce(d.c, 0) - coalesce(h.c, 0) as daily_minus_hourly,
               coalesce(d.c, 0) - coalesce(calls.c, 0) - coalesce(unattributed.c, 0) as daily_minus_calls,
               coalesce(d.calls, 0) - coalesce(h.calls, 0) as daily_minus_hourly_calls,
               coalesce(d.requests, 0) - coalesce(h.requests, 0) as daily_minus_hourly_requests,
               coalesce(d.credits, 0) - coalesce(h.credits, 0) as daily_minus_hourly_credits,
               coalesce(d.credits, 0) - coalesce(credits.c, 0) as daily_minus_allocated_credits
        from d full join h using (day) full join calls using (day) full join unattributed using (day)
             full join credits using (day)
        """,
        params * 5,
    )
    yield _check(
        COST_TOTALS_RECONCILE,
        totals,
        window,
        [
            Expectation("ExpectColumnValuesToBeBetween", dict(column=c, min_value=0, max_value=0))
            for c in (
                "daily_minus_hourly",
                "daily_minus_calls",
                "daily_minus_hourly_calls",
                "daily_minus_hourly_requests",
                "daily_minus_hourly_credits",
                "daily_minus_allocated_credits",
            )
        ],
    )

    # Usage and credits apart, from one frame: each bill line is one or the other
    # (int_billing_lines.is_credit), so together they account for the whole invoice.
    billed = _frame(
        paths.warehouse_db,
        """
        select b.day, b.provider,
               b.usage - coalesce(d.c, 0) as bill_minus_cost,
               b.credits - coalesce(d.credits, 0) as credit_lines_minus_credits
        from (select day, provider,
                     sum(case when is_credit then 0 else amount_usd end) as usage,
                     sum(case when is_credit then amount_usd else 0 end) as credits
              from intermediate.int_billing_lines
              where day between ? and ? group by 1, 2) b
        left join (select day, provider, sum(cost_usd) as c, sum(credits_usd) as credits from marts.daily_spend
                   where day between ? and ? group by 1, 2) d using (day, provider)""",
        params * 2,
    )
    yield _check(
        BILL_EQUALS_COST,
        billed,
        window,
        [Expectation("ExpectColumnValuesToBeBetween", dict(column="bill_minus_cost", min_value=0, max_value=0))],
    )
    yield _check(
        CREDITS_EQUAL_BILL,
        billed,
        window,
        [
            Expectation(
                "ExpectColumnValuesToBeBetween", dict(column="credit_lines_minus_credits", min_value=0, max_value=0)
            )
        ],
    )

    unpriced = _frame(
        paths.warehouse_db,
        """
        select provider, model, count(*) as calls from intermediate.int_calls_attributed
        where day between ? and ? and not is_priced group by 1, 2 order by 3 desc""",
        params,
    )
    yield _check(
        CALLS_PRICED,
        unpriced,
        window,
        [Expectation("ExpectTableRowCountToEqual", dict(value=0))],
        severity=dg.AssetCheckSeverity.WARN,
        extra={
            "unpriced_models": ", ".join(f"{r.provider}/{r.model} ({r.calls} calls)" for r in unpriced.itertuples())
            or "none"
        },
    )


def _check(
    name: str,
    frame: pd.DataFrame,
    window: tuple[date, date],
    expectations: list[Expectation],
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    extra: dict | None = None,
):
    validation = validate_frame(name, frame, expectations)
    asset = CALLS_PRICED_ASSET if name == CALLS_PRICED else DAILY_SPEND
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=name,
        passed=validation.success,
        severity=severity,
        description="; ".join(validation.failures)[:2000] or None,
        metadata={"window": f"{window[0]} .. {window[1]}", "rows_checked": len(frame), **(extra or {})},
    )


quality_checks = [telemetry_ledger_balanced, spend_gate]

"""A run's `RunSummary`, read from Dagster's event log.

The one reader of a run's outcome: the CLI (after its in-process run), the run-failure
sensor (a run the daemon launched) and `costline status` (the last runs) all call
`run_summary`, so they agree on which checks and steps failed and how each is named.
"""

import dagster as dg

from orchestration.publish import PUBLISHED_MART
from reporting.run_summary import RunSummary

# A check's description can be long (failing rows); the summary keeps its start.
DESCRIPTION_CHARS = 300


def run_summary(instance: dg.DagsterInstance, run_id: str) -> RunSummary:
    run = instance.get_run_by_id(run_id)
    failed, warned, passed, steps, published, run_error = [], [], 0, [], False, ""
    records = instance.get_records_for_run(
        run_id,
        of_type={
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.RESOURCE_INIT_FAILURE,
        },
        limit=None,
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                passed += 1
            elif evaluation.severity == dg.AssetCheckSeverity.ERROR:
                failed.append(_check_line(evaluation))
            else:
                warned.append(_check_line(evaluation))
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            steps.append(_step_line(event))
        elif event.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE:
            # Before any step: the WarehouseLock resource found the warehouse busy, say.
            run_error = run_error or _error_line(event.event_specific_data.error)
        elif event.asset_key == PUBLISHED_MART:
            published = True
    return RunSummary(
        run_id=run_id,
        status=run.status.value if run else "UNKNOWN",
        failed_checks=tuple(failed),
        warned_checks=tuple(warned),
        passed_checks=passed,
        failed_steps=tuple(steps),
        published=published,
        run_error=run_error,
    )


def _check_line(evaluation) -> str:
    line = f"{evaluation.check_name} on {evaluation.asset_key.to_user_string()}"
    if evaluation.description:
        line += f" ({evaluation.description[:DESCRIPTION_CHARS]})"
    return line


def _step_line(event: dg.DagsterEvent) -> str:
    error = event.step_failure_data.error
    while error is not None and error.cause is not None:  # the user-code error, not Dagster's wrapper
        error = error.cause
    message = (error.message if error else "failed").strip().splitlines()
    return f"{event.step_key}: {message[0] if message else 'failed'}"


def _error_line(error) -> str:
    """The first line of the user-code error; a dg.Failure is its description alone."""
    while error is not None and error.cause is not None:
        error = error.cause
    lines = (error.message if error else "").strip().splitlines()
    line = lines[0] if lines else "the run failed before its first step"
    if error is not None and error.cls_name == "Failure":
        line = line.split(": ", 1)[-1]
    return line

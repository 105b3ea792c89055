"""A two-step job on the WarehouseLock resource, for tests/test_warehouse_lock.py and the
second process it starts (`python -c`, with tests/ on sys.path)."""

import dagster as dg

from orchestration.locks import warehouse_lock
from orchestration.resources import CostlinePaths, WarehouseLock


def two_step_job(warehouse_dir: str, wait_seconds: float | None = None) -> tuple[dg.JobDefinition, list[int]]:
    """The job, and the list each step appends the lock's hold count to (2 inside the CLI)."""
    paths = CostlinePaths(warehouse_dir=str(warehouse_dir))
    held: list[int] = []

    def hold_count() -> int:
        return warehouse_lock(paths.paths()).lock_counter

    @dg.asset
    def first(warehouse_lock: WarehouseLock):
        held.append(hold_count())

    @dg.asset(deps=[first])
    def second(warehouse_lock: WarehouseLock):
        held.append(hold_count())

    job = dg.define_asset_job("two_steps", executor_def=dg.in_process_executor)
    defs = dg.Definitions(
        assets=[first, second],
        jobs=[job],
        resources={"warehouse_lock": WarehouseLock(costline=paths, wait_seconds=wait_seconds)},
    )
    return defs.resolve_job_def("two_steps"), held

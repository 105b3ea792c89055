"""Configuration resources. Values come from the environment at run time, never at import."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from filelock import Timeout

from ingestion.settings import Paths
from orchestration.locks import LOCK_WAIT_ENV, lock_wait_seconds, warehouse_lock


class CostlinePaths(dg.ConfigurableResource):
    """Where inputs and the warehouse live.

    Left empty, `COSTLINE_INPUT_DIR` / `COSTLINE_WAREHOUSE_DIR` (or the contract's defaults)
    are read when a step runs, so the CLI's `--input-dir` and `dagster dev` agree.
    """

    input_dir: str | None = None
    warehouse_dir: str | None = None

    def paths(self) -> Paths:
        return Paths.from_env(self.input_dir, self.warehouse_dir)


def busy_message(lock_file: str, waited: float) -> str:
    return (
        f"warehouse busy: another costline run holds {lock_file}; waited {waited:g}s. "
        "It runs again at the next schedule tick, or re-launch it when the other run ends"
    )


class WarehouseLock(dg.ConfigurableResource):
    """The warehouse lock, held for the whole run: every asset that opens warehouse.duckdb needs it.

    The jobs use the in-process executor, so Dagster initialises this once per run, before the
    first step, and releases it after the last. A run the daemon, the UI or the schedule launched
    waits up to `COSTLINE_LOCK_WAIT_SECONDS` (default 600) for another run (a `costline run`,
    say) and then fails with one line instead of a DuckDB lock error. Inside a `costline run` the
    CLI already holds the lock in this process: taking it again only counts up (same object).
    """

    costline: CostlinePaths
    # None: COSTLINE_LOCK_WAIT_SECONDS, read when the run starts.
    wait_seconds: float | None = None

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseLock"]:
        lock = warehouse_lock(self.costline.paths())
        # Read first, so a bad value is reported even when the warehouse is free.
        wait = self.wait_seconds if self.wait_seconds is not None else lock_wait_seconds(context.log)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            context.log.info(
                f"warehouse busy: another costline run holds {lock.lock_file}; waiting up to {wait:g}s "
                f"({LOCK_WAIT_ENV}) for it to finish"
            )
            started = time.monotonic()
            try:
                lock.acquire(timeout=wait)
            except Timeout:
                raise dg.Failure(description=busy_message(lock.lock_file, wait), allow_retries=False) from None
            context.log.info(f"warehouse lock taken after {time.monotonic() - started:.0f}s")
        try:
            yield self
        finally:
            lock.release()

"""The warehouse lock: one costline writer at a time (DuckDB allows one writing process).

A low-level module on purpose: the runner, `status`, delivery and the `WarehouseLock` resource
all take this lock, and none of them may import another's wiring to get it (that made an
import circle).

One lock object per lock file per process. filelock's locks are re-entrant per object, but two
objects on one path in one process are two `flock`s that refuse each other. The CLI takes the
lock before it runs the job in its own process, and the job's `WarehouseLock` resource takes it
again (possibly from another thread): with one shared, not thread-local object that second
acquire only counts up instead of deadlocking.
"""

import logging
import math
import os

from filelock import FileLock

from ingestion.settings import Paths

LOCK_FILE = ".costline.lock"
# How long a run launched by the Dagster daemon, UI or schedule waits for a busy warehouse.
LOCK_WAIT_ENV = "COSTLINE_LOCK_WAIT_SECONDS"
DEFAULT_LOCK_WAIT_SECONDS = 600.0


def warehouse_lock(paths: Paths) -> FileLock:
    """The process's one lock on `<warehouse>/.costline.lock`; pass the wait to `acquire(timeout=)`.

    `acquire()` without a timeout tries once (timeout 0) and raises filelock.Timeout when another
    process holds the lock. The OS drops the lock when its process dies, so none goes stale.
    """
    paths.ensure_warehouse_dir()
    # is_singleton: the same object for the same path (filelock keys it by the canonical path);
    # every call must pass the same options, so the wait is an argument of acquire, not here.
    return FileLock(str(paths.warehouse_dir / LOCK_FILE), timeout=0, thread_local=False, is_singleton=True)


def lock_wait_seconds(log: logging.Logger | None = None) -> float:
    """`COSTLINE_LOCK_WAIT_SECONDS` (0 or more), else the default; a bad value logs and falls back."""
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        (log or logging.getLogger("costline")).error(
            f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds (0 or more); "
            f"waiting the default {DEFAULT_LOCK_WAIT_SECONDS:g}s"
        )
        return DEFAULT_LOCK_WAIT_SECONDS
    return value

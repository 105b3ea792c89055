"""The warehouse lock: one costline writer at a time (DuckDB allows one writing process).

A low-level module on purpose: the runner, `status` and delivery all take this lock, and none
of them may import another's wiring to get it (that made an import circle).
"""

from filelock import FileLock

from ingestion.settings import Paths


def warehouse_lock(paths: Paths, wait_seconds: float = 0) -> FileLock:
    paths.ensure_warehouse_dir()
    return FileLock(str(paths.warehouse_dir / ".costline.lock"), timeout=wait_seconds)

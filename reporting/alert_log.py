"""The alert log: what was alerted, so each alert fires once. Delivery's own state.

It lives in `<warehouse>/delivery.duckdb`, not in warehouse.duckdb: delivery reads the
published mart and writes only here, so it never waits for (or blocks) a pipeline run, and the
warehouse lock stays the pipeline's. `.delivery.lock` beside it makes one delivery at a time
across processes (the CLI and the daemon's failure sensor may report the same run together):
it is held from reading the log to recording the outcome, so an alert is posted once.

One row per alert key. `status`:
- `sent`: the webhook accepted it; never sent again.
- `logged`: no webhook was configured; written to the log and never sent later either
  (configuring a URL afterwards does not replay history).
- `failed`: the webhook refused it or was unreachable after retries; tried again next run.
- `superseded`: a stronger alert for the same workspace and month went out (85% covers 50%).

`attempts` counts the runs that tried to deliver it. `summary` is the alert's one-line text
(workspace, numbers): no webhook URL or other secret is ever stored.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
from filelock import FileLock

log = logging.getLogger("costline.alerts")

STORE_FILE = "delivery.duckdb"
LOCK_FILE = ".delivery.lock"
TABLE = "alert_log"
# Where the log lived before it had a store of its own (adopted once, see adopt_legacy_log).
LEGACY_TABLE = "ops.alert_log"
DONE_STATUSES = ("sent", "logged", "superseded")

DDL = f"""
create table if not exists {TABLE} (
    alert_key        varchar primary key,
    kind             varchar not null,
    summary          varchar not null,
    status           varchar not null,
    attempts         integer not null,
    first_attempt_at timestamp not null,
    last_attempt_at  timestamp not null,
    sent_at          timestamp,
    run_id           varchar not null,
    last_error       varchar
)
"""


@dataclass(frozen=True)
class LogEntry:
    alert_key: str
    kind: str
    summary: str
    status: str
    error: str | None = None


def store_path(warehouse_dir: Path) -> Path:
    return Path(warehouse_dir) / STORE_FILE


def delivery_lock(warehouse_dir: Path, wait_seconds: float) -> FileLock:
    """One delivery at a time; `acquire()` raises filelock.Timeout after `wait_seconds`."""
    Path(warehouse_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    return FileLock(str(Path(warehouse_dir) / LOCK_FILE), timeout=wait_seconds)


@contextmanager
def open_alert_log(warehouse_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store, read-write, with its table; closed on exit (hold the delivery lock)."""
    Path(warehouse_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    con = duckdb.connect(str(store_path(warehouse_dir)))
    try:
        con.execute(DDL)
        yield con
    finally:
        con.close()


def done_keys(con: duckdb.DuckDBPyConnection, keys: list[str]) -> set[str]:
    """The keys among `keys` that must not be delivered again."""
    if not keys:
        return set()
    rows = con.execute(
        f"select alert_key from {TABLE} where alert_key in (select unnest(?)) and status in {DONE_STATUSES}", [keys]
    ).fetchall()
    return {key for (key,) in rows}


def record(con: duckdb.DuckDBPyConnection, entries: list[LogEntry], run_id: str, now: datetime) -> None:
    """Upsert one row per entry: the first attempt time is kept, attempts add up."""
    if not entries:
        return
    # Stored as naive UTC, like every timestamp in the warehouse.
    now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    batch = pa.Table.from_pylist(
        [
            {
                "alert_key": e.alert_key,
                "kind": e.kind,
                "summary": e.summary[:1000],
                "status": e.status,
                "attempts": 0 if e.status == "superseded" else 1,
                "sent_at": now if e.status == "sent" else None,
                "last_error": e.error,
            }
            for e in entries
        ],
        schema=pa.schema(
            [
                ("alert_key", pa.string()),
                ("kind", pa.string()),
                ("summary", pa.string()),
                ("status", pa.string()),
                ("attempts", pa.int32()),
                ("sent_at", pa.timestamp("us")),
                ("last_error", pa.string()),
            ]
        ),
    )
    con.register("alert_log_batch", batch)
    try:
        con.execute(
            f"""
            insert into {TABLE} as log
            select alert_key, kind, summary, status, attempts, ?, ?, sent_at, ?, last_error
            from alert_log_batch
            on conflict (alert_key) do update set
                kind = excluded.kind,
                summary = excluded.summary,
                status = excluded.status,
                attempts = log.attempts + excluded.attempts,
                last_attempt_at = excluded.last_attempt_at,
                sent_at = coalesce(log.sent_at, excluded.sent_at),
                run_id = excluded.run_id,
                last_error = excluded.last_error""",
            [now, now, run_id],
        )
    finally:
        con.unregister("alert_log_batch")


def adopt_legacy_log(warehouse_dir: Path, warehouse_db: Path) -> int:
    """Copy `ops.alert_log` of a warehouse from before the store existed, once, so an upgrade
    does not send every recent alert again. The pipeline calls it while it holds the
    warehouse (delivery itself never opens warehouse.duckdb); returns the rows adopted."""
    if store_path(warehouse_dir).exists() or not Path(warehouse_db).exists():
        return 0
    with delivery_lock(warehouse_dir, wait_seconds=0), open_alert_log(warehouse_dir) as con:
        quoted = "'" + str(warehouse_db).replace("'", "''") + "'"
        con.execute(f"attach {quoted} as legacy (read_only)")
        try:
            found = con.execute(
                "select count(*) from duckdb_tables() where database_name = 'legacy' "
                "and schema_name = 'ops' and table_name = 'alert_log'"
            ).fetchone()[0]
            if not found:
                return 0
            before = con.execute(f"select count(*) from {TABLE}").fetchone()[0]
            con.execute(f"insert into {TABLE} select * from legacy.{LEGACY_TABLE} on conflict do nothing")
            adopted = con.execute(f"select count(*) from {TABLE}").fetchone()[0] - before
        finally:
            con.execute("detach legacy")
    log.info(
        "alert log: adopted %d rows of %s from %s into %s",
        adopted,
        LEGACY_TABLE,
        warehouse_db,
        store_path(warehouse_dir),
    )
    return adopted

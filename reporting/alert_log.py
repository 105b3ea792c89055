"""`ops.alert_log` in warehouse.duckdb: what was alerted, so each alert fires once.

One row per alert key. `status`:
- `sent`: the webhook accepted it; never sent again.
- `logged`: no webhook was configured; written to the log and never sent later either
  (configuring a URL afterwards does not replay history).
- `failed`: the webhook refused it or was unreachable after retries; tried again next run.
- `superseded`: a stronger alert for the same workspace and month went out (85% covers 50%).

`attempts` counts the runs that tried to deliver it. `summary` is the alert's one-line text
(workspace, numbers): no webhook URL or other secret is ever stored.
"""
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pyarrow as pa

SCHEMA = "ops"
TABLE = f"{SCHEMA}.alert_log"
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


def ensure_alert_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(DDL)


def done_keys(con: duckdb.DuckDBPyConnection, keys: list[str]) -> set[str]:
    """The keys among `keys` that must not be delivered again."""
    if not keys:
        return set()
    rows = con.execute(f"select alert_key from {TABLE} where alert_key in (select unnest(?)) "
                       f"and status in {DONE_STATUSES}", [keys]).fetchall()
    return {key for (key,) in rows}


def record(con: duckdb.DuckDBPyConnection, entries: list[LogEntry], run_id: str, now: datetime) -> None:
    """Upsert one row per entry: the first attempt time is kept, attempts add up."""
    if not entries:
        return
    # Stored as naive UTC, like every timestamp in the warehouse.
    now = now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    batch = pa.Table.from_pylist([{
        "alert_key": e.alert_key, "kind": e.kind, "summary": e.summary[:1000], "status": e.status,
        "attempts": 0 if e.status == "superseded" else 1,
        "sent_at": now if e.status == "sent" else None, "last_error": e.error,
    } for e in entries], schema=pa.schema([
        ("alert_key", pa.string()), ("kind", pa.string()), ("summary", pa.string()), ("status", pa.string()),
        ("attempts", pa.int32()), ("sent_at", pa.timestamp("us")), ("last_error", pa.string()),
    ]))
    con.register("alert_log_batch", batch)
    try:
        con.execute(f"""
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
                last_error = excluded.last_error""", [now, now, run_id])
    finally:
        con.unregister("alert_log_batch")

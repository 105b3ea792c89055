"""The enforcement log: every decision to block or unblock, and every call it made.

It lives in `<warehouse>/enforcement.duckdb`, the enforcement's own store (as delivery has
delivery.duckdb): enforcement reads the published mart and writes only here. Publication
copies the table into the mart as `enforcement_log` (docs/CONTRACT.md). `.enforcement.lock`
beside it makes one enforcement at a time.

One row per decision carried out (or tried) on one gateway target, in `entry_id` order.
`result`:
- `dry_run`: COSTLINE_ENFORCE=dry-run; nothing was called.
- `sent`: the gateway accepted the call.
- `failed`: refused or unreachable after retries; tried again next run (same decision_id).
- `no_gateway`: the workspace has no configured gateway target; nothing to call.

What is in place is derived from the log alone: per (gateway, target), the action of the
newest `sent` or `no_gateway` row (with COSTLINE_ENFORCE=on) or of the newest `sent`,
`no_gateway` or `dry_run` row (dry-run). No row means never blocked. A decision equal to
what is in place writes nothing, so a re-run sends nothing again. A process killed between a
gateway's answer and the row's insert sends that call again next run (blocking a blocked team
changes nothing): at least once in that window, exactly once otherwise.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
from filelock import FileLock

STORE_FILE = "enforcement.duckdb"
LOCK_FILE = ".enforcement.lock"
TABLE = "enforcement_log"

# The published table's columns, in mart order (docs/CONTRACT.md, enforcement_log).
COLUMNS = """
    entry_id          bigint not null,
    logged_at         timestamp not null,
    run_id            varchar not null,
    decision_id       bigint not null,
    month             varchar not null,
    workspace         varchar not null,
    gateway           varchar not null,
    target            varchar not null,
    action            varchar not null,
    reason_code       varchar not null,
    reason            varchar not null,
    mode              varchar not null,
    result            varchar not null,
    attempts          integer not null,
    http_status       integer,
    error             varchar,
    spend_to_date_usd decimal(18, 6),
    hard_limit_usd    decimal(18, 6)
"""
DDL = f"create table if not exists {TABLE} ({COLUMNS})"
IN_PLACE_RESULTS = {"on": ("sent", "no_gateway"), "dry-run": ("sent", "no_gateway", "dry_run")}


@dataclass(frozen=True)
class InPlace:
    """The newest row that put a target where it is."""

    gateway: str
    target: str
    action: str
    workspace: str
    month: str
    hard_limit_usd: object


@dataclass(frozen=True)
class Pending:
    """The newest row of a target when it failed: its retry keeps the decision_id."""

    action: str
    decision_id: int


def store_path(warehouse_dir: Path) -> Path:
    return Path(warehouse_dir) / STORE_FILE


def enforcement_lock(warehouse_dir: Path, wait_seconds: float) -> FileLock:
    Path(warehouse_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    return FileLock(str(Path(warehouse_dir) / LOCK_FILE), timeout=wait_seconds)


@contextmanager
def open_log(warehouse_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    Path(warehouse_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    con = duckdb.connect(str(store_path(warehouse_dir)))
    try:
        con.execute(DDL)
        yield con
    finally:
        con.close()


def in_place(con: duckdb.DuckDBPyConnection, mode: str) -> dict[tuple[str, str], InPlace]:
    rows = con.execute(
        f"""select gateway, target, action, workspace, month, hard_limit_usd from {TABLE}
        where result in (select unnest(?))
        qualify row_number() over (partition by gateway, target order by entry_id desc) = 1""",
        [list(IN_PLACE_RESULTS[mode])],
    ).fetchall()
    return {(r[0], r[1]): InPlace(*r) for r in rows}


def pending(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], Pending]:
    rows = con.execute(
        f"""select gateway, target, action, decision_id, result from {TABLE}
        qualify row_number() over (partition by gateway, target order by entry_id desc) = 1"""
    ).fetchall()
    return {(g, t): Pending(a, d) for g, t, a, d, result in rows if result == "failed"}


def next_entry_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"select coalesce(max(entry_id), 0) + 1 from {TABLE}").fetchone()[0]


def append(con: duckdb.DuckDBPyConnection, row: dict) -> None:
    names = [line.split()[0] for line in COLUMNS.strip().splitlines()]
    con.execute(
        f"insert into {TABLE} ({', '.join(names)}) values ({', '.join('?' for _ in names)})",
        [row.get(name) for name in names],
    )

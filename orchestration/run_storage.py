"""Dagster's run record at a lower price per event: the SQLite event log, one engine per shard
and no fsync per event.

A costline run writes one event per asset, partition and check: ~3,400 for the 30-day demo,
~15,000 for a year's backfill. Dagster's SQLite storage opens a new SQLAlchemy engine and
connection for every write and commits each with an fsync (rollback journal, `synchronous =
FULL`): 8-15 ms an event on this project's machine, seconds to minutes a run. This storage
keeps one engine (a small connection pool) per database file for the life of the process and
turns fsync off: 2-3 ms an event, measured in `bench/`. Everything else is Dagster's own class.

Why no fsync is safe here: SQLite stays consistent when the process is killed (the writes are
in the OS's page cache; the crash tests SIGKILL runs mid-write); only a power loss or kernel
crash can lose the last events or damage the run history file, and the run history is not the
money: the warehouse (DuckDB, its own journal) and the published mart are untouched by it, and a
lost run record only means `costline status` does not list that run.

`runner.dagster_instance` writes a dagster.yaml that names this class (and its directory, in
full) for the instance costline creates under the warehouse (`<warehouse>/dagster`); an
instance of your own (`$DAGSTER_HOME`) keeps whatever storage its dagster.yaml names, and can
opt in with (`base_dir` defaults to `$DAGSTER_HOME/history/runs`, Dagster's own place):

    event_log_storage:
      module: orchestration.run_storage
      class: CostlineSqliteEventLogStorage
"""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as db
from dagster._config import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine


def default_base_dir() -> str:
    """Where Dagster's own SQLite storage keeps run shards: $DAGSTER_HOME/history/runs."""
    return str(Path(os.environ["DAGSTER_HOME"]) / "history" / "runs")


class CostlineSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SqliteEventLogStorage with one engine per shard and `synchronous = OFF`."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: dict[str, Engine] = {}
        self._engines_lock = threading.Lock()
        super().__init__(base_dir or default_base_dir(), inst_data=inst_data)

    @classmethod
    def config_type(cls) -> Any:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any):
        return cls(inst_data=inst_data, **dict(config_value or {}))

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = db.create_engine(
                    self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
                )
                db.event.listen(engine, "connect", _no_fsync)
                self._engines[shard] = engine
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's own `_connect`, with the engine kept instead of created for every write.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()  # wipe deletes the shard files the engines point at
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous = OFF")
    cursor.close()

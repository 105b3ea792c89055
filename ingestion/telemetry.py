"""Telemetry day folders into raw.telemetry_calls, with quarantine, dedup and the ledger.

A folder load has two phases. Staging reads every file into a temp table through the checks
in `validation_sql` (one set-based query per file; a failure there cannot touch raw tables).
Publishing then, in one transaction, deletes what this folder loaded before, inserts the first
copy of every valid call_id that no other folder holds yet, the quarantined records and one
ledger row per file. A crash before COMMIT leaves the previous state; a reload yields the
same rows.
"""
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from ingestion.load_result import FileLoad, FolderLoad, log_file_load, utc_now, write_ledger_rows
from ingestion.otlp import MalformedExport, flatten_export_request
from ingestion.settings import Paths
from ingestion.validation_sql import (
    INVALID_UTF8, LINES_SCHEMA, NOT_JSON, SOURCE, TAG_ALIAS_PREFIX, TELEMETRY_FIELDS,
    TELEMETRY_STAGE_COLUMNS, UnreadableFile, iter_raw_lines, sql_str, stage_json_lines,
    stage_lines_table, telemetry_checks_sql,
)

log = logging.getLogger("costline.ingestion")

INPUT = "telemetry"
STAGE = "_cl_telemetry_stage"
FILES = "_cl_telemetry_files"

# Longest suffix first: `x.otlp.jsonl` also ends in `.jsonl`, and OTLP wins.
FORMATS = (
    (".otlp.jsonl.gz", "otlp.jsonl.gz"),
    (".otlp.jsonl", "otlp.jsonl"),
    (".jsonl.gz", "jsonl.gz"),
    (".jsonl", "jsonl"),
    (".parquet", "parquet"),
)

RAW_COLUMNS = (
    "call_id", "request_id", "attempt", "started_at", "duration_ms", "provider", "model",
    "operation", "input_tokens", "output_tokens", "cache_read_input_tokens",
    "cache_creation_input_tokens", "reasoning_output_tokens", "status", "error_type",
    "service_tier", "workspace", "feature", "environment", "user_segment", "prompt_version",
    "project_id", "cost_usd", "tags",
)


@dataclass(frozen=True)
class InputFile:
    path: Path
    source_file: str   # relative to the input dir, as stored everywhere
    file_format: str
    file_bytes: int


def file_format(name: str) -> str | None:
    lower = name.lower()
    for suffix, fmt in FORMATS:
        if lower.endswith(suffix):
            return fmt
    return None


def list_input_files(folder: Path, input_dir: Path,
                     classify: Callable[[str], str | None] = file_format) -> list[InputFile]:
    """Loadable files of a day folder in name order.

    Names starting with '.' or '_' are skipped, as Spark and Hive do: that is how writers mark
    files still being written (`.part`, `_temporary`) and markers such as `_SUCCESS`.
    """
    out = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.is_file() or path.name.startswith((".", "_")):
            continue
        fmt = classify(path.name)
        if fmt is None:
            log.warning("%s: not a known input format, skipped", path.relative_to(input_dir).as_posix())
            continue
        out.append(InputFile(path, path.relative_to(input_dir).as_posix(), fmt, path.stat().st_size))
    return out


def _insert_checked(folder: date) -> str:
    return f"insert into {STAGE} select $file_seq, * from ({telemetry_checks_sql(SOURCE, folder)})"


def stage_parquet(con: duckdb.DuckDBPyConnection, f: InputFile, seq: int, folder: date) -> None:
    """Parquet columns that name a contract field or alias, as one JSON object per row.

    Turning each row into JSON text sends Parquet through exactly the checks JSONL gets; the
    only conversions are those JSON has no type for (zoned timestamps, tags stored as text).
    Columns that are not fields (prompts among them) are never read.
    """
    known = {k for field in TELEMETRY_FIELDS for k in field.keys}
    try:
        schema = con.execute("select column_name, column_type from "
                             "(describe select * from read_parquet($path))",
                             {"path": str(f.path)}).fetchall()
    except duckdb.Error as exc:
        raise UnreadableFile(str(exc).splitlines()[0][:160]) from exc
    items = []
    for name, col_type in schema:
        if name not in known and not (name.startswith(TAG_ALIAS_PREFIX) and len(name) > len(TAG_ALIAS_PREFIX)):
            continue
        col = '"' + name.replace('"', '""') + '"'
        if col_type == "TIMESTAMP WITH TIME ZONE":
            expr = f"strftime(make_timestamp(epoch_us({col})), '%Y-%m-%dT%H:%M:%S.%fZ')"
        elif col_type.startswith("TIMESTAMP") or col_type == "DATE":
            # No zone in the file: left without an offset so the check says so.
            expr = f"{col}::varchar"
        elif name == "tags" and col_type == "VARCHAR":
            expr = f"case when json_valid({col}) then {col}::json end"
        else:
            expr = col
        items.append(f"{sql_str(name)}: {expr}")
    line = f"to_json({{{', '.join(items)}}})" if items else "'{}'"
    source = (f"select file_row_number + 1 as source_line, 0 as sub_seq, {line} as line, "
              f"null::varchar as pre_reason from read_parquet($path, file_row_number = true)")
    try:
        con.execute(_insert_checked(folder).replace(SOURCE, source),
                    {"path": str(f.path), "file_seq": seq})
    except duckdb.Error as exc:
        raise UnreadableFile(str(exc).splitlines()[0][:160]) from exc


def otlp_lines_table(path: Path) -> pa.Table:
    """Each export request line flattened to flat JSON records (sub_seq numbers the spans)."""
    numbers, subs, lines, reasons = [], [], [], []

    def add(number: int, sub: int, line: str | None, reason: str | None) -> None:
        numbers.append(number)
        subs.append(sub)
        lines.append(line)
        reasons.append(reason)

    for number, raw in iter_raw_lines(path):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            add(number, 0, None, INVALID_UTF8)
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            add(number, 0, None, NOT_JSON)
            continue
        try:
            records = flatten_export_request(obj)
        except MalformedExport as exc:
            add(number, 0, None, f"malformed_otlp: {exc}")
            continue
        for sub, record in enumerate(records):
            add(number, sub, json.dumps(record), None)
    return pa.table([numbers, subs, lines, reasons], schema=LINES_SCHEMA)


def stage_file(con: duckdb.DuckDBPyConnection, f: InputFile, seq: int, folder: date) -> None:
    if f.file_format in ("jsonl", "jsonl.gz"):
        stage_json_lines(con, f.path, _insert_checked(folder), STAGE, seq)
    elif f.file_format == "parquet":
        stage_parquet(con, f, seq, folder)
    else:
        stage_lines_table(con, otlp_lines_table(f.path), _insert_checked(folder), seq)


def stage_unreadable(con: duckdb.DuckDBPyConnection, f: InputFile, seq: int, error: str) -> None:
    """A file that cannot be read at all counts as one quarantined record, so it shows."""
    con.execute(f"delete from {STAGE} where file_seq = ?", [seq])
    reason = (f"unreadable_file: the {f.file_format} file could not be read ({error}); "
              f"re-export or re-upload it")
    con.execute(f"insert into {STAGE} (file_seq, source_line, sub_seq, is_blank, reason) "
                f"values (?, null, 0, false, ?)", [seq, reason])


def publish(con: duckdb.DuckDBPyConnection, day: date, files: list[InputFile], load_id: str,
            loaded_at: datetime) -> list[FileLoad]:
    """Replace this folder's rows in one transaction; return the ledger rows written."""
    params = {"folder": day, "load_id": load_id, "loaded_at": loaded_at}
    cols = ", ".join(f"s.{c}" for c in RAW_COLUMNS)
    con.execute("begin transaction")
    try:
        con.execute("delete from raw.telemetry_calls where source_folder = $folder", {"folder": day})
        con.execute("delete from raw.quarantine where input = 'telemetry' and source_folder = $folder",
                    {"folder": day})
        con.execute("delete from raw.source_files where input = 'telemetry' and source_folder = $folder",
                    {"folder": day})
        # Only the call_ids this folder brings, so the probe streams over raw.telemetry_calls
        # with the small stage as the hash side, whatever the size of the history.
        con.execute(f"""
            create or replace temp table _cl_existing as
            select t.call_id from raw.telemetry_calls t
            semi join (select call_id from {STAGE} where reason is null and not is_blank) s
                   on t.call_id = s.call_id""")
        con.execute(f"""
            insert into raw.telemetry_calls
            select {cols}, $folder, f.source_file, s.source_line, $load_id, $loaded_at
            from {STAGE} s
            join {FILES} f using (file_seq)
            anti join _cl_existing e on s.call_id = e.call_id
            where s.reason is null and not s.is_blank
            qualify row_number() over (partition by s.call_id
                                       order by s.file_seq, s.source_line, s.sub_seq) = 1""", params)
        con.execute(f"""
            insert into raw.quarantine
            select 'telemetry', $folder, f.source_file, s.source_line, s.record_key, s.reason,
                   $load_id, $loaded_at
            from {STAGE} s join {FILES} f using (file_seq)
            where s.reason is not null""", params)
        loads = ledger(con, day, files)
        write_ledger_rows(con, INPUT, day, [(fl, f.file_bytes) for fl, f in zip(loads, files)],
                          load_id, loaded_at)
        con.execute("drop table if exists _cl_existing")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return loads


def ledger(con: duckdb.DuckDBPyConnection, day: date, files: list[InputFile]) -> list[FileLoad]:
    staged = {seq: (read, quarantined) for seq, read, quarantined in con.execute(f"""
        select file_seq, count(*) filter (where not is_blank),
               count(*) filter (where reason is not null)
        from {STAGE} group by file_seq""").fetchall()}
    loaded = {name: (n, lo, hi) for name, n, lo, hi in con.execute("""
        select source_file, count(*), min(started_at)::date, max(started_at)::date
        from raw.telemetry_calls where source_folder = $folder group by source_file""",
        {"folder": day}).fetchall()}
    out = []
    for seq, f in enumerate(files):
        read, quarantined = staged.get(seq, (0, 0))
        accepted, lo, hi = loaded.get(f.source_file, (0, None, None))
        out.append(FileLoad(f.source_file, f.file_format, read, accepted, quarantined,
                            read - accepted - quarantined, lo, hi))
    return out


def load_telemetry_folder(con: duckdb.DuckDBPyConnection, paths: Paths, day: date,
                          load_id: str) -> FolderLoad:
    """Load `$input/telemetry/<day>/`; a missing folder is an empty load and changes nothing."""
    folder = paths.telemetry_dir / day.isoformat()
    if not folder.is_dir():
        log.info("telemetry/%s: no folder", day.isoformat())
        return FolderLoad(INPUT, day, ())
    files = list_input_files(folder, paths.input_dir)
    loaded_at = utc_now()
    seconds: list[float] = []
    con.execute(f"create or replace temp table {STAGE} ({TELEMETRY_STAGE_COLUMNS})")
    con.execute(f"create or replace temp table {FILES} (file_seq INTEGER, source_file VARCHAR)")
    try:
        for seq, f in enumerate(files):
            started = time.perf_counter()
            con.execute(f"insert into {FILES} values (?, ?)", [seq, f.source_file])
            try:
                stage_file(con, f, seq, day)
            except UnreadableFile as exc:
                stage_unreadable(con, f, seq, str(exc)[:160])
            seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        loads = publish(con, day, files, load_id, loaded_at)
        publish_seconds = time.perf_counter() - started
    finally:
        con.execute(f"drop table if exists {STAGE}")
        con.execute(f"drop table if exists {FILES}")
    for fl, s in zip(loads, seconds):
        log_file_load(fl, s)
    log.info("telemetry/%s: published %d files in %.2f s", day.isoformat(), len(loads), publish_seconds)
    return FolderLoad(INPUT, day, tuple(loads))

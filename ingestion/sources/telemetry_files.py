"""Telemetry day folders into raw.telemetry_calls, with quarantine, dedup and the ledger.

Every format is brought to JSON lines and checked by the same SQL (`ingestion/rules/`): flat
JSONL (plain or gzip) is read by DuckDB, Parquet columns are rendered as JSON values by DuckDB, and
OTLP/JSON export requests are flattened in Python (`otel/spans.py`). `call_id` is unique in
raw.telemetry_calls: within a folder the first copy (file name order, then line) wins, and a
call_id another folder already loaded wins over this folder's copy.
"""

import json
import logging
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.day_folders import (
    FILES,
    STAGE,
    DayFolderLoader,
    InputFile,
    WindowLoad,
    landed_loader,
    load_day_folder,
    load_day_folders,
)
from ingestion.fields import TAG_ALIAS_PREFIX, TELEMETRY_FIELDS, TELEMETRY_STAGE_COLUMNS, column_names
from ingestion.json_sql import sql_str
from ingestion.ledger import FolderLoad
from ingestion.litellm_payloads import FEATURE_FROM_ENV, WORKSPACE_FROM_ENV, extract_payload_file
from ingestion.otel.echoes import ECHO_WINNERS_SQL
from ingestion.otel.spans import SPAN_COLUMNS, MalformedExport, count_spans, flatten_export_request
from ingestion.otel.tagging import FEATURE_ATTRIBUTES_ENV, WORKSPACE_ATTRIBUTES_ENV, Tagging
from ingestion.readers import (
    EXTRACTED,
    INVALID_UTF8,
    LINES_SCHEMA,
    NOT_JSON,
    UnreadableFile,
    extract_arrow,
    extract_file_lines,
    iter_raw_lines,
)
from ingestion.rules.telemetry_rules import telemetry_checks_sql
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad

log = logging.getLogger("costline.ingestion")

# Longest suffix first: `x.otlp.jsonl` also ends in `.jsonl`, and OTLP wins.
FORMATS = (
    (".otlp.jsonl.gz", "otlp.jsonl.gz"),
    (".otlp.jsonl", "otlp.jsonl"),
    (".litellm.jsonl", "litellm.jsonl"),
    (".jsonl.gz", "jsonl.gz"),
    (".jsonl", "jsonl"),
    (".parquet", "parquet"),
)

RAW_COLUMNS = column_names(TELEMETRY_FIELDS)


def file_format(name: str) -> str | None:
    lower = name.lower()
    for suffix, fmt in FORMATS:
        if lower.endswith(suffix):
            return fmt
    return None


def parquet_json_value(name: str, col_type: str) -> str:
    """One Parquet column as the JSON text the checks read (JSON has no type for zoned
    timestamps; tags may be stored as JSON text)."""
    col = '"' + name.replace('"', '""') + '"'
    if col_type == "TIMESTAMP WITH TIME ZONE":
        return f"to_json(strftime(make_timestamp(epoch_us({col})), '%Y-%m-%dT%H:%M:%S.%fZ'))"
    if col_type.startswith("TIMESTAMP") or col_type == "DATE":
        # No zone in the file: rendered without an offset, so the check says what to fix.
        return f"to_json({col}::varchar)"
    if name == "tags" and col_type == "VARCHAR":
        return f"(case when json_valid({col}) then {col}::json end)"
    return f"to_json({col})"


def parquet_extract_sql(schema: list[tuple[str, str]]) -> str:
    """Pass 1 for Parquet: each contract field's JSON text straight from its column.

    The same `<field>_j` values a JSON line of the row would give, without writing and parsing
    that line (3-4x faster), so Parquet goes through exactly the checks JSONL gets. Columns
    that name no contract field or alias (prompts among them) are never read. Line numbers
    are 1-based row numbers.
    """
    columns = dict(schema)

    def first_present(keys: tuple[str, ...]) -> str:
        alts = [f"nullif({parquet_json_value(k, columns[k])}, 'null')" for k in keys if k in columns]
        if not alts:
            return "null::json"
        return alts[0] if len(alts) == 1 else f"coalesce({', '.join(alts)})"

    aliases = [name for name in columns if name.startswith(TAG_ALIAS_PREFIX) and len(name) > len(TAG_ALIAS_PREFIX)]
    alias_entries = ", ".join(
        f"{{'k': {sql_str(name[len(TAG_ALIAS_PREFIX) :])}, 'p': 1, 'v': {parquet_json_value(name, columns[name])}}}"
        for name in aliases
    )
    alias_list = (
        f"[{alias_entries}]::struct(k varchar, p integer, v json)[]"
        if aliases
        else "null::struct(k varchar, p integer, v json)[]"
    )
    js = ",\n           ".join(f"{first_present(f.keys)} as {f.name}_j" for f in TELEMETRY_FIELDS)
    return f"""
    select file_row_number + 1 as source_line, 0 as sub_seq, null::varchar as pre_reason,
           false as is_blank, true as is_json, true as is_object, null::varchar as top_type,
           {alias_list} as _tag_aliases,
           {js}
    from read_parquet($path, file_row_number = true)"""


def extract_parquet(con: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    try:
        schema = con.execute(
            "select column_name, column_type from (describe select * from read_parquet($path))", {"path": str(f.path)}
        ).fetchall()
    except duckdb.Error as exc:
        raise UnreadableFile(str(exc).splitlines()[0][:160]) from exc
    try:
        con.execute(f"create or replace temp table {EXTRACTED} as {parquet_extract_sql(schema)}", {"path": str(f.path)})
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        raise UnreadableFile(str(exc).splitlines()[0][:160]) from exc


def _span_row(record: dict) -> dict:
    """The span facts of a flattened record, taken off it (they are not contract fields)."""
    facts = {name: record.pop(name, None) for name in SPAN_COLUMNS}
    facts["_model_key"] = str(record.get("model") or "").lower().rsplit("/", 1)[-1]
    # What two traces of one call agree on whatever library wrote them (tokens normalised).
    facts["_twin_key"] = json.dumps(
        [facts["_model_key"], record.get("status", "ok"), record.get("input_tokens"), record.get("output_tokens")]
    )
    return facts


SPAN_SCHEMA = pa.schema(
    [
        *LINES_SCHEMA,
        ("rid", pa.int64()),
        ("_dialect", pa.string()),
        ("_rank", pa.int32()),
        ("_trace_id", pa.string()),
        ("_span_id", pa.string()),
        ("_parent_span_id", pa.string()),
        ("_scope", pa.string()),
        ("_service", pa.string()),
        ("_start_ns", pa.int64()),
        ("_end_ns", pa.int64()),
        ("_response_id", pa.string()),
        ("_model_key", pa.string()),
        ("_twin_key", pa.string()),
    ]
)


def otlp_lines_table(con: duckdb.DuckDBPyConnection, path: Path, tagging: Tagging) -> pa.Table:
    """Each export request line flattened to flat JSON records (sub_seq numbers the spans),
    two spans of one provider call given one record (`otel/echoes.py`)."""
    rows: list[dict] = []

    def add(number: int, sub: int, line: str | None, reason: str | None, facts: dict | None = None) -> None:
        rows.append(
            {
                "source_line": number,
                "sub_seq": sub,
                "line": line,
                "pre_reason": reason,
                "rid": len(rows),
                **(facts or {}),
            }
        )

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
            records = flatten_export_request(obj, tagging)
        except MalformedExport as exc:
            add(number, 0, None, f"malformed_otlp: {exc}")
            continue
        for sub, record in enumerate(records):
            facts = _span_row(record)
            add(number, sub, json.dumps(record), None, facts)
    spans = pa.Table.from_pylist(rows, schema=SPAN_SCHEMA)
    con.register("_cl_spans", spans)
    try:
        return con.sql(ECHO_WINNERS_SQL).to_arrow_table().cast(LINES_SCHEMA)
    finally:
        con.unregister("_cl_spans")


def extract_file(con: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    """Pass 1 of one file into EXTRACTED, by its format (pass 2 runs once per batch)."""
    if f.file_format in ("jsonl", "jsonl.gz"):
        extract_file_lines(con, f.path, TELEMETRY_FIELDS, tag_aliases=True)
    elif f.file_format == "parquet":
        extract_parquet(con, f)
    elif f.file_format == "litellm.jsonl":
        extract_payload_file(con, f.path)
    else:
        extract_arrow(con, otlp_lines_table(con, f.path, Tagging.from_env()), TELEMETRY_FIELDS, tag_aliases=True)


CONTENT_COLUMNS = RAW_COLUMNS[1:]


def _first_difference(a: str, b: str) -> str:
    """SQL naming the first content column where rows `a` and `b` differ (NULL when none)."""
    whens = " ".join(f"when {a}.{c} is distinct from {b}.{c} then '{c}'" for c in CONTENT_COLUMNS)
    return f"(case {whens} end)"


CONFLICT_REASON = (
    "'duplicate_conflict: call_id ' || left(s.call_id, 40) || ' was already loaded from ' "
    "|| w.winner_file || ' line ' || w.winner_line || ' with a different ' || w.field "
    "|| '; the first copy counts and this one is not loaded. Give a different call a new "
    "call_id, or make the writer re-send identical records'"
)


def insert_calls(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """The first copy of every valid call_id that no other folder holds yet.

    First loaded wins. A later copy with the same content is a duplicate; a later copy with
    different content is a conflict the writer must hear about, so it is quarantined with
    `duplicate_conflict` (the ledger identity still holds: it counts as quarantined).
    """
    cols = ", ".join(f"s.{c}" for c in RAW_COLUMNS)
    # Later copies within the folder, ranked on narrow rows (a window over whole stage rows
    # costs ~0.3 GB more at 1M records); usually few, so both anti-joins build small.
    con.execute(f"""
        create or replace temp table _cl_repeats as
        select file_seq, source_line, sub_seq, call_id from {STAGE}
        where reason is null and not is_blank
        qualify row_number() over (partition by call_id
                                   order by file_seq, source_line, sub_seq) > 1""")
    # Call_ids other folders already hold: the stage is the hash side, so the probe streams
    # over raw.telemetry_calls whatever the size of the history, reading only the 8-byte
    # call_key; whole rows are fetched, and call_ids compared, for the (usually no) keys found.
    con.execute(f"""
        create or replace temp table _cl_existing_keys as
        select distinct t.call_key from raw.telemetry_calls t
        semi join (select call_key from {STAGE} where reason is null and not is_blank) s
               on t.call_key = s.call_key""")
    [(found,)] = con.execute("select count(*) from _cl_existing_keys").fetchall()
    con.execute(f"""
        create or replace temp table _cl_existing as
        select t.* from raw.telemetry_calls t
        semi join _cl_existing_keys k on t.call_key = k.call_key
        semi join (select call_id from {STAGE} where reason is null and not is_blank) s
               on t.call_id = s.call_id
        {"" if found else "limit 0"}""")
    # Conflicts: repeats whose content differs from the winning copy (within the folder: its
    # first copy; across folders: the row already loaded). Both sides are the few repeats.
    con.execute(f"""
        create or replace temp table _cl_conflicts as
        with firsts as (
            select s.*, f.source_file from {STAGE} s join {FILES} f using (file_seq)
            semi join _cl_repeats r on s.call_id = r.call_id
            where s.reason is null and not s.is_blank
            qualify row_number() over (partition by s.call_id
                                       order by s.file_seq, s.source_line, s.sub_seq) = 1
        ),
        later as (
            select s.* from {STAGE} s semi join _cl_repeats r using (file_seq, source_line, sub_seq)
        ),
        in_folder as (
            select l.file_seq, l.source_line, l.sub_seq, w.source_file as winner_file,
                   w.source_line as winner_line, {_first_difference("l", "w")} as field
            from later l join firsts w on l.call_id = w.call_id
        ),
        across as (
            select s.file_seq, s.source_line, s.sub_seq, w.source_file as winner_file,
                   w.source_line as winner_line, {_first_difference("s", "w")} as field
            from {STAGE} s join _cl_existing w on s.call_id = w.call_id
            where s.reason is null and not s.is_blank
        )
        select * from in_folder where field is not null
        union all
        select * from across where field is not null""")
    con.execute(f"""
        update {STAGE} s set reason = {CONFLICT_REASON}
        from _cl_conflicts w
        where s.file_seq = w.file_seq and s.source_line is not distinct from w.source_line
          and s.sub_seq = w.sub_seq""")
    con.execute(
        f"""
        insert into raw.telemetry_calls
        select {cols}, f.source_folder, f.source_file, s.source_line, $load_id, $loaded_at, s.call_key, s.request_key
        from {STAGE} s
        join {FILES} f using (file_seq)
        anti join _cl_existing e on s.call_id = e.call_id
        anti join _cl_repeats r using (file_seq, source_line, sub_seq)
        where s.reason is null and not s.is_blank""",
        {k: params[k] for k in ("load_id", "loaded_at")},
    )
    for table in ("_cl_existing_keys", "_cl_existing", "_cl_repeats", "_cl_conflicts"):
        con.execute(f"drop table {table}")


def calls_by_file(con: duckdb.DuckDBPyConnection, first: date, last: date) -> dict:
    return {
        name: (n, lo, hi)
        for name, n, lo, hi in con.execute(
            f"""
        select t.source_file, count(*), min(t.started_at)::date, max(t.started_at)::date
        from raw.telemetry_calls t
        semi join {FILES} f on t.source_folder = f.source_folder and t.source_file = f.source_file
        where t.source_folder between $first and $last
        group by t.source_file""",
            {"first": first, "last": last},
        ).fetchall()
    }


TELEMETRY_LOADER = DayFolderLoader(
    input="telemetry",
    files_under="telemetry/",
    fact_table="raw.telemetry_calls",
    stage_columns=TELEMETRY_STAGE_COLUMNS,
    classify=file_format,
    extract_file=extract_file,
    checks_sql=telemetry_checks_sql,
    insert_facts=insert_calls,
    accepted_by_file=calls_by_file,
)


def landed_calls_loader(input_name: str, landing: str, file_name: str) -> DayFolderLoader:
    """The loader of a fetched source's landed call pages (`<warehouse>/landing/<landing>/<day>/`):
    the telemetry file checks, dedup and ledger, replacing only that source's rows of a day."""
    return landed_loader(TELEMETRY_LOADER, input_name, landing, file_name)


def load_telemetry_folder(con: duckdb.DuckDBPyConnection, paths: Paths, day: date, load_id: str) -> FolderLoad:
    """Load `$input/telemetry/<day>/`; a missing folder is an empty load and changes nothing."""
    return load_day_folder(con, TELEMETRY_LOADER, paths.input_dir, paths.telemetry_dir / day.isoformat(), day, load_id)


SPANS_RECOGNISED = "telemetry_spans_recognised"


def unrecognised_span_files(paths: Paths, folder: FolderLoad) -> list[str]:
    """OTLP files of the folder that held spans but not one call: a dialect costline does not
    read yet. Only files that loaded zero records are opened again, so this costs nothing on a
    normal day."""
    found = []
    for f in folder.files:
        if not f.file_format.startswith("otlp") or f.records_read:
            continue
        spans = 0
        for _, raw in iter_raw_lines(paths.input_dir / f.source_file):
            try:
                spans += count_spans(json.loads(raw))
            except ValueError:
                continue
        if spans:
            found.append(
                f"{f.source_file}: {spans} spans, none recognised as an LLM call by any dialect costline reads "
                "(OTel GenAI, Anthropic SDK, OpenLLMetry, OpenInference, openlit, Langfuse); "
                "its spend is not counted until costline reads that instrumentation's attributes"
            )
    return found


class TelemetryFiles(Source):
    name = "telemetry_files"
    kind = "telemetry"
    tables = ("telemetry_calls",)
    # A file of spans none of which is a call: a new dialect must never vanish silently.
    warning_check = SPANS_RECOGNISED
    # OTLP attributes; LiteLLM's attributes for `.litellm.jsonl` files.
    settings_env = (WORKSPACE_ATTRIBUTES_ENV, FEATURE_ATTRIBUTES_ENV, WORKSPACE_FROM_ENV, FEATURE_FROM_ENV)
    description = (
        "Telemetry call records of the day folders in the run window (JSONL, gzip, Parquet, "
        "OTLP), validated, deduplicated on call_id; bad records go to raw.quarantine."
    )

    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        window = WindowLoad()
        warnings: list[str] = []
        started = time.monotonic()
        folders = [(day, paths.telemetry_dir / day.isoformat()) for day in days]
        for folder in load_day_folders(con, TELEMETRY_LOADER, paths.input_dir, folders, load_id):
            window.add(folder)
            warnings += unrecognised_span_files(paths, folder)
            if folder.files or folder.unchanged:
                log.info(
                    "telemetry %s: %d new files (%d unchanged, not read again), %d records "
                    "(%d accepted, %d quarantined, %d duplicates)",
                    folder.day,
                    len(folder.files),
                    folder.unchanged,
                    folder.records_read,
                    folder.accepted,
                    folder.quarantined,
                    folder.duplicates,
                )
        log.info(
            "telemetry: %d folders, %d new files (%d unchanged), %d records in %.1fs",
            len(days),
            window.files,
            window.unchanged_files,
            window.records_read,
            time.monotonic() - started,
        )
        for warning in warnings:
            log.warning("%s", warning)
        return SourceLoad(
            rows=window.accepted, quarantined=window.quarantined, metadata=window.metadata(), warnings=tuple(warnings)
        )

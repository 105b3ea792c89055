"""Pass 1: reading dropped JSON lines into one relation, set-based.

Every telemetry format (flat JSONL, gzip, Parquet, OTLP flattened in Python) and the outcomes
files are first brought to one relation, `(source_line, sub_seq, line, pre_reason)`: one JSON
object per record as text, the 1-based file line it came from, and a reason already known
before SQL saw it (invalid UTF-8, malformed OTLP). Pass 1 parses each line once and keeps only
the registry's fields as JSON text, in the temp table EXTRACTED (read with other files' through
the view EXTRACTED_BATCH). Line numbering (`with ordinality`) makes this pass single-threaded, so it does as little as possible; prompt text
and other unknown keys never leave it. (Parquet skips the line: its columns are rendered
straight into the same EXTRACTED columns.) Pass 2, the checks, is `ingestion/rules/`.
"""

import gzip
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.fields import TAG_ALIAS_PREFIX, Field
from ingestion.json_sql import BLANK_RE, OBJECT_START_RE, alias_tag_entries, json_path, sql_str

log = logging.getLogger("costline.ingestion")


# DuckDB's CSV reader splits lines and numbers them (`with ordinality`); chr(1) never occurs
# in valid JSON, so each line lands whole in one column. Bad UTF-8 and lines longer than
# MAX_FAST_LINE_BYTES land in the rejects table instead, which would shift the numbering:
# `extract_file_lines` then uses the Python reader. The line limit sizes the reader's
# buffers: 64 MB cost ~0.5 GB more peak memory on a 1M-line day than 8 MB.
MAX_FAST_LINE_BYTES = 8 << 20
READ_LINES_SQL = f"""
    select ordinality as source_line, 0 as sub_seq, line, null::varchar as pre_reason
    from read_csv($path, columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '', escape = '',
                  header = false, auto_detect = false, strict_mode = false,
                  max_line_size = {MAX_FAST_LINE_BYTES}, store_rejects = true,
                  rejects_table = '_cl_rejects', rejects_scan = '_cl_reject_scans')
         with ordinality
"""

# Reasons known before the checks run (pass 2 and the reference loader quote them too).
INVALID_UTF8 = "invalid_utf8: line is not valid UTF-8 text; write the file as UTF-8"
NOT_JSON = (
    "malformed_json: line is not valid JSON; write one complete JSON object per line "
    "(look for a truncated write or an unescaped newline)"
)
LINES_SCHEMA = pa.schema(
    [("source_line", pa.int64()), ("sub_seq", pa.int32()), ("line", pa.string()), ("pre_reason", pa.string())]
)


class UnreadableFile(Exception):
    """The file itself cannot be read (corrupt gzip or Parquet, permissions): one quarantine row."""


@dataclass(frozen=True)
class ByteScan:
    lines: int  # what a correct line reader must return, blank lines included
    bare_cr: int  # '\r' not followed by '\n': DuckDB would split there, Python would not
    ctrl_a: int  # chr(1), the delimiter: DuckDB would cut the line there
    tag_alias: bool = False  # `costline.tag.` occurs: alias tags need the whole line


def open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def scan_bytes(path: Path, chunk_size: int = 16 << 20) -> ByteScan:
    """Count what the fast readers need to be trusted: a C-speed pass, a few per GB."""
    newlines = bare_cr = ctrl_a = 0
    tag_alias = False
    marker = TAG_ALIAS_PREFIX.encode()
    last = tail = b""
    try:
        with open_bytes(path) as f:
            while chunk := f.read(chunk_size):
                newlines += chunk.count(b"\n")
                if b"\r" in chunk:
                    bare_cr += chunk.count(b"\r") - chunk.count(b"\r\n")
                if b"\x01" in chunk:
                    ctrl_a += chunk.count(b"\x01")
                if last == b"\r" and chunk[:1] == b"\n":
                    bare_cr -= 1  # a CRLF split across two chunks
                # The tail of the previous chunk catches a marker split across two chunks.
                tag_alias = tag_alias or marker in tail + chunk[: len(marker)] or marker in chunk
                tail = chunk[-len(marker) :]
                last = chunk[-1:]
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"{type(exc).__name__}: {exc}") from exc
    return ByteScan(
        lines=newlines + (1 if last not in (b"", b"\n") else 0), bare_cr=bare_cr, ctrl_a=ctrl_a, tag_alias=tag_alias
    )


def iter_raw_lines(path: Path):
    """(line number, bytes) split on '\\n' only, as editors and `wc -l` count lines."""
    try:
        with open_bytes(path) as f:
            for number, raw in enumerate(f, start=1):
                raw = raw.rstrip(b"\n")
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                yield number, raw
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"{type(exc).__name__}: {exc}") from exc


def python_lines_table(path: Path) -> pa.Table:
    """The careful reader for files the fast path cannot number exactly (Python per line)."""
    numbers, lines, reasons = [], [], []
    for number, raw in iter_raw_lines(path):
        numbers.append(number)
        try:
            lines.append(raw.decode("utf-8"))
            reasons.append(None)
        except UnicodeDecodeError:
            lines.append(None)
            reasons.append(INVALID_UTF8)
    return pa.table([numbers, [0] * len(numbers), lines, reasons], schema=LINES_SCHEMA)


EXTRACTED = "_cl_extracted"
# Pass 1 of many files: a view over each file's EXTRACTED (kept under its own name) that adds
# the file's `file_seq` and its folder day (FOLDER_COLUMN). Pass 2 runs once over it: its
# statement costs ~0.1 s to plan whatever the row count, which per file was most of a small
# day's load (ingestion/day_folders.py).
EXTRACTED_BATCH = "_cl_extracted_batch"
FOLDER_COLUMN = "_folder"


def read_json_sql(fields: tuple[Field, ...]) -> str:
    """Pass 1 straight from DuckDB's JSON reader: the contract keys as JSON-typed columns.

    It yields the same `<field>_j` text as `extract_sql` (both re-serialise values through the
    same JSON library; a JSON null becomes SQL NULL either way) at ~3x the speed, because the
    reader parses in parallel and never materialises the line. It cannot number blank lines,
    see the whole line (alias tags) or report a bad line, so `extract_file_lines` trusts it
    only when its row count equals the file's line count and it raised nothing.
    """
    keys = list(dict.fromkeys(k for f in fields for k in f.keys))
    alias = {k: f"_k{i}" for i, k in enumerate(keys)}
    columns = ", ".join(f"{sql_str(k)}: 'JSON'" for k in keys)
    renamed = ", ".join(f'"{k}" as {alias[k]}' for k in keys)

    def first_present(f: Field) -> str:
        alts = [f"nullif({alias[k]}, 'null')" for k in f.keys]
        return alts[0] if len(alts) == 1 else f"coalesce({', '.join(alts)})"

    js = ",\n           ".join(f"{first_present(f)} as {f.name}_j" for f in fields)
    return f"""
    with src as (
        select ordinality as source_line, {renamed}
        from read_json($path, format = 'newline_delimited', records = true,
                       maximum_object_size = {MAX_FAST_LINE_BYTES}, columns = {{{columns}}})
             with ordinality
    )
    select source_line, 0 as sub_seq, null::varchar as pre_reason, false as is_blank,
           true as is_json, true as is_object, null::varchar as top_type,
           null::struct(k varchar, p integer, v json)[] as _tag_aliases,
           {js}
    from src"""


def _try_read_json(con: duckdb.DuckDBPyConnection, path: Path, fields: tuple[Field, ...], scan: ByteScan) -> bool:
    try:
        con.execute(f"create or replace temp table {EXTRACTED} as {read_json_sql(fields)}", {"path": str(path)})
    except duckdb.Error as exc:
        # Malformed JSON, a non-object line, a duplicate key, bad UTF-8: the careful readers
        # name the line. Only the error type is logged: JSON errors quote the offending line.
        log.debug("%s: JSON reader declined (%s)", path.name, type(exc).__name__)
        return False
    rows = con.execute(f"select count(*) from {EXTRACTED}").fetchone()[0]
    if rows == scan.lines:
        return True
    log.debug("%s: %d lines but the JSON reader returned %d records (blank lines?)", path.name, scan.lines, rows)
    return False


def extract_file_lines(
    con: duckdb.DuckDBPyConnection, path: Path, fields: tuple[Field, ...], tag_aliases: bool = False
) -> str:
    """Pass 1 for one JSONL file into EXTRACTED; returns the reader used ("json", "duckdb" or
    "python").

    The JSON reader serves the common case, a file of one JSON object per line and nothing
    else. Otherwise the line reader (DuckDB CSV) is trusted only when it returned exactly one
    row per line of the file and rejected nothing; failing that the careful Python reader runs.
    """
    scan = scan_bytes(path)
    # A name with glob characters would make the reader open other files (or none).
    json_ok = not (tag_aliases and scan.tag_alias) and not any(c in path.name for c in "*?[{")
    if json_ok and _try_read_json(con, path, fields, scan):
        return "json"
    if scan.bare_cr == 0 and scan.ctrl_a == 0:
        rows = rejects = -1
        con.execute("drop table if exists _cl_rejects")
        con.execute("drop table if exists _cl_reject_scans")
        try:
            con.execute(
                f"create or replace temp table {EXTRACTED} as {extract_sql(fields, READ_LINES_SQL, tag_aliases)}",
                {"path": str(path)},
            )
            rows = con.execute(f"select count(*) from {EXTRACTED}").fetchone()[0]
            rejects = con.execute("select count(*) from _cl_rejects").fetchone()[0]
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:
            # Input the CSV reader refuses (e.g. a glob character in the name): read it by hand.
            # Only the error type is logged: CSV errors quote the offending line.
            log.warning("%s: fast reader failed (%s); using the line-by-line reader", path.name, type(exc).__name__)
        finally:
            # The rejects table holds raw line text: never keep it around.
            con.execute("drop table if exists _cl_rejects")
            con.execute("drop table if exists _cl_reject_scans")
        if rows == scan.lines and rejects == 0:
            return "duckdb"
        if rows >= 0:
            log.info(
                "%s: %d lines but the fast reader returned %d rows and %d rejects; using the line-by-line reader",
                path.name,
                scan.lines,
                rows,
                rejects,
            )
    extract_arrow(con, python_lines_table(path), fields, tag_aliases)
    return "python"


def extract_arrow(
    con: duckdb.DuckDBPyConnection, table: pa.Table, fields: tuple[Field, ...], tag_aliases: bool = False
) -> None:
    """Pass 1 over an Arrow table of lines built in Python (fallback reader, OTLP)."""
    con.register("_cl_lines", table)
    try:
        con.execute(
            f"create or replace temp table {EXTRACTED} as {extract_sql(fields, 'select * from _cl_lines', tag_aliases)}"
        )
    finally:
        con.unregister("_cl_lines")


def drop_extracted(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"drop table if exists {EXTRACTED}")


def extract_sql(fields: tuple[Field, ...], source: str, tag_aliases: bool = False) -> str:
    """Pass 1: one row per line with flags and, per field, the JSON text of its first present,
    non-null key (`<field>_j`). Nothing else of the line is kept."""
    keys = [k for f in fields for k in f.keys]
    index = {k: i + 1 for i, k in enumerate(keys)}
    paths = ", ".join(json_path(k) for k in keys)

    def first_present(f: Field) -> str:
        alts = [f"nullif(_v[{index[k]}], 'null')" for k in f.keys]
        return alts[0] if len(alts) == 1 else f"coalesce({', '.join(alts)})"

    js = ",\n           ".join(f"{first_present(f)} as {f.name}_j" for f in fields)
    aliases = (
        f"case when is_json and is_object then {alias_tag_entries('line')} end"
        if tag_aliases
        else "null::struct(k varchar, p integer, v json)[]"
    )
    # Blank and object tests avoid trim(): it copies the whole line, a second per million.
    return f"""
    with src as ({source}),
    lines as (
        select source_line, sub_seq, pre_reason, line,
               pre_reason is null and (line is null or regexp_full_match(line, {BLANK_RE}))
                   as is_blank,
               json_valid(line) as is_json,
               case when starts_with(line, '{{') then true
                    else regexp_matches(line, {OBJECT_START_RE}) end as is_object
        from src
    ),
    parsed as (
        select *,
               -- The CASE sits inside: a CASE over the extracted list would copy every list.
               json_extract(case when is_json and is_object then line else '{{}}' end,
                            [{paths}]) as _v
        from lines
    )
    select source_line, sub_seq, pre_reason, is_blank, is_json, is_object,
           case when is_json and not is_object then json_type(line) end as top_type,
           {aliases} as _tag_aliases,
           {js}
    from parsed"""

"""The DuckDB SQL that reads dropped JSON lines and checks them, set-based.

Every telemetry format (flat JSONL, gzip, Parquet, OTLP flattened in Python) and the outcomes
files are first brought to one relation, `(source_line, sub_seq, line, pre_reason)`: one JSON
object per record as text, the 1-based file line it came from, and a reason already known
before SQL saw it (invalid UTF-8, malformed OTLP). Two passes follow, so every format is judged
by exactly the same rules and yields identical rows:

1. extract: parse each line once and keep only the contract fields as JSON text, in the temp
   table EXTRACTED. Line numbering (`with ordinality`) makes this pass single-threaded, so it
   does as little as possible; prompt text and other unknown keys never leave it. (Parquet
   skips the line: its columns are rendered straight into the same EXTRACTED columns.)
2. check: type every field, apply defaults and compute `reason` (NULL = valid) from EXTRACTED,
   in parallel.

Quarantine reasons start with a stable code, then say what to fix. They echo at most ~40
characters of a value, and only from fields that cannot hold prompt or completion text.
"""
import gzip
import logging
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.warehouse import KEY_SQL

log = logging.getLogger("costline.ingestion")

# Keys that carry prompt or completion text. They are never extracted, and never kept as tags.
CONTENT_KEYS = (
    "prompt", "completion", "messages", "input", "output", "system_prompt",
    "system_instructions", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.system_instructions",
)
CONTENT_KEY_PREFIXES = ("gen_ai.prompt", "gen_ai.completion")

TEXT, INTEGER, TIMESTAMP, NUMBER, MONEY, TAGS, ANY = (
    "text", "integer", "timestamp", "number", "money", "tags", "any")

# Started_at earlier than this is a clock or unit bug (seconds read as nanoseconds, epoch 0).
EARLIEST_EVENT = "2000-01-01"
# No LLM API call or its feedback predates 2020 (the first public LLM APIs opened that year):
# an earlier started_at or recorded_at is a writer bug, not history.
EARLIEST_CALL = "2020-01-01"
# A record may start at most this many days after its folder day begins: the folder is the
# day the file was written, so anything later is from the future (one day of clock slack).
FUTURE_SLACK_DAYS = 2
# Ints beyond 2**53 are not exact in a JSON double, so an integral float above it is refused.
MAX_EXACT_FLOAT_INT = 2**53
MAX_ECHO = 40


@dataclass(frozen=True)
class Field:
    """One record field: its contract name first, then the aliases accepted for it."""

    name: str
    kind: str
    keys: tuple[str, ...]
    required: bool = False


TELEMETRY_FIELDS: tuple[Field, ...] = (
    Field("call_id", TEXT, ("call_id", "gen_ai.response.id"), True),
    Field("request_id", TEXT, ("request_id", "costline.request_id"), True),
    Field("attempt", INTEGER, ("attempt", "costline.attempt")),
    Field("started_at", TIMESTAMP, ("started_at",), True),
    Field("duration_ms", NUMBER, ("duration_ms",)),
    Field("provider", TEXT, ("provider", "gen_ai.provider.name", "gen_ai.system"), True),
    Field("model", TEXT, ("model", "gen_ai.response.model", "gen_ai.request.model"), True),
    Field("operation", TEXT, ("operation", "gen_ai.operation.name")),
    Field("input_tokens", INTEGER,
          ("input_tokens", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"), True),
    Field("output_tokens", INTEGER,
          ("output_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"), True),
    Field("cache_read_input_tokens", INTEGER,
          ("cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens")),
    Field("cache_creation_input_tokens", INTEGER,
          ("cache_creation_input_tokens", "gen_ai.usage.cache_creation.input_tokens")),
    Field("reasoning_output_tokens", INTEGER,
          ("reasoning_output_tokens", "gen_ai.usage.reasoning.output_tokens")),
    Field("status", TEXT, ("status",)),
    Field("error_type", TEXT, ("error_type", "error.type")),
    Field("service_tier", TEXT, ("service_tier", "openai.response.service_tier")),
    Field("workspace", TEXT, ("workspace", "costline.workspace"), True),
    Field("feature", TEXT, ("feature", "costline.feature"), True),
    Field("environment", TEXT,
          ("environment", "deployment.environment.name", "deployment.environment")),
    Field("user_segment", TEXT, ("user_segment", "costline.user_segment")),
    Field("prompt_version", TEXT, ("prompt_version", "costline.prompt_version")),
    Field("project_id", TEXT, ("project_id", "costline.project_id")),
    Field("cost_usd", MONEY, ("cost_usd", "gen_ai.usage.cost")),
    Field("tags", TAGS, ("tags",)),
)
TAG_ALIAS_PREFIX = "costline.tag."

OUTCOME_FIELDS: tuple[Field, ...] = (
    Field("request_id", TEXT, ("request_id", "costline.request_id"), True),
    Field("recorded_at", TIMESTAMP, ("recorded_at",), True),
    Field("kind", TEXT, ("kind",), True),
    Field("value", ANY, ("value",), True),
    Field("source", TEXT, ("source",)),
)
OUTCOME_VALUES = {"thumbs": ("up", "down"), "resolution": ("resolved", "unresolved")}


# --------------------------------------------------------------------------------------------
# Reading JSON lines
# --------------------------------------------------------------------------------------------

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

INVALID_UTF8 = "invalid_utf8: line is not valid UTF-8 text; write the file as UTF-8"
LINES_SCHEMA = pa.schema([("source_line", pa.int64()), ("sub_seq", pa.int32()),
                          ("line", pa.string()), ("pre_reason", pa.string())])


class UnreadableFile(Exception):
    """The file itself cannot be read (corrupt gzip or Parquet, permissions): one quarantine row."""


@dataclass(frozen=True)
class ByteScan:
    lines: int           # what a correct line reader must return, blank lines included
    bare_cr: int         # '\r' not followed by '\n': DuckDB would split there, Python would not
    ctrl_a: int          # chr(1), the delimiter: DuckDB would cut the line there
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
                tag_alias = tag_alias or marker in tail + chunk[:len(marker)] or marker in chunk
                tail = chunk[-len(marker):]
                last = chunk[-1:]
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"{type(exc).__name__}: {exc}") from exc
    return ByteScan(lines=newlines + (1 if last not in (b"", b"\n") else 0),
                    bare_cr=bare_cr, ctrl_a=ctrl_a, tag_alias=tag_alias)


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


def _try_read_json(con: duckdb.DuckDBPyConnection, path: Path, fields: tuple[Field, ...],
                   scan: ByteScan) -> bool:
    try:
        con.execute(f"create or replace temp table {EXTRACTED} as {read_json_sql(fields)}",
                    {"path": str(path)})
    except duckdb.Error as exc:
        # Malformed JSON, a non-object line, a duplicate key, bad UTF-8: the careful readers
        # name the line. Only the error type is logged: JSON errors quote the offending line.
        log.debug("%s: JSON reader declined (%s)", path.name, type(exc).__name__)
        return False
    rows = con.execute(f"select count(*) from {EXTRACTED}").fetchone()[0]
    if rows == scan.lines:
        return True
    log.debug("%s: %d lines but the JSON reader returned %d records (blank lines?)",
              path.name, scan.lines, rows)
    return False


def extract_file_lines(con: duckdb.DuckDBPyConnection, path: Path, fields: tuple[Field, ...],
                       tag_aliases: bool = False) -> str:
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
            con.execute(f"create or replace temp table {EXTRACTED} as "
                        f"{extract_sql(fields, READ_LINES_SQL, tag_aliases)}", {"path": str(path)})
            rows = con.execute(f"select count(*) from {EXTRACTED}").fetchone()[0]
            rejects = con.execute("select count(*) from _cl_rejects").fetchone()[0]
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:
            # Input the CSV reader refuses (e.g. a glob character in the name): read it by hand.
            # Only the error type is logged: CSV errors quote the offending line.
            log.warning("%s: fast reader failed (%s); using the line-by-line reader",
                        path.name, type(exc).__name__)
        finally:
            # The rejects table holds raw line text: never keep it around.
            con.execute("drop table if exists _cl_rejects")
            con.execute("drop table if exists _cl_reject_scans")
        if rows == scan.lines and rejects == 0:
            return "duckdb"
        if rows >= 0:
            log.info("%s: %d lines but the fast reader returned %d rows and %d rejects; "
                     "using the line-by-line reader", path.name, scan.lines, rows, rejects)
    extract_arrow(con, python_lines_table(path), fields, tag_aliases)
    return "python"


def extract_arrow(con: duckdb.DuckDBPyConnection, table: pa.Table, fields: tuple[Field, ...],
                  tag_aliases: bool = False) -> None:
    """Pass 1 over an Arrow table of lines built in Python (fallback reader, OTLP)."""
    con.register("_cl_lines", table)
    try:
        con.execute(f"create or replace temp table {EXTRACTED} as "
                    f"{extract_sql(fields, 'select * from _cl_lines', tag_aliases)}")
    finally:
        con.unregister("_cl_lines")


def drop_extracted(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"drop table if exists {EXTRACTED}")


# --------------------------------------------------------------------------------------------
# SQL building blocks
# --------------------------------------------------------------------------------------------

WS = "' ' || chr(9) || chr(10) || chr(13)"
BLANK_RE = r"'[ \t\r\n]*'"
OBJECT_START_RE = r"'^[ \t\r\n]*\{'"
INT_RE = r"'-?[0-9]+'"
NUMBER_RE = r"'-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?'"
RFC3339_RE = (r"'^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?"
              r"([Zz]|([+-])([0-9]{2}):([0-9]{2}))$'")


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_path(key: str) -> str:
    return sql_str('$."' + key + '"')


def echo(expr: str) -> str:
    """A value quoted into a reason: short, so a stray prompt in a wrong field cannot leak."""
    return (f"(case when length({expr}) > {MAX_ECHO} then left({expr}, {MAX_ECHO}) || '...' "
            f"else {expr} end)")


def json_kind(expr: str) -> str:
    """The JSON type of a value as words for a reason ('an object', 'a boolean', ...)."""
    return (f"(case json_type({expr}) when 'OBJECT' then 'an object' when 'ARRAY' then 'an array' "
            f"when 'BOOLEAN' then 'a boolean' when 'VARCHAR' then 'a string' "
            f"else 'a number' end)")


def is_json_string(j: str) -> str:
    return f"starts_with({j}, '\"')"


def text_value(j: str) -> str:
    """A text field: a JSON string (stored as sent; all-blank means absent) or an integer as text."""
    # Without a backslash the JSON string is its text between the quotes: a slice is a third
    # cheaper than unescaping.
    text = (f"(case when {is_json_string(j)} and not contains({j}, chr(92)) then {j}[2:-2] "
            f"when {is_json_string(j)} then {j} ->> '$' "
            f"when regexp_full_match({j}, {INT_RE}) then {j}::varchar end)")
    # The first character settles most values without the regex (a tenth of the check pass).
    return (f"(case when ascii({text}) not in (0, 9, 10, 13, 32) then {text} "
            f"when not regexp_full_match({text}, {BLANK_RE}) then {text} end)")


def text_bad(j: str) -> str:
    return f"({j} is not null and not ({is_json_string(j)} or regexp_full_match({j}, {INT_RE})))"


def is_json_number(j: str) -> str:
    # Not try_cast alone: it reads the JSON literal `true` as 1.
    return f"regexp_full_match({j}, {NUMBER_RE})"


def integer_value(j: str) -> str:
    """A JSON integer, or an integral float exactly representable as one (12.0, 1e3)."""
    d = f"try_cast({j} as double)"
    return (f"(case when regexp_full_match({j}, {INT_RE}) then try_cast({j} as bigint) "
            f"when {is_json_number(j)} and isfinite({d}) and {d} = floor({d}) "
            f"and abs({d}) <= {MAX_EXACT_FLOAT_INT} then {d}::bigint end)")


def number_value(j: str) -> str:
    return f"(case when {is_json_number(j)} then try_cast({j} as double) end)"


def money_value(j: str) -> str:
    """Exact dollars from a JSON number or a decimal string (strings stay exact at any size;
    a number is as exact as the 15-16 digits a JSON parser keeps)."""
    return (f"try_cast(trim(case when {is_json_string(j)} then {j} ->> '$' "
            f"when {is_json_number(j)} then {j}::varchar end, {WS}) as decimal(18, 6))")


def timestamp_parts(j: str) -> str:
    return (f"regexp_extract(case when {is_json_string(j)} then {j} ->> '$' end, {RFC3339_RE}, "
            f"['d', 't', 'f', 'z', 's', 'hh', 'mm'])")


def timestamp_utc(parts: str) -> str:
    """RFC 3339 text to naive UTC without a time-zone library: local time minus the offset."""
    local = (f"try_cast({parts}.d || ' ' || {parts}.t || left({parts}.f, 7) as timestamp)")
    offset = (f"(case when {parts}.z in ('Z', 'z') then 0 "
              f"when try_cast({parts}.hh as integer) <= 23 and try_cast({parts}.mm as integer) <= 59 "
              f"then (case {parts}.s when '-' then -1 else 1 end) "
              f"* (try_cast({parts}.hh as integer) * 60 + try_cast({parts}.mm as integer)) end)")
    # try_cast accepts 24:00:00 as the next midnight; RFC 3339 hours stop at 23.
    return (f"(case when {parts}.t < '24' then {local} - {offset} * interval 1 minute end)")


def is_content_key(k: str) -> str:
    names = ", ".join(sql_str(n) for n in CONTENT_KEYS)
    prefixes = " or ".join(f"starts_with(lower({k}), {sql_str(p)})" for p in CONTENT_KEY_PREFIXES)
    return f"(lower({k}) in ({names}) or {prefixes})"


def json_pointer(k: str) -> str:
    return f"('/' || replace(replace({k}, '~', '~0'), '/', '~1'))"


def alias_tag_entries(line: str) -> str:
    """`costline.tag.X` keys of a line as [{k: X, p: 1, v: json}] (pass 1: needs the line)."""
    n = len(TAG_ALIAS_PREFIX)
    return (f"(case when contains({line}, '{TAG_ALIAS_PREFIX}') then list_transform("
            f"list_filter(json_keys({line}), lambda k: starts_with(k, '{TAG_ALIAS_PREFIX}') "
            f"and length(k) > {n}), lambda k: {{'k': k[{n + 1}:], 'p': 1, "
            f"'v': json_extract({line}, {json_pointer('k')})}}) end)")


def tag_entries(tags_j: str, aliases: str) -> str:
    """Candidate tags sorted by key, `tags` entries (p=0) before aliases (p=1) of the same key;
    non-string values and content keys are dropped."""
    own = (f"(case when starts_with({tags_j}, '{{') then list_transform(json_keys({tags_j}), "
           f"lambda k: {{'k': k, 'p': 0, 'v': json_extract({tags_j}, {json_pointer('k')})}}) end)")
    return (f"(case when {tags_j} is not null or {aliases} is not null then "
            f"list_sort(list_filter(list_concat(coalesce({own}, []), coalesce({aliases}, [])), "
            f"lambda e: starts_with(e.v, '\"') and e.k <> '' and not {is_content_key('e.k')})) end)")


def tags_json(entries: str) -> str:
    """The entries as JSON object text; the first entry per key wins (`tags` over aliases)."""
    deduped = f"list_filter({entries}, lambda e, i: i = 1 or e.k <> {entries}[i - 1].k)"
    return (f"(case when len({entries}) > 0 then to_json(map_from_entries(list_transform({deduped}, "
            f"lambda e: {{'key': e.k, 'value': e.v ->> '$'}}))) end)")


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
    aliases = (f"case when is_json and is_object then {alias_tag_entries('line')} end"
               if tag_aliases else "null::struct(k varchar, p integer, v json)[]")
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


NOT_JSON = ("malformed_json: line is not valid JSON; write one complete JSON object per line "
            "(look for a truncated write or an unescaped newline)")


def malformed_reason() -> str:
    return (f"when not is_json then {sql_str(NOT_JSON)} "
            f"when not is_object then 'malformed_json: line is JSON but ' || "
            f"(case top_type when 'ARRAY' then 'an array' when 'VARCHAR' then 'a string' "
            f"when 'BOOLEAN' then 'a boolean' when 'NULL' then 'null' else 'a number' end) "
            f"|| ', not an object; write one JSON object per record' ")


def aliases_hint(field: Field) -> str:
    return f" (or {' / '.join(field.keys[1:])})" if len(field.keys) > 1 else ""


def missing_reasons(fields: tuple[Field, ...]) -> str:
    out = []
    for f in fields:
        if not f.required:
            continue
        if f.kind == TEXT:
            out.append(f"when {f.name}_j is null or ({f.name} is null and not {text_bad(f.name + '_j')}) "
                       f"then 'missing_field: {f.name} is required{aliases_hint(f)} and was "
                       f"' || case when {f.name}_j is null then 'absent' else 'empty' end ")
        else:
            out.append(f"when {f.name}_j is null then 'missing_field: {f.name} is required"
                       f"{aliases_hint(f)} and was absent' ")
    return "".join(out)


def invalid_text_reasons(fields: tuple[Field, ...]) -> str:
    return "".join(
        f"when {text_bad(f.name + '_j')} then 'invalid_field: {f.name} must be a string, got ' "
        f"|| {json_kind(f.name + '_j')} "
        for f in fields if f.kind == TEXT)


def timestamp_reasons(name: str, folder: date) -> str:
    raw = f"{name}_j"
    latest = f"(date '{folder.isoformat()}' + interval {FUTURE_SLACK_DAYS} day)"
    last_day = date.fromordinal(folder.toordinal() + FUTURE_SLACK_DAYS - 1).isoformat()
    return (
        f"when {name} is null then 'invalid_timestamp: {name} must be an RFC 3339 string with a "
        f"UTC offset (e.g. 2026-10-01T12:00:00Z or +02:00), got ' || {echo(raw)} "
        f"when {name} < timestamp '{EARLIEST_CALL}' then 'invalid_timestamp: {name} ' || "
        f"{echo(raw)} || ' is before {EARLIEST_CALL}, earlier than any LLM API; check the clock "
        f"or time unit of the writer' "
        f"when {name} >= {latest} then 'invalid_timestamp: {name} ' || {echo(raw)} || "
        f"' is after {last_day}, the day after its folder; a file cannot hold events from the "
        f"future, check the clock of the writer' "
    )


# --------------------------------------------------------------------------------------------
# Telemetry
# --------------------------------------------------------------------------------------------

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens",
                "cache_creation_input_tokens", "reasoning_output_tokens")
TELEMETRY_STAGE_COLUMNS = """
    file_seq INTEGER, source_line BIGINT, sub_seq INTEGER, is_blank BOOLEAN,
    call_id VARCHAR, request_id VARCHAR, attempt INTEGER, started_at TIMESTAMP,
    duration_ms DOUBLE, provider VARCHAR, model VARCHAR, operation VARCHAR,
    input_tokens BIGINT, output_tokens BIGINT, cache_read_input_tokens BIGINT,
    cache_creation_input_tokens BIGINT, reasoning_output_tokens BIGINT, status VARCHAR,
    error_type VARCHAR, service_tier VARCHAR, workspace VARCHAR, feature VARCHAR,
    environment VARCHAR, user_segment VARCHAR, prompt_version VARCHAR, project_id VARCHAR,
    cost_usd DECIMAL(18, 6), tags VARCHAR, reason VARCHAR, record_key VARCHAR, call_key BIGINT,
    request_key BIGINT
"""


def telemetry_checks_sql(folder: date) -> str:
    """Pass 2: one stage row per line of EXTRACTED, typed with defaults, and `reason`."""
    fields = TELEMETRY_FIELDS

    typed = []
    for f in fields:
        j = f"{f.name}_j"
        if f.kind == TEXT:
            typed.append(f"{text_value(j)} as {f.name}")
        elif f.kind == INTEGER:
            typed.append(f"{integer_value(j)} as {f.name}")
        elif f.kind == NUMBER:
            typed.append(f"{number_value(j)} as {f.name}")
        elif f.kind == MONEY:
            typed.append(f"{money_value(j)} as {f.name}")
        elif f.kind == TIMESTAMP:
            typed.append(f"{timestamp_utc(timestamp_parts(j))} as {f.name}")
        elif f.kind == TAGS:
            typed.append(f"{tag_entries(j, '_tag_aliases')} as _tag_entries")
    typed_sql = ",\n               ".join(typed)

    token_reasons = "".join(
        f"when {t}_j is not null and ({t} is null or {t} < 0) then 'invalid_tokens: {t} must be a "
        f"non-negative integer, got ' || {echo(t + '_j')} " for t in TOKEN_FIELDS)
    cache_sum = ("(coalesce(cache_read_input_tokens, 0)::hugeint "
                 "+ coalesce(cache_creation_input_tokens, 0))")
    reason = f"""
        case
            when pre_reason is not null then pre_reason
            {malformed_reason()}
            {missing_reasons(fields)}
            {invalid_text_reasons(fields)}
            {timestamp_reasons('started_at', folder)}
            {token_reasons}
            when {cache_sum} > input_tokens then 'cache_exceeds_input: cache_read_input_tokens + '
                 || 'cache_creation_input_tokens (' || {cache_sum} || ') exceed input_tokens ('
                 || input_tokens || '); input_tokens must include cached tokens'
            when coalesce(reasoning_output_tokens, 0) > output_tokens then
                 'reasoning_exceeds_output: reasoning_output_tokens (' || reasoning_output_tokens
                 || ') exceed output_tokens (' || output_tokens
                 || '); output_tokens must include reasoning tokens'
            when attempt_j is not null and (attempt is null or attempt < 1 or attempt > 2147483647)
                 then 'invalid_attempt: attempt must be an integer >= 1 (1 for the first try), got '
                 || {echo('attempt_j')}
            when duration_ms_j is not null and not coalesce(isfinite(duration_ms) and duration_ms >= 0, false)
                 then 'invalid_number: duration_ms must be a non-negative number of milliseconds, got '
                 || {echo('duration_ms_j')}
            when cost_usd_j is not null and not coalesce(cost_usd >= 0, false)
                 then 'invalid_number: cost_usd must be a non-negative dollar amount below 10^12 '
                 || '(a number or a decimal string), got ' || {echo('cost_usd_j')}
            when status is not null and lower(status) not in ('ok', 'error')
                 then 'unknown_status: status must be ok or error, got "' || {echo('status')} || '"'
        end"""
    return f"""
    with typed as (
        select *,
               {typed_sql}
        from {EXTRACTED}
    )
    select source_line, sub_seq, is_blank,
           call_id, request_id,
           -- Guarded: an out-of-range attempt is quarantined, but the cast runs on every row.
           coalesce(case when attempt between 1 and 2147483647 then attempt end, 1)::integer
               as attempt,
           started_at, duration_ms,
           provider, model, coalesce(operation, 'chat') as operation,
           input_tokens, output_tokens,
           coalesce(cache_read_input_tokens, 0) as cache_read_input_tokens,
           coalesce(cache_creation_input_tokens, 0) as cache_creation_input_tokens,
           coalesce(reasoning_output_tokens, 0) as reasoning_output_tokens,
           coalesce(lower(status), case when error_type is not null then 'error' else 'ok' end) as status,
           error_type, coalesce(service_tier, 'standard') as service_tier, workspace, feature,
           coalesce(environment, 'production') as environment, user_segment, prompt_version,
           project_id, cost_usd, {tags_json('_tag_entries')} as tags,
           case when not is_blank then {reason} end as reason,
           left(call_id, 200) as record_key,
           {KEY_SQL.format('call_id')} as call_key,
           {KEY_SQL.format('request_id')} as request_key
    from typed
    """


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------

OUTCOME_STAGE_COLUMNS = """
    file_seq INTEGER, source_line BIGINT, sub_seq INTEGER, is_blank BOOLEAN,
    request_id VARCHAR, recorded_at TIMESTAMP, kind VARCHAR, value VARCHAR, source VARCHAR,
    reason VARCHAR, record_key VARCHAR
"""


def outcome_checks_sql(folder: date) -> str:
    """Pass 2 for outcomes: one stage row per line of EXTRACTED; `value` as its stored text."""
    fields = OUTCOME_FIELDS
    eval_num = number_value("value_j")
    value_text = text_value("value_j")
    thumbs = ", ".join(sql_str(v) for v in OUTCOME_VALUES["thumbs"])
    resolution = ", ".join(sql_str(v) for v in OUTCOME_VALUES["resolution"])
    reason = f"""
        case
            when pre_reason is not null then pre_reason
            {malformed_reason()}
            {missing_reasons(tuple(f for f in fields if f.name != 'value'))}
            when value_j is null then 'missing_field: value is required and was absent'
            {invalid_text_reasons(tuple(f for f in fields if f.kind == TEXT))}
            {timestamp_reasons('recorded_at', folder)}
            when kind not in ('thumbs', 'resolution', 'eval') then 'unknown_kind: kind must be '
                 || 'thumbs, resolution or eval, got "' || {echo('kind')} || '"'
            when kind = 'thumbs' and coalesce(lower({value_text}) not in ({thumbs}), true) then
                 'invalid_value: a thumbs value must be up or down, got ' || {echo('value_j')}
            when kind = 'resolution' and coalesce(lower({value_text}) not in ({resolution}), true) then
                 'invalid_value: a resolution value must be resolved or unresolved, got '
                 || {echo('value_j')}
            when kind = 'eval' and not coalesce(isfinite({eval_num}) and {eval_num} between 0 and 1, false)
                 then 'invalid_value: an eval value must be a JSON number from 0 to 1, got '
                 || {echo('value_j')}
        end"""
    return f"""
    with typed as (
        select *,
               {text_value('request_id_j')} as request_id,
               {timestamp_utc(timestamp_parts('recorded_at_j'))} as recorded_at,
               lower({text_value('kind_j')}) as kind,
               {text_value('source_j')} as source
        from {EXTRACTED}
    )
    select source_line, sub_seq, is_blank, request_id, recorded_at, kind,
           case when kind = 'eval' then {eval_num}::varchar else lower({value_text}) end as value,
           source,
           case when not is_blank then {reason} end as reason,
           left(request_id, 200) as record_key
    from typed
    """

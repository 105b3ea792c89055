"""FOCUS cost exports into `raw.focus_costs`: the model-service rows of every delivery.

Layout: `$COSTLINE_INPUT_DIR/billing/focus/<YYYY-MM-DD>/` holds one delivery of an export (the
day it was written), as the clouds write it: one or many CSV, CSV.gz or Parquet files. Every
folder is looked at on each run; a folder whose files the ledger has already loaded, unchanged,
is not read again, and a changed folder is reloaded whole, in one transaction.

Per file (set-based, DuckDB): every cell is read as text, typed by `ingestion/focus/columns.py`
and kept only when `ingestion/focus/services.py` maps its row to a costline provider. Those
rows are the file's records: records read = accepted + quarantined (a FOCUS row has no key, so
there are no duplicates; two identical rows are two charges). Other rows of the export are
not LLM spend and are only counted in the log.

Restatements are not resolved here: raw keeps every delivery, and the staging model keeps,
per provider, billing account and billing period, the rows of the latest delivery only
(`stg_billing__focus_costs`), so a re-delivered month replaces the earlier one.
"""

import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from ingestion.day_folders import InputFile, list_input_files, plan_folder
from ingestion.focus.columns import COLUMNS, JSON, MONEY, QUANTITY, TIMESTAMP, column_type, focus_version
from ingestion.focus.services import provider_sql
from ingestion.json_sql import echo, sql_str
from ingestion.ledger import FileLoad, transaction, utc_now, write_fetch_row, write_ledger_rows

log = logging.getLogger("costline.billing")

INPUT = "focus"
TEXT_TABLE = "_cl_focus_text"
STAGE = "_cl_focus_stage"

# Tag keys that name a workspace or a feature, first present wins; each is also tried with the
# `user:` prefix AWS gives user-defined cost allocation tags. GCP labels allow only lowercase,
# digits, '-' and '_', hence the dashed names first.
WORKSPACE_TAGS_ENV = "COSTLINE_FOCUS_WORKSPACE_TAGS"
FEATURE_TAGS_ENV = "COSTLINE_FOCUS_FEATURE_TAGS"
DEFAULT_WORKSPACE_TAGS = ("costline-workspace", "costline_workspace", "costline:workspace", "costline.workspace")
DEFAULT_FEATURE_TAGS = ("costline-feature", "costline_feature", "costline:feature", "costline.feature")
# Money beyond this is not a cloud charge but a broken cell.
MAX_AMOUNT = 10**12


def classify(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(".csv.gz"):
        return "csv.gz"
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith(".parquet"):
        return "parquet"
    return None


def _tag_keys(env: str, default: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(n.strip() for n in os.environ.get(env, "").split(",") if n.strip())
    return names or default


def _tag_value(keys: tuple[str, ...]) -> str:
    paths = [k for key in keys for k in (key, f"user:{key}")]
    values = ", ".join(f"nullif(trim(tags ->> {sql_str(chr(36) + '.' + chr(34) + k + chr(34))}), '')" for k in paths)
    return f"left(coalesce({values}), 200)"


class NotFocus(Exception):
    """The file is not a FOCUS cost export costline can read: one quarantine row, with why."""


@dataclass(frozen=True)
class FocusFolderLoad:
    day: date
    files: tuple[FileLoad, ...]
    export_rows: int  # every row of the files, model services or not
    billed: dict[str, str]  # currency -> billed sum of the accepted rows, as text
    unreadable_tags: int  # accepted rows whose Tags were not a JSON object (tags ignored)


def _read_relation(con: duckdb.DuckDBPyConnection, f: InputFile) -> tuple[str, dict[str, str]]:
    """The reader's SQL for one file and its columns {lowercase name: DuckDB type}."""
    path = sql_str(str(f.path))
    if f.file_format == "parquet":
        reader = f"read_parquet({path})"
    else:
        # Every cell as text: an all-digit account id stays text, and a bad number is a
        # quarantine row instead of a reader error.
        reader = f"read_csv({path}, header = true, all_varchar = true)"
    try:
        described = con.execute(f"describe select * from {reader}").fetchall()
    except duckdb.Error as exc:
        raise NotFocus(f"unreadable_file: the {f.file_format} file could not be read ({type(exc).__name__})") from exc
    return reader, {name.lower(): type_ for name, type_, *_ in described}


def _text_columns(columns: dict[str, str]) -> tuple[str, list[str]]:
    """SELECT list giving each costline column as text (NULL when the file lacks it)."""
    out, missing = [], []
    for c in COLUMNS:
        source = next((s for s in c.sources if s.lower() in columns), None)
        if source is None:
            if c.required:
                missing.append(c.sources[-1])
            out.append(f"null::varchar as {c.name}")
            continue
        quoted = '"' + source + '"'
        kind = columns[source.lower()].upper()
        if c.kind == JSON and (kind.startswith("MAP") or kind.startswith("STRUCT")):
            out.append(f"to_json({quoted})::varchar as {c.name}")
        else:
            out.append(f"cast({quoted} as varchar) as {c.name}")
    return ", ".join(out), missing


def _timestamp(col: str) -> str:
    """FOCUS times are UTC; an offset, if written, is honoured."""
    t = f"trim({col})"
    return (
        f"(case when regexp_matches({t}, '([Zz]|[+-][0-9]{{2}}:?[0-9]{{2}})$') "
        f"then try_cast({t} as timestamptz) at time zone 'UTC' else try_cast({t} as timestamp) end)"
    )


def _typed_sql(file_seq: int) -> str:
    typed, reasons = [], []
    for c in COLUMNS:
        if c.kind == MONEY:
            typed.append(f"try_cast(trim({c.name}) as decimal(28, 12)) as {c.name}")
            reasons.append(
                f"when {c.name}_t is not null and ({c.name} is null or abs({c.name}) >= {MAX_AMOUNT}) then "
                f"'invalid_money: {c.sources[0]} must be a decimal amount below 10^12, got \"' "
                f"|| {echo(c.name + '_t')} || '\"'"
            )
        elif c.kind == QUANTITY:
            typed.append(f"try_cast(trim({c.name}) as decimal(38, 12)) as {c.name}")
        elif c.kind == TIMESTAMP:
            typed.append(f"{_timestamp(c.name)} as {c.name}")
            reasons.append(
                f"when {c.name}_t is not null and {c.name} is null then "
                f"'invalid_timestamp: {c.sources[0]} must be an ISO 8601 UTC time, got \"' "
                f"|| {echo(c.name + '_t')} || '\"'"
            )
        elif c.kind == JSON:
            typed.append(
                f"case when json_valid({c.name}) and json_type({c.name}) = 'OBJECT' then {c.name} end as {c.name}"
            )
        else:
            typed.append(f"nullif(trim({c.name}), '') as {c.name}")
        if c.required:
            reasons.insert(
                0,
                f"when {c.name}_t is null then 'missing_field: {c.sources[0]} is required on every FOCUS row'",
            )
    originals = ", ".join(f"nullif(trim({c.name}), '') as {c.name}_t" for c in COLUMNS)
    workspace = _tag_value(_tag_keys(WORKSPACE_TAGS_ENV, DEFAULT_WORKSPACE_TAGS))
    feature = _tag_value(_tag_keys(FEATURE_TAGS_ENV, DEFAULT_FEATURE_TAGS))
    return f"""
    with texts as (
        select *, {originals} from {TEXT_TABLE}
    ),
    typed as (
        select source_line, {", ".join(c.name + "_t" for c in COLUMNS)}, {", ".join(typed)}
        from texts
    ),
    kept as (
        select *, {provider_sql()} as provider from typed
    )
    select {file_seq} as file_seq, source_line, provider,
           cast(charge_period_start as date) as charge_day,
           cast(billing_period_start as date) as billing_period_day,
           {", ".join(c.name for c in COLUMNS)},
           {workspace} as workspace_tag,
           {feature} as feature_tag,
           tags_t is not null and tags is null as tags_unreadable,
           case
               {" ".join(reasons)}
               when not regexp_full_match(billing_currency, '[A-Za-z]{{3}}') then
                    'invalid_currency: BillingCurrency must be an ISO 4217 code, got "'
                    || {echo("billing_currency")} || '"'
           end as reason
    from kept
    where provider is not null
    """


def _stage_file(con: duckdb.DuckDBPyConnection, f: InputFile, seq: int) -> tuple[int, str]:
    """Stage one file's model-service rows into STAGE; (rows in the file, FOCUS version)."""
    reader, columns = _read_relation(con, f)
    select, missing = _text_columns(columns)
    if missing:
        raise NotFocus(
            f"not_focus: the file has no {', '.join(missing)} column; drop FOCUS cost exports (1.0-1.3) only"
        )
    try:
        con.execute(
            f"create or replace temp table {TEXT_TABLE} as "
            f"select ordinality as source_line, {select} from {reader} with ordinality"
        )
    except duckdb.Error as exc:
        raise NotFocus(f"unreadable_file: the {f.file_format} file could not be read ({type(exc).__name__})") from exc
    try:
        rows = con.execute(f"select count(*) from {TEXT_TABLE}").fetchone()[0]
        con.execute(f"insert into {STAGE} by name {_typed_sql(seq)}")
    finally:
        con.execute(f"drop table if exists {TEXT_TABLE}")
    return rows, focus_version(set(columns))


def _stage_columns() -> str:
    cols = ", ".join(f"{c.name} {column_type(c)}" for c in COLUMNS)
    return (
        "file_seq INTEGER, source_line BIGINT, provider VARCHAR, charge_day DATE, billing_period_day DATE, "
        f"{cols}, workspace_tag VARCHAR, feature_tag VARCHAR, tags_unreadable BOOLEAN, reason VARCHAR"
    )


def load_focus_folder(
    con: duckdb.DuckDBPyConnection, input_dir: Path, folder: Path, day: date, load_id: str
) -> FocusFolderLoad | None:
    """Load one delivery folder; None when the ledger says it is loaded and unchanged."""
    loaded_at = utc_now()
    plan = plan_folder(con, INPUT, day, list_input_files(folder, input_dir, classify))
    if plan.mode == "skip":
        return None
    # A folder is one delivery: any change reloads all of it (a re-delivery rewrites the set).
    files = list_input_files(folder, input_dir, classify)
    con.execute(f"create or replace temp table {STAGE} ({_stage_columns()})")
    unreadable: list[tuple[int, InputFile, str]] = []
    formats: dict[int, str] = {}
    export_rows = 0
    try:
        for seq, f in enumerate(files):
            try:
                rows, version = _stage_file(con, f, seq)
            except NotFocus as exc:
                log.warning("%s: %s", f.source_file, str(exc).split(":", 1)[0])
                unreadable.append((seq, f, str(exc)))
                continue
            export_rows += rows
            formats[seq] = f"focus-{version}-{f.file_format}"
        return _publish(con, day, files, formats, unreadable, export_rows, load_id, loaded_at)
    finally:
        con.execute(f"drop table if exists {STAGE}")


def _publish(
    con: duckdb.DuckDBPyConnection,
    day: date,
    files: list[InputFile],
    formats: dict[int, str],
    unreadable: list[tuple[int, InputFile, str]],
    export_rows: int,
    load_id: str,
    loaded_at,
) -> FocusFolderLoad:
    con.execute("create or replace temp table _cl_focus_files (file_seq INTEGER, source_file VARCHAR)")
    con.executemany("insert into _cl_focus_files values (?, ?)", [(seq, f.source_file) for seq, f in enumerate(files)])
    params = {"day": day, "load_id": load_id, "loaded_at": loaded_at, "input": INPUT}
    columns = ", ".join(c.name for c in COLUMNS)
    with transaction(con):
        # Days whose bill this load may change: what the folder held before, and every day of
        # the billing periods it (re)states, in any delivery.
        [(first, last)] = con.execute(
            f"""
            with periods as (
                select distinct provider, billing_account_id, billing_period_day from {STAGE} where reason is null
            )
            select min(charge_day), max(charge_day) from (
                select charge_day from raw.focus_costs where source_folder = $day
                union all
                select r.charge_day from raw.focus_costs r
                join periods p on p.provider = r.provider and p.billing_account_id = r.billing_account_id
                     and p.billing_period_day = r.billing_period_day
                union all
                select charge_day from {STAGE} where reason is null
            )""",
            {"day": day},
        ).fetchall()
        con.execute("delete from raw.focus_costs where source_folder = $day", {"day": day})
        for table in ("raw.quarantine", "raw.source_files"):
            con.execute(
                f"delete from {table} where input = $input and source_folder = $day", {"input": INPUT, "day": day}
            )
        con.execute(
            f"""
            insert into raw.focus_costs by name
            select s.provider, s.charge_day, s.billing_period_day, {columns}, s.workspace_tag, s.feature_tag,
                   $day as source_folder, f.source_file, s.source_line, $load_id as load_id,
                   $loaded_at as loaded_at
            from {STAGE} s join _cl_focus_files f using (file_seq)
            where s.reason is null""",
            {k: v for k, v in params.items() if k != "input"},
        )
        con.execute(
            f"""
            insert into raw.quarantine
            select $input, $day, f.source_file, s.source_line, null, s.reason, $load_id, $loaded_at
            from {STAGE} s join _cl_focus_files f using (file_seq)
            where s.reason is not null""",
            params,
        )
        for _seq, f, reason in unreadable:
            con.execute(
                "insert into raw.quarantine values ($input, $day, $file, null, null, $reason, $load_id, $loaded_at)",
                {**params, "file": f.source_file, "reason": reason},
            )
        counts = {
            seq: (read, bad, lo, hi)
            for seq, read, bad, lo, hi in con.execute(
                f"""select file_seq, count(*), count(*) filter (where reason is not null),
                           min(charge_day) filter (where reason is null), max(charge_day) filter (where reason is null)
                    from {STAGE} group by file_seq"""
            ).fetchall()
        }
        ledger = []
        for seq, f in enumerate(files):
            if seq in formats:
                read, bad, lo, hi = counts.get(seq, (0, 0, None, None))
                ledger.append((FileLoad(f.source_file, formats[seq], read, read - bad, bad, 0, lo, hi), f.file_bytes))
            else:
                ledger.append((FileLoad(f.source_file, f.file_format, 1, 0, 1, 0, None, None), f.file_bytes))
        write_ledger_rows(con, INPUT, day, ledger, load_id, loaded_at)
        if first is not None:
            # Restated periods reach days the files' own rows may not: rebuild them all.
            write_fetch_row(con, INPUT, "billing/focus", "focus-restatement", 0, (first, last), load_id)
        billed = {
            currency: str(total)
            for currency, total in con.execute(
                f"select upper(billing_currency), sum(billed_cost) from {STAGE} where reason is null group by 1 order by 1"
            ).fetchall()
        }
        [(unreadable_tags,)] = con.execute(
            f"select count(*) from {STAGE} where reason is null and tags_unreadable"
        ).fetchall()
    return FocusFolderLoad(day, tuple(fl for fl, _ in ledger), export_rows, billed, unreadable_tags)

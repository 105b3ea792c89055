"""Outcome day folders (feedback, resolutions, evals) into raw.outcomes.

Same rules as telemetry: set-based checks, quarantine with reasons, the ledger, and a folder
reload that replaces what the folder loaded before. An outcome for a request no call has been
loaded for is accepted: feedback may arrive before its call. The same outcome sent twice
(same request_id, recorded_at, kind, value and source) counts once, first loaded wins.

An outcome's event day, for the ledger, is the UTC day of the first call of its request (that
is the day whose success figures it changes), else its own recorded_at day.
"""

import logging
from datetime import date

import duckdb

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
from ingestion.fields import OUTCOME_FIELDS, OUTCOME_STAGE_COLUMNS
from ingestion.ledger import FolderLoad
from ingestion.readers import extract_file_lines
from ingestion.rules.outcome_rules import outcome_checks_sql
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad
from ingestion.warehouse import KEY_SQL

log = logging.getLogger("costline.ingestion")

# Named, not positional: a warehouse made before value_usd has it added as its last column.
RAW_COLUMNS = (
    "request_id, recorded_at, kind, value, source, value_usd, "
    "source_folder, source_file, source_line, load_id, loaded_at"
)

KEY = ("request_id", "recorded_at", "kind", "value", "source", "value_usd")


def file_format(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(".jsonl.gz"):
        return "jsonl.gz"
    if lower.endswith(".jsonl"):
        return "jsonl"
    return None


def extract_file(con: duckdb.DuckDBPyConnection, f: InputFile) -> None:
    extract_file_lines(con, f.path, OUTCOME_FIELDS)


def insert_outcomes(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    same = " and ".join(f"o.{k} is not distinct from s.{k}" for k in KEY)
    keys = ", ".join(KEY)
    # Outcomes other folders already hold for these requests: the stage is the hash side, so
    # the probe streams over raw.outcomes whatever the size of the history (a NOT EXISTS
    # against raw.outcomes built its hash table from the whole history on every load).
    con.execute(f"""
        create or replace temp table _cl_existing as
        select o.* from raw.outcomes o
        semi join (select request_id from {STAGE} where reason is null and not is_blank) s
               on o.request_id = s.request_id""")
    con.execute(
        f"""
        insert into raw.outcomes ({RAW_COLUMNS})
        select s.request_id, s.recorded_at, s.kind, s.value, s.source, s.value_usd,
               f.source_folder, f.source_file, s.source_line, $load_id, $loaded_at
        from {STAGE} s
        join {FILES} f using (file_seq)
        where s.reason is null and not s.is_blank
          and not exists (select 1 from _cl_existing o where {same})
        qualify row_number() over (partition by {keys}
                                   order by s.file_seq, s.source_line) = 1""",
        {k: params[k] for k in ("load_id", "loaded_at")},
    )
    con.execute("drop table _cl_existing")


def outcomes_by_file(con: duckdb.DuckDBPyConnection, first: date, last: date) -> dict:
    return {
        name: (n, lo, hi)
        for name, n, lo, hi in con.execute(
            f"""
        with mine as (
            select o.source_file, o.request_id, o.recorded_at from raw.outcomes o
            semi join {FILES} f on o.source_folder = f.source_folder and o.source_file = f.source_file
            where o.source_folder between $first and $last
        ),
        -- By request_key: an 8-byte column scanned over the whole history instead of every
        -- request_id string (0.5 s a folder at 36.5M calls). Two request_ids sharing a 63-bit
        -- key could only widen the days this load asks dbt to rebuild, never change a figure.
        first_calls as (
            select t.request_key, min(t.started_at)::date as first_day
            from raw.telemetry_calls t
            semi join (select {KEY_SQL.format("request_id")} as request_key from mine) k
                   on t.request_key = k.request_key
            group by t.request_key
        )
        select m.source_file, count(*),
               min(coalesce(c.first_day, m.recorded_at::date)),
               max(coalesce(c.first_day, m.recorded_at::date))
        from mine m left join first_calls c on c.request_key = {KEY_SQL.format("m.request_id")}
        group by m.source_file""",
            {"first": first, "last": last},
        ).fetchall()
    }


OUTCOMES_LOADER = DayFolderLoader(
    input="outcomes",
    files_under="outcomes/",
    fact_table="raw.outcomes",
    stage_columns=OUTCOME_STAGE_COLUMNS,
    classify=file_format,
    extract_file=extract_file,
    checks_sql=outcome_checks_sql,
    insert_facts=insert_outcomes,
    accepted_by_file=outcomes_by_file,
)


def load_outcomes_folder(con: duckdb.DuckDBPyConnection, paths: Paths, day: date, load_id: str) -> FolderLoad:
    """Load `$input/outcomes/<day>/`; a missing folder is an empty load and changes nothing."""
    return load_day_folder(con, OUTCOMES_LOADER, paths.input_dir, paths.outcomes_dir / day.isoformat(), day, load_id)


class OutcomeFiles(Source):
    name = "outcome_files"
    kind = "outcomes"
    tables = ("outcomes",)
    # An outcome's event day is the day of its request's first call: telemetry loads first.
    after = ("telemetry_files",)
    description = "Outcome records (thumbs, resolutions, evals) of the day folders in the run window."

    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        window = WindowLoad()
        folders = [(day, paths.outcomes_dir / day.isoformat()) for day in days]
        for folder in load_day_folders(con, OUTCOMES_LOADER, paths.input_dir, folders, load_id):
            window.add(folder)
        log.info(
            "outcomes: %d files, %d records (%d accepted, %d quarantined)",
            window.files,
            window.records_read,
            window.accepted,
            window.quarantined,
        )
        return SourceLoad(rows=window.accepted, quarantined=window.quarantined, metadata=window.metadata())


def landed_outcomes_loader(input_name: str, landing: str, file_name: str) -> DayFolderLoader:
    """The loader of a fetched source's landed outcome pages: the outcome file checks and ledger."""
    return landed_loader(OUTCOMES_LOADER, input_name, landing, file_name)

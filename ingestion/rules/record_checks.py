"""The reasons every record check shares (telemetry, outcomes): the first words of each
quarantine reason are a stable code, the rest says what to fix.

Limits on time live here, once: the reference loader applies the same earliest date.
"""

from ingestion.fields import TEXT, Field
from ingestion.json_sql import echo, json_kind, sql_str, text_bad
from ingestion.readers import FOLDER_COLUMN, NOT_JSON

# Started_at earlier than this is a clock or unit bug (seconds read as nanoseconds, epoch 0).
EARLIEST_EVENT = "2000-01-01"
# No LLM API call or its feedback predates 2020 (the first public LLM APIs opened that year):
# an earlier started_at or recorded_at is a writer bug, not history.
EARLIEST_CALL = "2020-01-01"
# A record may start at most this many days after its folder day begins: the folder is the
# day the file was written, so anything later is from the future (one day of clock slack).
FUTURE_SLACK_DAYS = 2


def malformed_reason() -> str:
    return (
        f"when not is_json then {sql_str(NOT_JSON)} "
        f"when not is_object then 'malformed_json: line is JSON but ' || "
        f"(case top_type when 'ARRAY' then 'an array' when 'VARCHAR' then 'a string' "
        f"when 'BOOLEAN' then 'a boolean' when 'NULL' then 'null' else 'a number' end) "
        f"|| ', not an object; write one JSON object per record' "
    )


def aliases_hint(field: Field) -> str:
    return f" (or {' / '.join(field.keys[1:])})" if len(field.keys) > 1 else ""


def missing_reasons(fields: tuple[Field, ...]) -> str:
    out = []
    for f in fields:
        if not f.required:
            continue
        if f.kind == TEXT:
            out.append(
                f"when {f.name}_j is null or ({f.name} is null and not {text_bad(f.name + '_j')}) "
                f"then 'missing_field: {f.name} is required{aliases_hint(f)} and was "
                f"' || case when {f.name}_j is null then 'absent' else 'empty' end "
            )
        else:
            out.append(
                f"when {f.name}_j is null then 'missing_field: {f.name} is required{aliases_hint(f)} and was absent' "
            )
    return "".join(out)


def invalid_text_reasons(fields: tuple[Field, ...]) -> str:
    return "".join(
        f"when {text_bad(f.name + '_j')} then 'invalid_field: {f.name} must be a string, got ' "
        f"|| {json_kind(f.name + '_j')} "
        for f in fields
        if f.kind == TEXT
    )


def timestamp_reasons(name: str) -> str:
    """Clock checks of `name` against its record's folder day, the column FOLDER_COLUMN (a
    batch of checks spans many folders)."""
    raw = f"{name}_j"
    latest = f"({FOLDER_COLUMN} + interval {FUTURE_SLACK_DAYS} day)"
    last_day = f"strftime({FOLDER_COLUMN} + interval {FUTURE_SLACK_DAYS - 1} day, '%Y-%m-%d')"
    return (
        f"when {name} is null then 'invalid_timestamp: {name} must be an RFC 3339 string with a "
        f"UTC offset (e.g. 2026-10-01T12:00:00Z or +02:00), got ' || {echo(raw)} "
        f"when {name} < timestamp '{EARLIEST_CALL}' then 'invalid_timestamp: {name} ' || "
        f"{echo(raw)} || ' is before {EARLIEST_CALL}, earlier than any LLM API; check the clock "
        f"or time unit of the writer' "
        f"when {name} >= {latest} then 'invalid_timestamp: {name} ' || {echo(raw)} || "
        f"' is after ' || {last_day} || ', the day after its folder; a file cannot hold events from the "
        f"future, check the clock of the writer' "
    )

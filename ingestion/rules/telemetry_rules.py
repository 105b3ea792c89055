"""Pass 2 for telemetry: type every field, apply its default and say why a record is refused.

One stage row per line of EXTRACTED; `reason` NULL means valid. The field list, types and
defaults come from `ingestion/fields.py`; the rules particular to a call (token arithmetic,
attempt, status) are here.
"""

from ingestion.fields import INTEGER, MONEY, NUMBER, TAGS, TELEMETRY_FIELDS, TEXT, TIMESTAMP, TOKEN_FIELDS
from ingestion.json_sql import (
    echo,
    integer_value,
    money_value,
    number_value,
    tag_entries,
    tags_json,
    text_value,
    timestamp_parts,
    timestamp_utc,
)
from ingestion.readers import EXTRACTED_BATCH
from ingestion.rules.record_checks import invalid_text_reasons, malformed_reason, missing_reasons, timestamp_reasons
from ingestion.warehouse import KEY_SQL


def telemetry_checks_sql() -> str:
    """Pass 2: one stage row per line of EXTRACTED_BATCH, typed with defaults, and `reason`."""
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
        f"non-negative integer, got ' || {echo(t + '_j')} "
        for t in TOKEN_FIELDS
    )
    cache_sum = "(coalesce(cache_read_input_tokens, 0)::hugeint + coalesce(cache_creation_input_tokens, 0))"
    reason = f"""
        case
            when pre_reason is not null then pre_reason
            {malformed_reason()}
            {missing_reasons(fields)}
            {invalid_text_reasons(fields)}
            {timestamp_reasons("started_at")}
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
                 || {echo("attempt_j")}
            when duration_ms_j is not null and not coalesce(isfinite(duration_ms) and duration_ms >= 0, false)
                 then 'invalid_number: duration_ms must be a non-negative number of milliseconds, got '
                 || {echo("duration_ms_j")}
            when cost_usd_j is not null and not coalesce(cost_usd >= 0, false)
                 then 'invalid_number: cost_usd must be a non-negative dollar amount below 10^12 '
                 || '(a number or a decimal string), got ' || {echo("cost_usd_j")}
            when status is not null and lower(status) not in ('ok', 'error')
                 then 'unknown_status: status must be ok or error, got "' || {echo("status")} || '"'
        end"""
    stored = ",\n           ".join(
        f"{tags_json('_tag_entries')} as tags" if f.kind == TAGS else f"{f.stored_sql} as {f.name}" for f in fields
    )
    return f"""
    with typed as (
        select *,
               {typed_sql}
        from {EXTRACTED_BATCH}
    )
    select file_seq, source_line, sub_seq, is_blank,
           {stored},
           case when not is_blank then {reason} end as reason,
           left(call_id, 200) as record_key,
           {KEY_SQL.format("call_id")} as call_key,
           {KEY_SQL.format("request_id")} as request_key
    from typed
    """

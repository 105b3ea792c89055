"""Pass 2 for outcomes: one stage row per line of EXTRACTED_BATCH; `value` as its stored text.

The kinds and their allowed values are `fields.OUTCOME_VALUES`.
"""

from ingestion.fields import OUTCOME_FIELDS, OUTCOME_VALUES, TEXT
from ingestion.json_sql import echo, number_value, sql_str, text_value, timestamp_parts, timestamp_utc
from ingestion.readers import EXTRACTED_BATCH
from ingestion.rules.record_checks import invalid_text_reasons, malformed_reason, missing_reasons, timestamp_reasons


def outcome_checks_sql() -> str:
    """Pass 2 for outcomes: one stage row per line of EXTRACTED_BATCH; `value` as its stored text."""
    fields = OUTCOME_FIELDS
    eval_num = number_value("value_j")
    value_text = text_value("value_j")
    thumbs = ", ".join(sql_str(v) for v in OUTCOME_VALUES["thumbs"])
    resolution = ", ".join(sql_str(v) for v in OUTCOME_VALUES["resolution"])
    reason = f"""
        case
            when pre_reason is not null then pre_reason
            {malformed_reason()}
            {missing_reasons(tuple(f for f in fields if f.name != "value"))}
            when value_j is null then 'missing_field: value is required and was absent'
            {invalid_text_reasons(tuple(f for f in fields if f.kind == TEXT))}
            {timestamp_reasons("recorded_at")}
            when kind not in ('thumbs', 'resolution', 'eval') then 'unknown_kind: kind must be '
                 || 'thumbs, resolution or eval, got "' || {echo("kind")} || '"'
            when kind = 'thumbs' and coalesce(lower({value_text}) not in ({thumbs}), true) then
                 'invalid_value: a thumbs value must be up or down, got ' || {echo("value_j")}
            when kind = 'resolution' and coalesce(lower({value_text}) not in ({resolution}), true) then
                 'invalid_value: a resolution value must be resolved or unresolved, got '
                 || {echo("value_j")}
            when kind = 'eval' and not coalesce(isfinite({eval_num}) and {eval_num} between 0 and 1, false)
                 then 'invalid_value: an eval value must be a JSON number from 0 to 1, got '
                 || {echo("value_j")}
        end"""
    return f"""
    with typed as (
        select *,
               {text_value("request_id_j")} as request_id,
               {timestamp_utc(timestamp_parts("recorded_at_j"))} as recorded_at,
               lower({text_value("kind_j")}) as kind,
               {text_value("source_j")} as source
        from {EXTRACTED_BATCH}
    )
    select file_seq, source_line, sub_seq, is_blank, request_id, recorded_at, kind,
           case when kind = 'eval' then {eval_num}::varchar else lower({value_text}) end as value,
           source,
           case when not is_blank then {reason} end as reason,
           left(request_id, 200) as record_key
    from typed
    """

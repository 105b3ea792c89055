"""Pass 2 for outcomes: one stage row per line of EXTRACTED_BATCH; `value` as its stored text.

The kinds and their allowed values are `fields.OUTCOME_KINDS` / `fields.OUTCOME_VALUES`.
Money (`value_usd`, a `revenue` amount) is read exactly by `json_sql.money_value`, as a
telemetry `cost_usd` is: a JSON number or a decimal string, never through a float.
"""

from ingestion.fields import OUTCOME_FIELDS, OUTCOME_KINDS, OUTCOME_VALUES, TEXT
from ingestion.json_sql import echo, money_value, number_value, sql_str, text_value, timestamp_parts, timestamp_utc
from ingestion.readers import EXTRACTED_BATCH
from ingestion.rules.record_checks import invalid_text_reasons, malformed_reason, missing_reasons, timestamp_reasons


def outcome_checks_sql() -> str:
    """Pass 2 for outcomes: one stage row per line of EXTRACTED_BATCH; `value` as its stored text."""
    fields = OUTCOME_FIELDS
    eval_num = number_value("value_j")
    value_text = text_value("value_j")
    thumbs = ", ".join(sql_str(v) for v in OUTCOME_VALUES["thumbs"])
    resolution = ", ".join(sql_str(v) for v in OUTCOME_VALUES["resolution"])
    kinds = ", ".join(sql_str(k) for k in OUTCOME_KINDS)
    kinds_text = ", ".join(OUTCOME_KINDS[:-1]) + " or " + OUTCOME_KINDS[-1]
    amount = money_value("value_j")
    value_usd = money_value("value_usd_j")
    reason = f"""
        case
            when pre_reason is not null then pre_reason
            {malformed_reason()}
            {missing_reasons(tuple(f for f in fields if f.name != "value"))}
            when value_j is null then 'missing_field: value is required and was absent'
            {invalid_text_reasons(tuple(f for f in fields if f.kind == TEXT))}
            {timestamp_reasons("recorded_at")}
            when kind not in ({kinds}) then 'unknown_kind: kind must be '
                 || '{kinds_text}, got "' || {echo("kind")} || '"'
            when kind = 'thumbs' and coalesce(lower({value_text}) not in ({thumbs}), true) then
                 'invalid_value: a thumbs value must be up or down, got ' || {echo("value_j")}
            when kind = 'resolution' and coalesce(lower({value_text}) not in ({resolution}), true) then
                 'invalid_value: a resolution value must be resolved or unresolved, got '
                 || {echo("value_j")}
            when kind = 'eval' and not coalesce(isfinite({eval_num}) and {eval_num} between 0 and 1, false)
                 then 'invalid_value: an eval value must be a JSON number from 0 to 1, got '
                 || {echo("value_j")}
            when kind = 'revenue' and not coalesce({amount} >= 0, false) then
                 'invalid_value: a revenue value must be a non-negative dollar amount below 10^12 '
                 || '(a number or a decimal string), got ' || {echo("value_j")}
            -- A revenue record's amount is its value; a second amount beside it would be ambiguous.
            when kind = 'revenue' and value_usd_j is not null then
                 'invalid_value_usd: a revenue record carries its amount in value, not value_usd'
            -- Value is read on resolutions only: silently dropping it elsewhere would hide money.
            when value_usd_j is not null and kind <> 'resolution' then
                 'invalid_value_usd: value_usd is read on resolution records only, got it on kind "'
                 || kind || '"'
            when value_usd_j is not null and not coalesce({value_usd} >= 0, false) then
                 'invalid_value_usd: value_usd must be a non-negative dollar amount below 10^12 '
                 || '(a number or a decimal string), got ' || {echo("value_usd_j")}
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
           case
               when kind = 'eval' then {eval_num}::varchar
               when kind = 'revenue' then {amount}::varchar
               else lower({value_text})
           end as value,
           source,
           case when kind = 'revenue' then {amount} else {value_usd} end as value_usd,
           case when not is_blank then {reason} end as reason,
           left(request_id, 200) as record_key
    from typed
    """

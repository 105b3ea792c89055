{{
    config(
        materialized='incremental',
        partition_by=costline_partition_by('day'),
        pre_hook="{{ costline_delete_requests_window() }}"
    )
}}
{#-
  One row per logical request, on the day of its first attempt (doc: request_rule), with its
  outcome (doc: outcome_rule). Rebuilds requests whose first attempt is in the window plus
  the re-opened ones; reads calls one day either side because retries cross midnight.
-#}
-- depends_on: {{ ref('int_requests_reopened') }}
{#- Built after int_calls_attributed, not beside it: two 10M-row builds at once compete for
    DuckDB's memory cap and spill (measured 31 s + 27 s side by side, 22 s + 17 s in turn). -#}
-- depends_on: {{ ref('int_calls_attributed') }}
{%- set incremental = is_incremental() -%}
{%- set reopened_days = costline_reopened_days() if incremental else [] -%}
{#- Outcomes are read from the day before the earliest day rebuilt (one day of clock skew). -#}
{%- set earliest_day = ([costline_start_day()] + reopened_days) | min %}

{#- The call columns a request is resolved from (window calls and their neighbours alike). -#}
{%- set request_call_columns = ['call_id', 'request_id', 'attempt', 'started_at', 'day', 'hour', 'month',
    'workspace', 'feature', 'provider', 'model', 'prompt_version', 'environment', 'user_segment', 'status'] %}

-- In a full build nothing is re-opened and `reopened` is unused; incremental runs read it.
with reopened as (  -- noqa: ST03

    {% if incremental -%}
    select request_id from {{ ref('int_requests_reopened') }}
    {%- else -%}
        select cast(null as {{ dbt.type_string() }}) as request_id
        where 1 = 0
    {%- endif %}

),

window_calls as (

    select {{ request_call_columns | join(', ') }}
    from {{ ref('stg_telemetry__calls') }}
    where {{ day_in_window('day', incremental) }}
    {%- for day in reopened_days %}
        or (
            day between {{ costline_date_literal(costline_shift_day(day, -1)) }}
                and {{ costline_date_literal(costline_shift_day(day, 1)) }}
            and request_id in (select request_id from reopened)
        )
    {%- endfor %}

),

neighbour_calls as (

    -- Retries cross midnight: the day before the window tells which of its requests began
    -- earlier, the day after holds late attempts. Only calls of requests seen in the window
    -- are read, so the ranking below sorts one day of calls, not three.
    {% if incremental and costline_has_window() -%}
    select {{ request_call_columns | join(', ') }}
    from {{ ref('stg_telemetry__calls') }}
    where (
            day = {{ costline_date_literal(costline_start_day(-1)) }}
            or day = {{ costline_date_literal(costline_end_day(1)) }}
        )
        and request_id in (select request_id from window_calls)
        and request_id not in (select request_id from reopened)
    {%- else -%}
        select * from window_calls
        where 1 = 0
    {%- endif %}

),

calls as (

    select * from window_calls
    union all
    select * from neighbour_calls

),

multi_call_requests as (

    -- Most requests are one call. Only those with more go through the ranking below: a window
    -- sort over every call of a 10M-call day costs ~5 s, this grouping ~1.5 s.
    select request_id
    from calls
    group by request_id
    having count(*) > 1

),

attempts as (

    select
        calls.*,
        1 as attempt_rank,
        1 as attempts,
        case when status = 'error' then 1 else 0 end as error_attempts,
        started_at as last_started_at
    from calls
    where request_id not in (select multi_call_requests.request_id from multi_call_requests)

    union all

    select
        calls.*,
        -- The first attempt is attempt 1; start time decides when attempt numbers are
        -- missing (all default to 1) or repeated.
        row_number() over (
            partition by request_id order by attempt, started_at, call_id
        ) as attempt_rank,
        count(*) over (partition by request_id) as attempts,
        sum(case when status = 'error' then 1 else 0 end) over (partition by request_id) as error_attempts,
        max(started_at) over (partition by request_id) as last_started_at
    from calls
    where request_id in (select multi_call_requests.request_id from multi_call_requests)

),

requests as (

    select
        request_id,
        call_id as first_call_id,
        started_at,
        day,
        hour,
        month,
        workspace,
        feature,
        provider,
        model,
        prompt_version,
        environment,
        user_segment,
        attempts,
        error_attempts,
        last_started_at
    from attempts
    where attempt_rank = 1
    {%- if incremental %}
        and (
            {{ day_in_window('day', true) }}
            or request_id in (select request_id from reopened)
        )
    {%- endif %}

),

outcomes as (

    select
        request_id,
        kind,
        value,
        eval_score,
        recorded_at,
        source_folder,
        source_file,
        source_line
    from {{ ref('stg_telemetry__outcomes') }}
    where request_id in (select requests.request_id from requests)
        {%- if incremental %}
        -- Outcomes follow their request; one day of clock skew is tolerated.
        and recorded_at >= {{ costline_timestamp_literal(costline_shift_day(earliest_day, -1)) }}
    {%- endif %}
        and (
            (kind = 'resolution' and value in ('resolved', 'unresolved'))
            or (kind = 'thumbs' and value in ('up', 'down'))
            or (kind = 'eval' and eval_score between 0 and 1)
        )

),

ranked_outcomes as (

    select
        outcomes.*,
        row_number() over (
            partition by request_id
            order by
                case kind when 'resolution' then 1 when 'thumbs' then 2 else 3 end,
                recorded_at desc,
                source_folder desc,
                source_file desc,
                source_line desc
        ) as precedence_rank
    from outcomes

),

resolved_outcomes as (

    select
        request_id,
        kind as outcome_kind,
        value as outcome_value,
        recorded_at as outcome_recorded_at,
        case
            when kind = 'resolution' then case when value = 'resolved' then 'success' else 'failure' end
            when kind = 'thumbs' then case when value = 'up' then 'success' else 'failure' end
            when eval_score >= {{ var('success_eval_threshold') }} then 'success'
            else 'failure'
        end as outcome
    from ranked_outcomes
    where precedence_rank = 1

)

select
    requests.request_id,
    requests.first_call_id,
    requests.started_at,
    requests.day,
    requests.hour,
    requests.month,
    requests.workspace,
    requests.feature,
    requests.provider,
    requests.model,
    requests.prompt_version,
    requests.environment,
    requests.user_segment,
    requests.attempts,
    requests.error_attempts,
    requests.last_started_at,
    coalesce(resolved_outcomes.outcome, 'unknown') as outcome,
    resolved_outcomes.outcome_kind,
    resolved_outcomes.outcome_value,
    resolved_outcomes.outcome_recorded_at,
    coalesce(resolved_outcomes.outcome = 'success', false) as is_success,
    coalesce(resolved_outcomes.outcome = 'failure', false) as is_failure,
    resolved_outcomes.outcome is not null as is_labelled
from requests
left join resolved_outcomes
    on resolved_outcomes.request_id = requests.request_id

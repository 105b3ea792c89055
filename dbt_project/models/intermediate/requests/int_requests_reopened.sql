{#-
  Requests of days before the run window that this run's inputs change: an outcome recorded
  or loaded in the window, or a retry (attempt > 1) started in it. int_requests_resolved
  rebuilds them by request_id and the aggregates re-sum their days, so a resolution that
  arrives two days late still counts on the request's own day. Looks back
  late_arrival_lookback_days; empty without a window, on a first build or a full refresh
  (every day is rebuilt then anyway).
-#}
-- depends_on: {{ ref('stg_telemetry__outcomes') }}
-- depends_on: {{ ref('stg_telemetry__calls') }}
{%- set previous = none -%}
{%- if execute and costline_has_window() and not flags.FULL_REFRESH -%}
    {%- set previous = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='int_requests_resolved') -%}
{%- endif -%}
{%- set lookback = var('late_arrival_lookback_days') | int -%}

{%- if previous is none %}

    select
        cast(null as {{ dbt.type_string() }}) as request_id,
        cast(null as date) as previous_day,
        cast(null as {{ dbt.type_string() }}) as reason
    where 1 = 0

{%- else %}

with late_outcomes as (

    -- Two range scans rather than one OR, so each can skip row groups by min/max.
    select request_id, 'outcome arrived later' as reason
    from {{ ref('stg_telemetry__outcomes') }}
    where {{ day_in_window('source_folder', true) }}

    union

    select request_id, 'outcome arrived later' as reason
    from {{ ref('stg_telemetry__outcomes') }}
    where {{ started_in_window('recorded_at', true) }}

),

late_attempts as (

    select distinct request_id, 'retry started later' as reason
    from {{ ref('stg_telemetry__calls') }}
    where {{ started_in_window('started_at', true) }}
        and attempt > 1

),

candidates as (

    select * from late_outcomes
    union all
    select * from late_attempts

),

previous_requests as (

    select request_id, day
    from {{ previous }}
    where day between {{ costline_date_literal(costline_start_day(-lookback)) }}
        and {{ costline_date_literal(costline_start_day(-1)) }}

)

select
    previous_requests.request_id,
    previous_requests.day as previous_day,
    min(candidates.reason) as reason
from previous_requests
inner join candidates
    on candidates.request_id = previous_requests.request_id
group by previous_requests.request_id, previous_requests.day

{%- endif %}

{#-
  Each change of a feature's model or prompt version, with its cost per success over equal
  windows before and after (doc: realised_savings_rule). Thresholds: vars
  realised_savings_dominant_share, realised_savings_window_days, realised_savings_min_successes.
-#}
{%- set share = var('realised_savings_dominant_share') %}
{%- set window_days = var('realised_savings_window_days') %}
{%- set min_successes = var('realised_savings_min_successes') %}

with feature_days as (

    select
        day,
        feature,
        sum(cost_usd) as cost_usd,
        sum(successful_requests) as successful_requests,
        sum(requests) as requests
    from {{ ref('int_spend_hourly') }}
    where feature <> '(unattributed)'
    group by day, feature

),

subject_days as (

    select day, feature, 'model' as change_kind, model as subject, sum(requests) as requests
    from {{ ref('int_spend_hourly') }}
    where feature <> '(unattributed)'
    group by day, feature, model
    union all
    select day, feature, 'prompt_version' as change_kind, prompt_version as subject, sum(requests) as requests
    from {{ ref('int_spend_hourly') }}
    where feature <> '(unattributed)' and prompt_version is not null
    group by day, feature, prompt_version

),

dominant_days as (

    -- The day's model (prompt version) of the feature: the one carrying at least the dominant
    -- share of its requests, compared exactly. A mixed day (a canary, a half-day switch) has none.
    select subject_days.day, subject_days.feature, subject_days.change_kind, subject_days.subject
    from subject_days
    inner join feature_days
        on feature_days.day = subject_days.day
            and feature_days.feature = subject_days.feature
    where feature_days.requests > 0
        and cast(subject_days.requests as decimal(38, 6))
        >= cast({{ share }} as decimal(9, 6)) * feature_days.requests

),

sequenced as (

    select
        day,
        feature,
        change_kind,
        subject,
        lag(subject) over (partition by feature, change_kind order by day) as previous_subject
    from dominant_days

),

changes as (

    select
        day as changed_day,
        feature,
        change_kind,
        previous_subject as changed_from,
        subject as changed_to,
        -- The change before and after this one bound its windows: a window never spans two changes.
        lag(day) over (partition by feature, change_kind order by day) as previous_changed_day,
        lead(day) over (partition by feature, change_kind order by day) as next_changed_day
    from sequenced
    where previous_subject is not null and subject <> previous_subject

),

feature_spans as (

    select feature, min(day) as first_day, max(day) as last_day
    from feature_days
    group by feature

),

bounds as (

    select
        changes.*,
        feature_spans.first_day,
        {{ dbt.dateadd('day', 1, 'feature_spans.last_day') }} as day_after_last
    from changes
    inner join feature_spans
        on feature_spans.feature = changes.feature

),

windows as (

    -- Equal windows: realised_savings_window_days, fewer when the feature's history, the data,
    -- or the neighbouring change leaves less room on either side.
    select
        bounds.*,
        least(
            {{ window_days }},
            {{ dbt.datediff('coalesce(previous_changed_day, first_day)', 'changed_day', 'day') }},
            {{ dbt.datediff('changed_day', 'coalesce(next_changed_day, day_after_last)', 'day') }}
        ) as window_days
    from bounds

),

measured as (

    select
        windows.feature,
        windows.change_kind,
        windows.changed_from,
        windows.changed_to,
        windows.changed_day,
        windows.next_changed_day,
        windows.window_days,
        -- Cast to the money scale: Postgres keeps a sum over `else 0` at the scale it meets.
        cast(
            sum(case when feature_days.day < windows.changed_day then feature_days.cost_usd else 0 end)
            as decimal(18, 6)
        ) as cost_before_usd,
        sum(case when feature_days.day < windows.changed_day then feature_days.successful_requests else 0 end)
            as successes_before,
        cast(
            sum(case when feature_days.day >= windows.changed_day then feature_days.cost_usd else 0 end)
            as decimal(18, 6)
        ) as cost_after_usd,
        sum(case when feature_days.day >= windows.changed_day then feature_days.successful_requests else 0 end)
            as successes_after
    from windows
    inner join feature_days
        on feature_days.feature = windows.feature
            and feature_days.day >= {{ dbt.dateadd('day', '-1 * windows.window_days', 'windows.changed_day') }}
            and feature_days.day < {{ dbt.dateadd('day', 'windows.window_days', 'windows.changed_day') }}
    where windows.window_days > 0
    group by
        windows.feature, windows.change_kind, windows.changed_from, windows.changed_to,
        windows.changed_day, windows.next_changed_day, windows.window_days

)

select *
from measured
where successes_before >= {{ min_successes }}
    and successes_after >= {{ min_successes }}

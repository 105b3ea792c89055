{#-
  What each measured change of a feature's model or prompt version saved (or cost) per month,
  from its day until the feature's next change (doc: realised_savings_rule). The potential
  savings of the same month are model_comparison's.
-#}
with feature_days as (

    select
        day,
        month,
        feature,
        sum(successful_requests) as successful_requests
    from {{ ref('daily_spend') }}
    where feature <> '(unattributed)'
    group by day, month, feature

),

monthly as (

    select
        feature_days.month,
        changes.feature,
        changes.change_kind,
        changes.changed_from,
        changes.changed_to,
        changes.changed_day,
        changes.window_days,
        changes.cost_before_usd,
        changes.successes_before,
        changes.cost_after_usd,
        changes.successes_after,
        sum(feature_days.successful_requests) as successful_requests
    from {{ ref('int_feature_changes_measured') }} as changes
    inner join feature_days
        on feature_days.feature = changes.feature
            and feature_days.day >= changes.changed_day
            and (changes.next_changed_day is null or feature_days.day < changes.next_changed_day)
    group by
        feature_days.month, changes.feature, changes.change_kind, changes.changed_from, changes.changed_to,
        changes.changed_day, changes.window_days, changes.cost_before_usd, changes.successes_before,
        changes.cost_after_usd, changes.successes_after

)

select
    cast(month as {{ dbt.type_string() }}) as month,
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(change_kind as {{ dbt.type_string() }}) as change_kind,
    cast(changed_from as {{ dbt.type_string() }}) as changed_from,
    cast(changed_to as {{ dbt.type_string() }}) as changed_to,
    cast(changed_day as date) as changed_at,
    cast(window_days as integer) as window_days,
    cast(cost_before_usd as decimal(18, 6)) as cost_before_usd,
    cast(successes_before as bigint) as successes_before,
    cast(cost_after_usd as decimal(18, 6)) as cost_after_usd,
    cast(successes_after as bigint) as successes_after,
    {{ costline_money_ratio('cost_before_usd', 'successes_before') }} as cost_per_success_before_usd,
    {{ costline_money_ratio('cost_after_usd', 'successes_after') }} as cost_per_success_after_usd,
    cast(successful_requests as bigint) as successful_requests,
    -- (before - after cost per success) x the month's successes since the change, as one exact
    -- fraction (cost_before x successes_after - cost_after x successes_before) x n
    -- / (successes_before x successes_after), rounded once to the micro-dollar.
    coalesce({{ costline_money_ratio(
        '(cost_before_usd * successes_after - cost_after_usd * successes_before) * successful_requests',
        'successes_before * successes_after') }}, cast(0 as decimal(18, 6))) as saving_usd
from monthly

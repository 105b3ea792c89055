{#-
  The daily cost-per-success trend per feature (the report's line chart). Like
  feature_results_monthly, billed money with no calls is left out: it has no outcomes.
-#}
with daily as (

    select
        day,
        month,
        feature,
        sum(cost_usd) as cost_usd,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests
    from {{ ref('daily_spend') }}
    where feature <> '(unattributed)'
    group by day, month, feature

)

select
    cast(day as date) as day,
    cast(month as {{ dbt.type_string() }}) as month,
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    cast(requests as bigint) as requests,
    cast(successful_requests as bigint) as successful_requests,
    {{ costline_money_ratio('cost_usd', 'successful_requests') }} as cost_per_success_usd
from daily

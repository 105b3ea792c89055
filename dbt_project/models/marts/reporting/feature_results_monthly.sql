{#-
  What one result of a feature cost in a month: the report's cost-per-result cards. Billed
  money with no calls (feature '(unattributed)') has no outcomes, so it is left out here; it
  is in every spend total.
-#}
with monthly as (

    select
        month,
        feature,
        sum(cost_usd) as cost_usd,
        sum(api_calls) as api_calls,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests
    from {{ ref('daily_spend') }}
    where feature <> '(unattributed)'
    group by month, feature

)

select
    cast(month as {{ dbt.type_string() }}) as month,
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    cast(api_calls as bigint) as api_calls,
    cast(requests as bigint) as requests,
    cast(successful_requests as bigint) as successful_requests,
    {{ costline_money_ratio('cost_usd', 'successful_requests') }} as cost_per_success_usd
from monthly

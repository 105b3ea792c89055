{#-
  The month's value per dollar and its savings, realised and potential, for the executive view
  (the report's value section). Kept beside executive_summary rather than in it.
-#}
with spend as (

    select month, sum(cost_usd) as spend_usd
    from {{ ref('daily_spend') }}
    group by month

),

valued as (

    select month, sum(valued_requests) as valued_requests, sum(value_usd) as value_usd
    from {{ ref('value_monthly') }}
    group by month

),

realised as (

    select month, sum(saving_usd) as realised_savings_usd
    from {{ ref('realised_savings') }}
    group by month

),

potential as (

    select month, sum(potential_savings_usd) as potential_savings_usd
    from {{ ref('model_comparison') }}
    group by month

)

select
    cast(spend.month as {{ dbt.type_string() }}) as month,
    cast(spend.spend_usd as decimal(18, 6)) as spend_usd,
    cast(coalesce(valued.valued_requests, 0) as bigint) as valued_requests,
    cast(coalesce(valued.value_usd, 0) as decimal(18, 6)) as value_usd,
    -- "Value generated per dollar spent": every dollar of the month, not only the valued features'.
    case
        when coalesce(valued.valued_requests, 0) > 0
            then {{ costline_fraction('valued.value_usd', 'spend.spend_usd') }}
    end as value_per_dollar,
    cast(coalesce(realised.realised_savings_usd, 0) as decimal(18, 6)) as realised_savings_usd,
    cast(coalesce(potential.potential_savings_usd, 0) as decimal(18, 6)) as potential_savings_usd
from spend
left join valued on valued.month = spend.month
left join realised on realised.month = spend.month
left join potential on potential.month = spend.month

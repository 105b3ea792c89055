{#- Where a month's money went, by the model that answered (the report's model chart). -#}
with monthly as (

    select
        month,
        provider,
        model,
        sum(cost_usd) as cost_usd,
        sum(api_calls) as api_calls
    from {{ ref('daily_spend') }}
    group by month, provider, model

)

select
    cast(month as {{ dbt.type_string() }}) as month,
    cast(provider as {{ dbt.type_string() }}) as provider,
    cast(model as {{ dbt.type_string() }}) as model,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    cast(api_calls as bigint) as api_calls
from monthly

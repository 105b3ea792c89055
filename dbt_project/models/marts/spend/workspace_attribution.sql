with monthly as (

    select
        month,
        workspace,
        sum(cost_usd) as cost_usd,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(unattributed_cost_usd) as unattributed_cost_usd,
        sum(credits_usd) as credits_usd,
        sum(api_calls) as api_calls,
        sum(requests) as requests
    from {{ ref('daily_spend') }}
    group by month, workspace

),

with_totals as (

    select
        monthly.*,
        sum(cost_usd) over (partition by month) as month_cost_usd
    from monthly

)

select
    cast(month as {{ dbt.type_string() }}) as month,
    cast(workspace as {{ dbt.type_string() }}) as workspace,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    {{ costline_fraction('cost_usd', 'month_cost_usd') }} as share_pct,
    cast(billed_cost_usd as decimal(18, 6)) as billed_cost_usd,
    cast(estimated_cost_usd as decimal(18, 6)) as estimated_cost_usd,
    cast(unattributed_cost_usd as decimal(18, 6)) as unattributed_cost_usd,
    cast(api_calls as bigint) as api_calls,
    cast(requests as bigint) as requests,
    -- The workspace's share of the month's credits (doc: credit_rule), and its net cost.
    cast(credits_usd as decimal(18, 6)) as credits_usd,
    cast(cost_usd + credits_usd as decimal(18, 6)) as net_cost_usd
from with_totals

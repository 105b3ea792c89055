{#-
  One line per workspace over every loaded day (what `costline demo` prints), with its budget
  as of the latest loaded month.
-#}
with totals as (

    select
        workspace,
        min(day) as first_day,
        max(day) as last_day,
        sum(cost_usd) as cost_usd,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests,
        sum(retry_cost_usd) as retry_cost_usd
    from {{ ref('daily_spend') }}
    group by workspace

),

latest_budget as (

    select
        workspace,
        month,
        consumed_pct,
        status,
        row_number() over (partition by workspace order by month desc) as newest
    from {{ ref('budget_month_status') }}

)

select
    cast(totals.workspace as {{ dbt.type_string() }}) as workspace,
    cast(totals.first_day as date) as first_day,
    cast(totals.last_day as date) as last_day,
    cast(totals.cost_usd as decimal(18, 6)) as cost_usd,
    cast(totals.requests as bigint) as requests,
    cast(totals.successful_requests as bigint) as successful_requests,
    {{ costline_money_ratio('totals.cost_usd', 'totals.requests') }} as avg_cost_per_request_usd,
    {{ costline_money_ratio('totals.cost_usd', 'totals.successful_requests') }} as cost_per_success_usd,
    cast(totals.retry_cost_usd as decimal(18, 6)) as retry_cost_usd,
    {{ costline_fraction('totals.retry_cost_usd', 'totals.cost_usd') }} as retry_cost_share,
    cast(latest_budget.month as {{ dbt.type_string() }}) as budget_month,
    cast(latest_budget.consumed_pct as {{ costline_type_double() }}) as budget_consumed_pct,
    cast(latest_budget.status as {{ dbt.type_string() }}) as budget_status
from totals
left join latest_budget
    on latest_budget.workspace = totals.workspace
        and latest_budget.newest = 1

with spend as (

    select
        month,
        sum(cost_usd) as spend_usd,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(api_calls) as api_calls,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests,
        sum(labelled_requests) as labelled_requests,
        sum(retry_cost_usd) as retry_cost_usd,
        sum(credits_usd) as credits_usd,
        max(day) as last_loaded_day
    from {{ ref('daily_spend') }}
    group by month

),

budgets as (

    -- One budget per workspace and month (budget_burn already chose the most specific row).
    select month, sum(monthly_budget_usd) as budget_usd
    from (
        select distinct workspace, month, monthly_budget_usd
        from {{ ref('budget_burn') }}
    ) as workspace_budgets
    group by month

),

anomalies as (

    select month, count(*) as anomalies
    from {{ ref('cost_anomalies') }}
    group by month

),

savings as (

    select month, sum(potential_savings_usd) as savings_opportunity_usd
    from {{ ref('model_comparison') }}
    group by month

),

joined as (

    select
        spend.*,
        {{ costline_day_of_month('spend.last_loaded_day') }} as last_loaded_day_of_month,
        {{ costline_days_in_month('spend.last_loaded_day') }} as days_in_month,
        budgets.budget_usd,
        coalesce(anomalies.anomalies, 0) as anomalies,
        coalesce(savings.savings_opportunity_usd, 0) as savings_opportunity_usd
    from spend
    left join budgets on budgets.month = spend.month
    left join anomalies on anomalies.month = spend.month
    left join savings on savings.month = spend.month

)

select
    cast(month as {{ dbt.type_string() }}) as month,
    cast(last_loaded_day as date) as last_loaded_day,
    cast(spend_usd as decimal(18, 6)) as spend_usd,
    cast(estimated_cost_usd as decimal(18, 6)) as estimated_cost_usd,
    cast(billed_cost_usd as decimal(18, 6)) as billed_cost_usd,
    cast(budget_usd as decimal(18, 6)) as budget_usd,
    {{ costline_fraction('spend_usd', 'budget_usd') }} as consumed_pct,
    {{ costline_money_ratio('spend_usd * days_in_month', 'last_loaded_day_of_month') }} as projected_month_end_usd,
    cast(api_calls as bigint) as api_calls,
    cast(requests as bigint) as requests,
    cast(successful_requests as bigint) as successful_requests,
    cast(labelled_requests as bigint) as labelled_requests,
    {{ costline_money_ratio('spend_usd', 'requests') }} as avg_cost_per_request_usd,
    {{ costline_money_ratio('spend_usd', 'successful_requests') }} as cost_per_success_usd,
    cast(retry_cost_usd as decimal(18, 6)) as retry_cost_usd,
    {{ costline_fraction('retry_cost_usd', 'spend_usd') }} as retry_cost_share,
    cast(anomalies as bigint) as anomalies,
    cast(savings_opportunity_usd as decimal(18, 6)) as savings_opportunity_usd,
    -- spend_usd is usage; a credit (doc: credit_rule) lowers the net, not the spend or its budget.
    cast(credits_usd as decimal(18, 6)) as credits_usd,
    cast(spend_usd + credits_usd as decimal(18, 6)) as net_spend_usd
from joined

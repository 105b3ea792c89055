-- focus_costs carries daily_spend's money: per day and provider, BilledCost sums to cost_usd
-- and ListCost to the estimate plus the billed money no call carries (which has no estimate),
-- to the micro-dollar.
with focus as (

    select
        cast({{ adapter.quote('ChargePeriodStart') }} as date) as day,
        {{ adapter.quote('x_Provider') }} as provider,
        sum({{ adapter.quote('BilledCost') }}) as billed_cost,
        sum({{ adapter.quote('ListCost') }}) as list_cost,
        sum({{ adapter.quote('x_ApiCalls') }}) as api_calls
    from {{ ref('focus_costs') }}
    where {{ costline_in_run_window(adapter.quote('ChargePeriodStart')) }}
    group by cast({{ adapter.quote('ChargePeriodStart') }} as date), {{ adapter.quote('x_Provider') }}

),

daily as (

    select
        day,
        provider,
        sum(cost_usd) as cost_usd,
        sum(estimated_cost_usd + unattributed_cost_usd) as list_cost,
        sum(api_calls) as api_calls
    from {{ ref('daily_spend') }}
    where {{ costline_in_run_window('day') }}
    group by day, provider

)

select
    coalesce(focus.day, daily.day) as day,
    coalesce(focus.provider, daily.provider) as provider,
    focus.billed_cost,
    daily.cost_usd,
    focus.list_cost,
    daily.list_cost as daily_list_cost
from focus
full outer join daily
    on daily.day = focus.day
        and daily.provider = focus.provider
where focus.billed_cost is distinct from daily.cost_usd
    or focus.list_cost is distinct from daily.list_cost
    or focus.api_calls is distinct from daily.api_calls

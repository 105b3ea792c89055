-- Without a bill for the provider-day, attributed cost is the estimate, call by call.
with bills as (

    select distinct day, provider
    from {{ ref('int_billing_lines') }}
    where {{ costline_in_run_window('day') }}

)

select
    daily_spend.day,
    daily_spend.provider,
    sum(daily_spend.cost_usd) as cost_usd,
    sum(daily_spend.estimated_cost_usd) as estimated_cost_usd
from {{ ref('daily_spend') }} as daily_spend
left join bills
    on bills.day = daily_spend.day
    and bills.provider = daily_spend.provider
where daily_spend.{{ costline_in_run_window('day') }}
    and bills.day is null
group by daily_spend.day, daily_spend.provider
having sum(daily_spend.cost_usd) <> sum(daily_spend.estimated_cost_usd)

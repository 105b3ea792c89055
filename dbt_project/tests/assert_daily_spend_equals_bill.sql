-- Where a provider's bill for a day is loaded, the marts carry exactly that much money for
-- the provider-day: every bill line went to calls or to an (unattributed) row, nothing else.
with bills as (

    select day, provider, sum(amount_usd) as billed_cost_usd
    from {{ ref('stg_billing__costs') }}
    where {{ costline_in_run_window('day') }}
    group by day, provider

),

marts as (

    select day, provider, sum(cost_usd) as cost_usd
    from {{ ref('daily_spend') }}
    where {{ costline_in_run_window('day') }}
    group by day, provider

)

select
    bills.day,
    bills.provider,
    bills.billed_cost_usd,
    marts.cost_usd as daily_spend_cost_usd
from bills
left join marts
    on marts.day = bills.day
    and marts.provider = bills.provider
where marts.cost_usd is null
    or marts.cost_usd <> bills.billed_cost_usd

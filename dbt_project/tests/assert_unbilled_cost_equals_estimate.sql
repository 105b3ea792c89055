-- Without a bill for the provider-day, attributed cost is the estimate, call by call; with
-- learned effective prices on (doc: effective_rate_rule), the calls a learned rate priced are
-- the exception (int_calls_attributed.effective_rate_basis names the rate).
-- depends_on: {{ ref('int_calls_attributed') }}
{%- if costline_effective_rates_enabled() %}
select call_id, day, provider, cost_usd, estimated_cost_usd
from {{ ref('int_calls_attributed') }}
where {{ costline_in_run_window('day') }}
    and not is_billed
    and effective_rate_basis is null
    and cost_usd <> estimated_cost_usd
{%- else %}
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
{%- endif %}
